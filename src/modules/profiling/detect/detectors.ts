/**
 * The sensitive-data detectors: a tag, a value test (validator first, shape second) and the
 * column-name hints that raise confidence. Names and addresses are not detected by value here.
 */
import { createRequire } from 'node:module';
import type { parsePhoneNumberFromString as ParsePhone } from 'libphonenumber-js';
import {
  dateYear,
  isAadhaar,
  isBirthDate,
  isCard,
  isEmail,
  isFrNir,
  isIban,
  isIpv4,
  isIpv6,
  isUkNino,
  isUsSsn,
} from './validators.ts';

export interface Detector {
  tag: string;
  /** True when one value is an instance (checked by its validator). */
  test(value: string): boolean;
  /** Column names that suggest this kind of data. */
  hint: RegExp;
  /** Found only when the column name hints at it (values alone are too common, e.g. dates). */
  nameRequired?: boolean;
  /** A check over the column's validated values together (e.g. birth dates span many years). */
  columnCheck?(hits: readonly string[]): boolean;
}

/**
 * Dates of birth: the name must say so (dob, birth, born, naissance, geburt …), the values must be
 * dates someone alive could be born on (not in the future, at most 120 years ago), and together
 * they must look like a population: at least 5 distinct years spanning at least 10 years (a
 * `dob` column of this year's record dates is not one).
 */
function birthDates(hits: readonly string[]): boolean {
  const years = new Set<number>();
  for (const h of hits) {
    const y = dateYear(h);
    if (y !== undefined) years.add(y);
  }
  if (years.size < 5) return false;
  return Math.max(...years) - Math.min(...years) >= 10;
}

let phoneParser: typeof ParsePhone | undefined;
/**
 * libphonenumber-js with its metadata (0.1–0.4 s to load on these machines) is loaded by the first
 * value that looks like a phone number, not by every start of the server.
 */
function parsePhone(): typeof ParsePhone {
  phoneParser ??= (createRequire(import.meta.url)('libphonenumber-js') as typeof import('libphonenumber-js'))
    .parsePhoneNumberFromString;
  return phoneParser;
}

/**
 * A phone number by value: parsed and valid for its country (libphonenumber-js), AND written like
 * a phone number — international (+…) or with separators. A bare run of digits (an order number,
 * an id) never counts by value alone.
 */
export function isPhone(v: string): boolean {
  if (v.length > 32 || !/^\+?[\d\s().-]{7,}$/.test(v)) return false;
  if (!v.startsWith('+') && !/[\s().-]/.test(v)) return false;
  const p = parsePhone()(v, { defaultCountry: 'US' });
  return p !== undefined && p.isValid();
}

export const DETECTORS: readonly Detector[] = [
  { tag: 'pii.email', test: isEmail, hint: /e-?mail/i },
  { tag: 'pii.card', test: isCard, hint: /card|\bpan\b|cc_?num|credit/i },
  { tag: 'pii.iban', test: isIban, hint: /iban|account/i },
  { tag: 'pii.ssn', test: isUsSsn, hint: /ssn|social/i },
  { tag: 'pii.aadhaar', test: isAadhaar, hint: /aadhaa?r|uidai/i },
  { tag: 'pii.phone', test: isPhone, hint: /phone|mobile|\btel\b|fax/i },
  { tag: 'pii.nino', test: isUkNino, hint: /\bnino\b|nat(ional)?_?ins(urance)?|\bni_?(no|num|number)\b/i },
  { tag: 'pii.nir', test: isFrNir, hint: /\bnir\b|insee|secu(rite)?_?sociale|num_?ss\b/i },
  {
    tag: 'pii.dob',
    test: (v) => isBirthDate(v),
    hint: /\bdob\b|birth|born|naissance|geburt|nacimiento/i,
    nameRequired: true,
    columnCheck: birthDates,
  },
  { tag: 'pii.ip', test: (v) => isIpv4(v) || isIpv6(v), hint: /\bip\b|ip_?addr|client_?ip|remote_?addr/i },
];
