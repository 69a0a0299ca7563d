/** SQL of second factors: the sealed TOTP seed, burnt TOTP steps, hashed recovery codes. */
import type { Executor } from './identity.users.store.ts';

export async function findTotp(
  db: Executor,
  userId: string,
): Promise<{ sealed: Buffer; confirmedAt: Date | null } | undefined> {
  const r = await db
    .selectFrom('totp_secrets')
    .select(['sealed', 'confirmed_at'])
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return r && { sealed: r.sealed, confirmedAt: r.confirmed_at };
}

/** Replaces any pending enrolment's seed. */
export async function saveTotp(db: Executor, userId: string, sealed: Buffer): Promise<void> {
  await db.deleteFrom('totp_secrets').where('user_id', '=', userId).execute();
  await db.insertInto('totp_secrets').values({ user_id: userId, sealed, confirmed_at: null }).execute();
}

/** Burns a TOTP step; false when it was already used (a replay), even by a parallel request. */
export async function burnTotpStep(db: Executor, userId: string, step: number): Promise<boolean> {
  const burnt = await db
    .insertInto('totp_used_steps')
    .values({ user_id: userId, step: String(step) })
    .onConflict((oc) => oc.doNothing())
    .returning('step')
    .execute();
  return burnt.length === 1;
}

export async function confirmTotp(db: Executor, userId: string, now: Date): Promise<void> {
  await db.updateTable('totp_secrets').set({ confirmed_at: now }).where('user_id', '=', userId).execute();
  await db.updateTable('users').set({ mfa_enabled: true, updated_at: now }).where('id', '=', userId).execute();
}

export async function replaceRecoveryCodes(db: Executor, userId: string, codeHashes: readonly string[]): Promise<void> {
  await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  await db
    .insertInto('recovery_codes')
    .values(codeHashes.map((h) => ({ user_id: userId, code_hash: h, used_at: null })))
    .execute();
}

/** Consumes a recovery code by its hash; true only the first time. */
export async function consumeRecoveryCode(db: Executor, userId: string, codeHash: string, now: Date): Promise<boolean> {
  const r = await db
    .updateTable('recovery_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .returning('code_hash')
    .execute();
  return r.length === 1;
}

/** Removes the TOTP enrolment and recovery codes. */
export async function deleteMfa(db: Executor, userId: string, now: Date): Promise<void> {
  await db.deleteFrom('totp_secrets').where('user_id', '=', userId).execute();
  await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  await db.updateTable('users').set({ mfa_enabled: false, updated_at: now }).where('id', '=', userId).execute();
}
