/**
 * Detection quality on generated fixtures: positive columns per detector and hard negatives
 * (Luhn-invalid 16-digit numbers, phone-like order numbers, dates, bad IBAN check digits,
 * Verhoeff-invalid 12-digit ids, SSNs with forbidden areas, one valid card repeated). Prints
 * precision and recall per detector (column level) and requires ≥ 0.95 for each.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyColumn } from './classify.ts';
import { isAadhaar, isBirthDate, isCard, isFrNir, isIban, isUkNino, isUsSsn, luhn, verhoeff } from './validators.ts';
import { isPhone } from './detectors.ts';

let seed = 42;
const rnd = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
const digits = (n: number): string => Array.from({ length: n }, () => String(int(0, 9))).join('');
const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;

function withLuhn(body: string): string {
  for (let d = 0; d <= 9; d += 1) if (luhn(body + d)) return body + d;
  throw new Error('unreachable');
}
const card = (): string => {
  const [p, len] = pick([
    ['4', 16],
    ['51', 16],
    ['37', 15],
    ['6011', 16],
    ['3530', 16],
  ] as const);
  const n = withLuhn(p + digits(len - p.length - 1));
  return rnd() < 0.5 ? n : n.replace(/(\d{4})(?=\d)/g, '$1 ');
};
const badCard = (): string => {
  const n = card().replace(/ /g, '');
  const last = Number(n.at(-1));
  return n.slice(0, -1) + String((last + int(1, 9)) % 10);
};
const ibanCheck = (cc: string, bban: string): string => {
  const num = (bban + cc + '00').replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  return String(98 - Number(BigInt(num) % 97n)).padStart(2, '0');
};
const iban = (): string => {
  const [cc, len] = pick([
    ['DE', 22],
    ['FR', 27],
    ['NL', 18],
    ['GB', 22],
  ] as const);
  const bban = cc === 'NL' || cc === 'GB' ? 'ABCD' + digits(len - 8) : digits(len - 4);
  return cc + ibanCheck(cc, bban) + bban;
};
const badIban = (): string => {
  const s = iban();
  return s.slice(0, 2) + String((Number(s.slice(2, 4)) + int(1, 50)) % 100).padStart(2, '0') + s.slice(4);
};
const ssn = (): string =>
  `${String(int(1, 665)).padStart(3, '0')}-${String(int(1, 99)).padStart(2, '0')}-${String(int(1, 9999)).padStart(4, '0')}`;
const badSsn = (): string =>
  `${pick(['000', '666', String(int(900, 999))])}-${String(int(1, 99)).padStart(2, '0')}-${digits(4)}`;
const aadhaar = (): string => {
  const body = String(int(2, 9)) + digits(10);
  for (let d = 0; d <= 9; d += 1) if (verhoeff(body + d)) return body + d;
  throw new Error('unreachable');
};
const badAadhaar = (): string => {
  const a = aadhaar();
  return a.slice(0, -1) + String((Number(a.at(-1)) + int(1, 9)) % 10);
};
const email = (): string =>
  `${pick(['ana', 'li.wei', 'j_doe', 'max+news'])}${int(1, 9999)}@${pick(['example', 'mail', 'corp-x'])}.${pick(['com', 'org', 'de'])}`;
const phone = (): string =>
  pick([
    () => `(${pick([212, 415, 312, 617, 202])}) ${int(201, 989)}-${digits(4)}`,
    () => `+1 ${pick([212, 415, 312])}-${int(201, 989)}-${digits(4)}`,
    () => `+44 20 7${digits(3)} ${digits(4)}`,
  ])();
const ip = (): string =>
  rnd() < 0.7
    ? [int(1, 223), int(0, 255), int(0, 255), int(1, 254)].join('.')
    : Array.from({ length: 8 }, () => int(0, 65535).toString(16)).join(':');

const POSITIVE: Record<string, () => string> = {
  'pii.card': card,
  'pii.iban': iban,
  'pii.ssn': ssn,
  'pii.aadhaar': aadhaar,
  'pii.email': email,
  'pii.phone': phone,
  'pii.ip': ip,
};
const NEGATIVE: Record<string, () => string> = {
  luhnInvalid16: badCard,
  orderNo: () => `${int(1000000000, 9999999999)}`,
  orderNoDashed: () => `ORD-${digits(8)}`,
  date: () => `20${int(10, 29)}-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}`,
  time: () => `${int(0, 23)}:${String(int(0, 59)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}`,
  version: () => `${int(0, 20)}.${int(0, 99)}.${int(0, 99)}`,
  badIban,
  badSsn,
  badAadhaar,
  amount: () => (rnd() * 10000).toFixed(2),
  localEmail: () => `user${int(1, 99)}@localhost`,
  zip: () => `${int(10000, 99999)}-${digits(4)}`,
};

const column = (gen: () => string, n = 60): string[] => Array.from({ length: n }, () => (rnd() < 0.05 ? '' : gen()));

test('validators accept known-good and refuse known-bad values', () => {
  assert.equal(isCard('4111 1111 1111 1111'), true);
  assert.equal(isCard('4111 1111 1111 1112'), false);
  assert.equal(isCard('9111111111111111'), false, 'no issuer starts with 9');
  assert.equal(isIban('DE89 3704 0044 0532 0130 00'), true);
  assert.equal(isIban('DE88 3704 0044 0532 0130 00'), false);
  assert.equal(isUsSsn('123-45-6789'), true);
  assert.equal(isUsSsn('666-45-6789'), false);
  assert.equal(isUsSsn('123-00-6789'), false);
  assert.equal(isAadhaar('234123412346'), true);
  assert.equal(isAadhaar('234123412347'), false);
  assert.equal(isPhone('(212) 555-0100') || isPhone('+1 212-456-7890'), true);
  assert.equal(isPhone('4829301756'), false, 'bare digits are not a phone by value');
});

test('precision and recall per detector on generated fixtures (≥ 0.95 each)', () => {
  const stats = new Map<string, { tp: number; fp: number; fn: number }>();
  for (const tag of Object.keys(POSITIVE)) stats.set(tag, { tp: 0, fp: 0, fn: 0 });
  const names = ['col', 'value', 'data'];
  for (let round = 0; round < 40; round += 1) {
    for (const [tag, gen] of Object.entries(POSITIVE)) {
      const found = classifyColumn(pick(names), column(gen)).map((f) => f.tag);
      const s = stats.get(tag)!;
      if (found.includes(tag)) s.tp += 1;
      else s.fn += 1;
      for (const other of found) if (other !== tag) stats.get(other)!.fp += 1;
    }
    for (const gen of Object.values(NEGATIVE))
      for (const f of classifyColumn(pick(names), column(gen))) stats.get(f.tag)!.fp += 1;
    const valid = card();
    for (const f of classifyColumn(
      'card',
      column(() => valid),
    ))
      stats.get(f.tag)!.fp += 1;
  }
  const rows = [...stats.entries()].map(([tag, s]) => ({
    detector: tag,
    precision: s.tp + s.fp === 0 ? 1 : s.tp / (s.tp + s.fp),
    recall: s.tp / (s.tp + s.fn),
    tp: s.tp,
    fp: s.fp,
    fn: s.fn,
  }));
  console.log('detector      precision  recall  tp  fp  fn');
  for (const r of rows)
    console.log(
      `${r.detector.padEnd(13)} ${r.precision.toFixed(3).padStart(9)}  ${r.recall.toFixed(3).padStart(6)}  ${String(r.tp).padStart(2)}  ${String(r.fp).padStart(2)}  ${String(r.fn).padStart(2)}`,
    );
  for (const r of rows) {
    assert.ok(r.precision >= 0.95, `${r.detector} precision ${r.precision}`);
    assert.ok(r.recall >= 0.95, `${r.detector} recall ${r.recall}`);
  }
});

test('a finding carries the tag, counts and confidence, never a value', () => {
  const values = column(email);
  const [f] = classifyColumn('contact_email', values);
  assert.equal(f?.tag, 'pii.email');
  assert.equal(f?.nameHint, true);
  const text = JSON.stringify(f);
  for (const v of values) if (v) assert.ok(!text.includes(v));
});

test('a name hint alone (no validated values) is not a finding; mixed columns need the hint', () => {
  assert.deepEqual(
    classifyColumn(
      'email',
      column(() => 'n/a'),
    ),
    [],
  );
  const mixed = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 'unknown' : ssn()));
  assert.deepEqual(classifyColumn('notes', mixed), []);
  assert.equal(classifyColumn('ssn', mixed)[0]?.tag, 'pii.ssn');
});

const NINO_FIRST = 'ABCEGHJKLMNOPRSTWXYZ';
const NINO_SECOND = 'ABCEGHJKLMNPRSTWXYZ';
const nino = (): string => {
  let p = '';
  do p = pick([...NINO_FIRST]) + pick([...NINO_SECOND]);
  while (['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'].includes(p));
  const d = digits(6);
  const s = pick(['A', 'B', 'C', 'D']);
  return rnd() < 0.5 ? `${p}${d}${s}` : `${p} ${d.slice(0, 2)} ${d.slice(2, 4)} ${d.slice(4)} ${s}`;
};
const nir = (): string => {
  const dept = pick(['75', '13', '69', '2A', '2B', '33', '59']);
  const head = `${pick(['1', '2'])}${String(int(40, 99)).padStart(2, '0')}${String(int(1, 12)).padStart(2, '0')}`;
  const tail = `${String(int(1, 999)).padStart(3, '0')}${String(int(1, 999)).padStart(3, '0')}`;
  const num = BigInt(`${head}${dept === '2A' ? '19' : dept === '2B' ? '18' : dept}${tail}`);
  const key = String(97 - Number(num % 97n)).padStart(2, '0');
  const s = `${head}${dept}${tail}${key}`;
  return rnd() < 0.5
    ? s
    : `${s[0]} ${s.slice(1, 3)} ${s.slice(3, 5)} ${s.slice(5, 7)} ${s.slice(7, 10)} ${s.slice(10, 13)} ${s.slice(13)}`;
};
const badNir = (): string => {
  const s = nir().replace(/ /g, '');
  return s.slice(0, 13) + String((Number(s.slice(13)) % 97) + 1).padStart(2, '0');
};
const birth = (): string => {
  const y = int(1930, 2015);
  const [m, d] = [String(int(1, 12)).padStart(2, '0'), String(int(1, 28)).padStart(2, '0')];
  return pick([`${y}-${m}-${d}`, `${d}/${m}/${y}`, `${d}.${m}.${y}`]);
};

test('UK NINO, French NIR (key), dates of birth: validators', () => {
  assert.equal(isUkNino('AB123456C'), true);
  assert.equal(isUkNino('AB 12 34 56 C'), true);
  assert.equal(isUkNino('GB123456A'), false, 'GB is not an allocated prefix');
  assert.equal(isUkNino('DA123456A'), false, 'D is never a first letter');
  assert.equal(isUkNino('AO123456A'), false, 'O is never a second letter');
  assert.equal(isUkNino('AB123456E'), false, 'suffix is A–D');
  assert.equal(isFrNir('1 85 05 78 006 084 36'), false, 'wrong key');
  assert.equal(isFrNir('185057800608491'), true);
  assert.equal(isFrNir('185057800608490'), false);
  assert.equal(isFrNir('2850513000000'), false, 'no key');
  assert.equal(isFrNir('185052A00608435'), true, 'Corsica: 2A counts as 19');
  assert.equal(isFrNir('185052A00608491'), false);
  assert.equal(isFrNir('585057800608491'), false, 'sex digit');
  assert.equal(isFrNir('185157800608491'), false, 'month 15');
  assert.equal(isBirthDate('1984-02-29'), true);
  assert.equal(isBirthDate('1985-02-29'), false, 'not a leap year');
  assert.equal(isBirthDate('1850-01-01'), false, 'too long ago');
  assert.equal(isBirthDate(`${new Date().getUTCFullYear() + 1}-01-01`), false, 'in the future');
  assert.equal(isBirthDate('31/12/1970'), true);
});

test('NINO, NIR and DOB: true positives and false positives at column level', () => {
  const names = ['col', 'value', 'data'];
  let [tp, fn, fp] = [0, 0, 0];
  for (let round = 0; round < 40; round += 1) {
    for (const [tag, gen] of [
      ['pii.nino', nino],
      ['pii.nir', nir],
    ] as const) {
      const found = classifyColumn(pick(names), column(gen)).map((f) => f.tag);
      if (found.includes(tag)) tp += 1;
      else fn += 1;
      fp += found.filter((t) => t !== tag).length;
    }
    const dob = classifyColumn(pick(['date_of_birth', 'dob', 'birthdate', 'DateNaissance']), column(birth));
    if (dob.map((f) => f.tag).includes('pii.dob')) tp += 1;
    else fn += 1;
    // Hard negatives: bad NIR keys, NINO-like codes with bad prefixes, birth dates without the
    // name, a "dob" column of recent record dates, a "birth" column of future appointments.
    const negatives = [
      classifyColumn(pick(names), column(badNir)),
      classifyColumn(
        pick(names),
        column(() => `${pick(['GB', 'ZZ', 'DA'])}${digits(6)}${pick(['A', 'E', 'Z'])}`),
      ),
      classifyColumn(pick(['created', 'order_date', 'col']), column(birth)),
      classifyColumn(
        'dob',
        column(() => `202${int(4, 5)}-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}`),
      ),
      classifyColumn(
        'birth_visit',
        column(() => `${new Date().getUTCFullYear() + int(1, 5)}-0${int(1, 9)}-1${int(0, 9)}`),
      ),
    ];
    for (const n of negatives) fp += n.length;
  }
  console.log(`nino/nir/dob: tp ${tp} fn ${fn} fp ${fp}`);
  assert.ok(tp / (tp + fn) >= 0.95, `recall ${tp / (tp + fn)}`);
  assert.ok(tp / (tp + fp) >= 0.95, `precision ${tp / (tp + fp)}`);
});
