/**
 * The sensitive-data detectors: a tag, a value test (validator first, shape second) and the
 * column-name hints that raise confidence. Names and addresses are not detected by value here.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { isAadhaar, isCard, isEmail, isIban, isIpv4, isIpv6, isUsSsn } from './validators.ts';

export interface Detector {
  tag: string;
  /** True when one value is an instance (checked by its validator). */
  test(value: string): boolean;
  /** Column names that suggest this kind of data. */
  hint: RegExp;
}

/**
 * A phone number by value: parsed and valid for its country (libphonenumber-js), AND written like
 * a phone number — international (+…) or with separators. A bare run of digits (an order number,
 * an id) never counts by value alone.
 */
export function isPhone(v: string): boolean {
  if (v.length > 32 || !/^\+?[\d\s().-]{7,}$/.test(v)) return false;
  if (!v.startsWith('+') && !/[\s().-]/.test(v)) return false;
  const p = parsePhoneNumberFromString(v, { defaultCountry: 'US' });
  return p !== undefined && p.isValid();
}

export const DETECTORS: readonly Detector[] = [
  { tag: 'pii.email', test: isEmail, hint: /e-?mail/i },
  { tag: 'pii.card', test: isCard, hint: /card|\bpan\b|cc_?num|credit/i },
  { tag: 'pii.iban', test: isIban, hint: /iban|account/i },
  { tag: 'pii.ssn', test: isUsSsn, hint: /ssn|social/i },
  { tag: 'pii.aadhaar', test: isAadhaar, hint: /aadhaa?r|uidai/i },
  { tag: 'pii.phone', test: isPhone, hint: /phone|mobile|\btel\b|fax/i },
  { tag: 'pii.ip', test: (v) => isIpv4(v) || isIpv6(v), hint: /\bip\b|ip_?addr|client_?ip|remote_?addr/i },
];
