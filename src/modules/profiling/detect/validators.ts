/**
 * Checksum and structure validators of sensitive identifiers. A value counts as a hit only when
 * its validator accepts it: regexes alone would match order numbers, versions and timestamps.
 * Pure functions over one string; nothing here keeps or logs a value.
 */
import { isIP } from 'node:net';

const digitsOf = (v: string): string => v.replace(/[\s-]/g, '');

/** Luhn (mod 10) over a digit string. */
export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Issuer prefixes and lengths of the major card networks. */
const ISSUERS: { prefix: RegExp; lengths: number[] }[] = [
  { prefix: /^4/, lengths: [13, 16, 19] }, // Visa
  { prefix: /^(5[1-5]|2(2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720))/, lengths: [16] }, // Mastercard
  { prefix: /^3[47]/, lengths: [15] }, // American Express
  { prefix: /^(6011|65|64[4-9])/, lengths: [16, 17, 18, 19] }, // Discover
  { prefix: /^35(2[89]|[3-8]\d)/, lengths: [16, 17, 18, 19] }, // JCB
  { prefix: /^(36|38|30[0-5])/, lengths: [14, 15, 16, 17, 18, 19] }, // Diners Club
  { prefix: /^62/, lengths: [16, 17, 18, 19] }, // UnionPay
];

/** A payment card number: 13–19 digits (spaces or dashes allowed), a known issuer prefix and length, Luhn. */
export function isCard(v: string): boolean {
  if (!/^\d[\d -]{11,22}\d$/.test(v)) return false;
  const d = digitsOf(v);
  if (!/^\d{13,19}$/.test(d)) return false;
  return ISSUERS.some((i) => i.prefix.test(d) && i.lengths.includes(d.length)) && luhn(d);
}

/** IBAN lengths per country (ISO 13616 registry, the countries most seen). */
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24,
  AT: 20,
  BE: 16,
  BG: 22,
  CH: 21,
  CY: 28,
  CZ: 24,
  DE: 22,
  DK: 18,
  EE: 20,
  ES: 24,
  FI: 18,
  FR: 27,
  GB: 22,
  GI: 23,
  GR: 27,
  HR: 21,
  HU: 28,
  IE: 22,
  IS: 26,
  IT: 27,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  MC: 27,
  MT: 31,
  NL: 18,
  NO: 15,
  PL: 28,
  PT: 25,
  RO: 24,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  TR: 26,
  AE: 23,
  SA: 24,
  IL: 23,
  BR: 29,
  QA: 29,
  UA: 29,
};

/** mod-97 of a numeric string of any length, in chunks (no bigint). */
function mod97(s: string): number {
  let r = 0;
  for (let i = 0; i < s.length; i += 7) r = Number(String(r) + s.slice(i, i + 7)) % 97;
  return r;
}

/** An IBAN: known country, its exact length, mod-97 = 1 (spaces allowed in groups of four). */
export function isIban(v: string): boolean {
  const s = v.replace(/ /g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$/.test(s)) return false;
  if (IBAN_LENGTHS[s.slice(0, 2)] !== s.length) return false;
  const moved = s.slice(4) + s.slice(0, 4);
  const numeric = moved.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  return mod97(numeric) === 1;
}

/** A US SSN written AAA-GG-SSSS: area not 000, 666 or 9xx; group not 00; serial not 0000. */
export function isUsSsn(v: string): boolean {
  const m = /^(\d{3})-(\d{2})-(\d{4})$/.exec(v);
  if (!m) return false;
  const [area, group, serial] = [m[1]!, m[2]!, m[3]!];
  return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
}

