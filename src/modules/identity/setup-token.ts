/**
 * The one-time setup token: while no user exists, the first `serve` prints a random token to
 * stderr; its SHA-256 is stored with a 1-hour expiry. Redeeming it creates the first owner once
 * (the row is locked and marked used in the same transaction). Never a default password.
 */
import { AppError } from '../../core/errors.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { InTransaction } from './deps.ts';
import { randomToken, safeEqual, sha256Hex } from './tokens-crypto.ts';
import { countUsers, createUser, type User } from './users.ts';

export const SETUP_TOKEN_TTL_MS = 3_600_000;

/** A fresh setup token when there are no users yet; undefined otherwise. */
export async function issueSetupToken(db: Kysely<Database>, now: Date): Promise<string | undefined> {
  if ((await countUsers(db)) > 0) return undefined;
  const token = `srs_${randomToken(24)}`;
  const row = { token_hash: sha256Hex(token), expires_at: new Date(now.getTime() + SETUP_TOKEN_TTL_MS), used_at: null };
  await db.insertInto('setup_tokens').values({ id: 1, ...row }).onConflict((oc) => oc.column('id').doUpdateSet(row)).execute();
  return token;
}

export async function redeemSetupToken(db: Kysely<Database>, token: string, user: { email: string; password: string; displayName: string }, now: Date, audit: InTransaction): Promise<User> {
  return db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('setup_tokens').selectAll().where('id', '=', 1).forUpdate().executeTakeFirst();
    const valid = row !== undefined && safeEqual(row.token_hash, sha256Hex(token)) && row.used_at === null && new Date(row.expires_at) > now;
    if (!valid || (await countUsers(trx)) > 0) throw new AppError('FORBIDDEN', { detail: 'The setup token is not valid (wrong, used or expired).' });
    const created = await createUser(trx, { ...user, memberships: [{ workspace: 'default', role: 'owner' }] });
    await trx.updateTable('setup_tokens').set({ used_at: now }).where('id', '=', 1).execute();
    await audit(trx);
    return created;
  });
}
