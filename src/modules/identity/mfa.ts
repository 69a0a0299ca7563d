/**
 * TOTP (RFC 6238, SHA-1, 6 digits, 30 s; otplib) and recovery codes.
 * - The seed is barrier-sealed (context totp_secrets/sealed/<user id>); it is shown once at
 *   enrolment and never again.
 * - A code is accepted for the current step ±1; the matched step is then inserted into
 *   totp_used_steps (primary key user+step), so the same code — or any code of the same step —
 *   cannot be used twice, even by parallel requests.
 * - 10 recovery codes, shown once, stored as SHA-256; each is consumed by a conditional update.
 */
import { generateSecret, generateSync, generateURI } from 'otplib';
import type { Barrier } from '../../core/crypto/barrier.ts';
import { AppError } from '../../core/errors.ts';
import type { Executor } from './deps.ts';
import { randomToken, safeEqual, sha256Hex } from './tokens-crypto.ts';

const STEP_SECONDS = 30;
const ctx = (userId: string) => ({ table: 'totp_secrets', column: 'sealed', rowId: userId });
type Sealer = Pick<Barrier, 'seal' | 'open'>;

/** Start (or restart, while unconfirmed) an enrolment; returns the secret and otpauth URI once. */
export async function startEnrolment(db: Executor, barrier: Sealer, userId: string, email: string): Promise<{ secret: string; uri: string }> {
  const existing = await db.selectFrom('totp_secrets').select('confirmed_at').where('user_id', '=', userId).executeTakeFirst();
  if (existing?.confirmed_at) throw new AppError('CONFLICT', { detail: 'MFA is already enrolled; reset it first (needs re-authentication).' });
  const secret = generateSecret({ length: 20 });
  const sealed = barrier.seal(Buffer.from(secret, 'utf8'), ctx(userId));
  await db.deleteFrom('totp_secrets').where('user_id', '=', userId).execute();
  await db.insertInto('totp_secrets').values({ user_id: userId, sealed, confirmed_at: null }).execute();
  return { secret, uri: generateURI({ issuer: 'Strongroom', label: email, secret }) };
}

/** Check a TOTP code and burn its step. `confirmed` false allows the pending enrolment's seed. */
export async function verifyTotp(db: Executor, barrier: Sealer, userId: string, code: string, now: Date, confirmed = true): Promise<boolean> {
  if (!/^\d{6}$/.test(code)) return false;
  const row = await db.selectFrom('totp_secrets').select(['sealed', 'confirmed_at']).where('user_id', '=', userId).executeTakeFirst();
  if (!row || (confirmed && !row.confirmed_at)) return false;
  const secret = barrier.open(Buffer.from(row.sealed), ctx(userId)).toString('utf8');
  const current = Math.floor(now.getTime() / 1000 / STEP_SECONDS);
  let matched: number | undefined;
  for (const step of [current - 1, current, current + 1]) {
    if (safeEqual(generateSync({ secret, epoch: step * STEP_SECONDS }), code) && matched === undefined) matched = step;
  }
  if (matched === undefined) return false;
  const burnt = await db
    .insertInto('totp_used_steps')
    .values({ user_id: userId, step: String(matched) })
    .onConflict((oc) => oc.doNothing())
    .returning('step')
    .execute();
  return burnt.length === 1; // zero rows: this step was already used (replay)
}

/** Confirm enrolment with a first code; returns 10 fresh recovery codes (shown once). */
export async function confirmEnrolment(db: Executor, barrier: Sealer, userId: string, code: string, now: Date): Promise<string[] | undefined> {
  if (!(await verifyTotp(db, barrier, userId, code, now, false))) return undefined;
  await db.updateTable('totp_secrets').set({ confirmed_at: now }).where('user_id', '=', userId).execute();
  await db.updateTable('users').set({ mfa_enabled: true, updated_at: now }).where('id', '=', userId).execute();
  return replaceRecoveryCodes(db, userId);
}

export async function replaceRecoveryCodes(db: Executor, userId: string): Promise<string[]> {
  await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  const codes = Array.from({ length: 10 }, () => randomToken(10).replace(/[-_]/g, 'x').slice(0, 12).toLowerCase());
  const pretty = codes.map((c) => `${c.slice(0, 4)}-${c.slice(4, 8)}-${c.slice(8, 12)}`);
  await db.insertInto('recovery_codes').values(pretty.map((c) => ({ user_id: userId, code_hash: sha256Hex(c), used_at: null }))).execute();
  return pretty;
}

/** Consume a recovery code; true only the first time. */
export async function useRecoveryCode(db: Executor, userId: string, code: string, now: Date): Promise<boolean> {
  const r = await db
    .updateTable('recovery_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('code_hash', '=', sha256Hex(code.trim().toLowerCase()))
    .where('used_at', 'is', null)
    .returning('code_hash')
    .execute();
  return r.length === 1;
}

/** Remove the TOTP enrolment and recovery codes (MFA reset). */
export async function resetMfa(db: Executor, userId: string, now: Date): Promise<void> {
  await db.deleteFrom('totp_secrets').where('user_id', '=', userId).execute();
  await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  await db.updateTable('users').set({ mfa_enabled: false, updated_at: now }).where('id', '=', userId).execute();
}
