/**
 * Canary values for the profiling leak tests: row `i` gets an email, a Luhn-valid card number, an
 * IBAN with a valid check, an SSN-shaped value and the same shape under a name that says nothing.
 * Every value is distinct per row and per kind, so any one found in output is a leak.
 */
export const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** `body` plus the one check digit that makes it pass the Luhn check. */
export function luhnComplete(body: string): string {
  for (let d = 0; d <= 9; d += 1) {
    const s = body + d;
    let sum = 0;
    for (let i = 0; i < s.length; i += 1) {
      let x = Number(s[s.length - 1 - i]);
      if (i % 2 === 1) x = x * 2 > 9 ? x * 2 - 9 : x * 2;
      sum += x;
    }
    if (sum % 10 === 0) return s;
  }
  throw new Error('unreachable');
}

/** A German IBAN with valid check digits. */
export function iban(i: number): string {
  const bban = `370400${String(4400000000 + i * 7919).padStart(12, '0')}`;
  const check = 98 - Number(BigInt(`${bban}131400`) % 97n);
  return `DE${String(check).padStart(2, '0')}${bban}`;
}

export const canaryValues = {
  email: (i: number) => `canary.${i}.x7q@leaktest-mail.org`,
  card: (i: number) => luhnComplete(`4${pad(917_203 + i * 37, 14)}`),
  iban,
  ssn: (i: number) => `${pad(101 + i, 3)}-${pad((i % 98) + 1, 2)}-${pad(4000 + i, 4)}`,
  ref: (i: number) => `${pad(301 + i, 3)}-${pad((i % 97) + 2, 2)}-${pad(7000 + i, 4)}`,
};