const VD = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VP = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
  [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
  [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
  [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/** Verhoeff check over a digit string (the check digit last). */
export function verhoeff(digits: string): boolean {
  let c = 0;
  for (let i = 0; i < digits.length; i += 1) {
    const d = digits.charCodeAt(digits.length - 1 - i) - 48;
    c = VD[c]![VP[i % 8]![d]!]!;
  }
  return c === 0;
}

/** An Indian Aadhaar number: 12 digits (or 4-4-4 with spaces), not starting with 0 or 1, Verhoeff. */
export function isAadhaar(v: string): boolean {
  if (!/^(\d{12}|\d{4} \d{4} \d{4})$/.test(v)) return false;
  const d = v.replace(/ /g, '');
  return /^[2-9]/.test(d) && verhoeff(d);
}

/** An e-mail address: one @, a dotted domain with a 2+ letter TLD, no spaces. */
export function isEmail(v: string): boolean {
  if (v.length > 254) return false;
  return /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}$/.test(
    v,
  );
}

export function isIpv4(v: string): boolean {
  return isIP(v) === 4;
}

/** IPv6 needs at least two colons: a time like 12:30 is not an address. */
export function isIpv6(v: string): boolean {
  return v.includes(':') && isIP(v) === 6;
}

/**
 * A UK National Insurance number: two prefix letters (not D F I Q U V; the second not O; not
 * BG GB KN NK NT TN ZZ), six digits, suffix A–D; contiguous or written `AB 12 34 56 C`.
 */
export function isUkNino(v: string): boolean {
  if (!/^[A-Z]{2}(\d{6}|( \d{2}){3} )[A-D]$/i.test(v)) return false;
  const s = v.replace(/ /g, '').toUpperCase();
  if (/^(BG|GB|KN|NK|NT|TN|ZZ)/.test(s)) return false;
  return /^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$/.test(s);
}

/**
 * A French NIR (numéro de sécurité sociale), 15 characters: sex (1 2, or 3 4 7 8 for provisional
 * numbers), year, month (01–12, or 20–42 and 50–99 for unknown or special months), department
 * (01–99, 2A/2B for Corsica), commune, order (not 000), and the key = 97 − (first 13 mod 97),
 * with 2A read as 19 and 2B as 18. Contiguous or in the usual groups separated by spaces.
 */
export function isFrNir(v: string): boolean {
  if (!/^[\d ABab]{15,21}$/.test(v)) return false;
  const s = v.replace(/ /g, '').toUpperCase();
  const m = /^([123478])(\d{2})(\d{2})(\d{2}|2A|2B)(\d{3})(\d{3})(\d{2})$/.exec(s);
  if (!m) return false;
  const month = Number(m[3]);
  if (!((month >= 1 && month <= 12) || (month >= 20 && month <= 42) || month >= 50)) return false;
  if (m[4] === '00' || m[6] === '000') return false;
  const dept = m[4] === '2A' ? '19' : m[4] === '2B' ? '18' : m[4]!;
  const body = BigInt(`${m[1]}${m[2]}${m[3]}${dept}${m[5]}${m[6]}`);
  const key = Number(m[7]);
  return key >= 1 && key <= 97 && 97 - Number(body % 97n) === key;
}

/** The year of a calendar date written ISO (time allowed), DD/MM/YYYY, MM/DD/YYYY, DD.MM.YYYY or YYYY/MM/DD; else undefined. */
export function dateYear(v: string): number | undefined {
  let y: number, a: number, b: number;
  let m = /^(\d{4})[-/](\d{2})[-/](\d{2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(v);
  if (m) [y, a, b] = [Number(m[1]), Number(m[2]), Number(m[3])];
  else {
    m = /^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$/.exec(v);
    if (!m) return undefined;
    const [p, q] = [Number(m[1]), Number(m[2])];
    y = Number(m[3]);
    // Month first when the first part cannot be a day-of-month ordering, else day first.
    [a, b] = p > 12 ? [q, p] : [p, q];
  }
  if (a < 1 || a > 12 || b < 1) return undefined;
  const days = new Date(Date.UTC(y, a, 0)).getUTCDate();
  return b <= days ? y : undefined;
}

/** A date that can be someone's date of birth today: a valid date, not in the future, at most 120 years ago. */
export function isBirthDate(v: string, now = new Date()): boolean {
  const y = dateYear(v);
  if (y === undefined) return false;
  const thisYear = now.getUTCFullYear();
  if (y < thisYear - 120 || y > thisYear) return false;
  if (y === thisYear) {
    const iso = /^\d{4}/.test(v) ? v.slice(0, 10).replace(/\//g, '-') : undefined;
    if (iso && iso > now.toISOString().slice(0, 10)) return false;
  }
  return true;
}
