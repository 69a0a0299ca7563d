/**
 * TOTP (RFC 6238, SHA-1, 6 digits, 30 s; otplib) and recovery codes.
 * - The seed is barrier-sealed (context totp_secrets/sealed/<user id>); it is shown once at
 *   enrolment and never again.
 * - A code is accepted for the current step ±1; the matched step is then burnt (primary key
 *   user+step), so the same code — or any code of the same step — cannot be used twice, even by
 *   parallel requests.
 * - 10 recovery codes, shown once, stored as SHA-256; each is consumed by a conditional update.
 */
import { generateSecret, generateSync, generateURI } from 'otplib';
import type { Barrier } from '../../core/crypto/barrier.ts';
import { AppError } from '../../core/errors.ts';
import * as store from './identity.mfa.store.ts';
import type { Executor } from './identity.users.store.ts';
import { randomToken, safeEqual, sha256Hex } from './tokens-crypto.ts';

const STEP_SECONDS = 30;
const sealContext = (userId: string) => ({ table: 'totp_secrets', column: 'sealed', rowId: userId });
export type Sealer = Pick<Barrier, 'seal' | 'open'>;

/** Start (or restart, while unconfirmed) an enrolment; returns the secret and otpauth URI once. */
export async function startEnrolment(
  db: Executor,
  barrier: Sealer,
  userId: string,
  email: string,
): Promise<{ secret: string; uri: string }> {
  if ((await store.findTotp(db, userId))?.confirmedAt)
    throw new AppError('CONFLICT', { detail: 'MFA is already enrolled; reset it first (needs re-authentication).' });
  const secret = generateSecret({ length: 20 });
  await store.saveTotp(db, userId, barrier.seal(Buffer.from(secret, 'utf8'), sealContext(userId)));
  return { secret, uri: generateURI({ issuer: 'Strongroom', label: email, secret }) };
}

/** Check a TOTP code and burn its step. `confirmed` false allows the pending enrolment's seed. */
export async function verifyTotp(
  db: Executor,
  barrier: Sealer,
  userId: string,
  code: string,
  now: Date,
  confirmed = true,
): Promise<boolean> {
  if (!/^\d{6}$/.test(code)) return false;
  const row = await store.findTotp(db, userId);
  if (!row || (confirmed && !row.confirmedAt)) return false;
  const secret = barrier.open(Buffer.from(row.sealed), sealContext(userId)).toString('utf8');
  const current = Math.floor(now.getTime() / 1000 / STEP_SECONDS);
  let matched: number | undefined;
  for (const step of [current - 1, current, current + 1]) {
    if (safeEqual(generateSync({ secret, epoch: step * STEP_SECONDS }), code) && matched === undefined) matched = step;
  }
  return matched !== undefined && (await store.burnTotpStep(db, userId, matched));
}

/** Confirm enrolment with a first code; returns 10 fresh recovery codes (shown once). */
export async function confirmEnrolment(
  db: Executor,
  barrier: Sealer,
  userId: string,
  code: string,
  now: Date,
): Promise<string[] | undefined> {
  if (!(await verifyTotp(db, barrier, userId, code, now, false))) return undefined;
  await store.confirmTotp(db, userId, now);
  return replaceRecoveryCodes(db, userId);
}

/** 10 fresh recovery codes replacing every earlier one (used or not); returned once, stored hashed. */
export async function replaceRecoveryCodes(db: Executor, userId: string): Promise<string[]> {
  const codes = Array.from({ length: 10 }, () => randomToken(10).replace(/[-_]/g, 'x').slice(0, 12).toLowerCase());
  const pretty = codes.map((c) => `${c.slice(0, 4)}-${c.slice(4, 8)}-${c.slice(8, 12)}`);
  await store.replaceRecoveryCodes(db, userId, pretty.map(sha256Hex));
  return pretty;
}

/** Consume a recovery code; true only the first time. */
export function useRecoveryCode(db: Executor, userId: string, code: string, now: Date): Promise<boolean> {
  return store.consumeRecoveryCode(db, userId, sha256Hex(code.trim().toLowerCase()), now);
}

export const resetMfa = store.deleteMfa;
