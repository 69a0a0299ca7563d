/**
 * A person's data: what an export reads and an erasure clears, over the identity tables. An
 * erased account keeps its row (its id is the pseudonym the audit trail names it by, and other
 * rows may refer to it) with every personal column replaced; everything else of it is deleted.
 */
import { sql } from 'kysely';
import type { Db } from './retention.store.ts';

export async function readAccount(db: Db, userId: string) {
  return db
    .selectFrom('users')
    .select(['id', 'email', 'display_name', 'status', 'attributes', 'mfa_enabled', 'created_at', 'updated_at'])
    .where('id', '=', userId)
    .executeTakeFirst();
}

export async function readPersonRows(db: Db, userId: string) {
  const [memberships, sessions, tokens, identities, totp] = await Promise.all([
    db.selectFrom('memberships').select(['workspace_id', 'role', 'created_at']).where('user_id', '=', userId).execute(),
    db
      .selectFrom('sessions')
      .select(['strength', 'created_at', 'last_seen_at', 'absolute_expires_at', 'revoked_at', 'source_ip'])
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute(),
    db
      .selectFrom('api_tokens')
      .select(['id', 'name', 'workspace_id', 'scopes', 'created_at', 'expires_at', 'revoked_at', 'last_used_at'])
      .where('user_id', '=', userId)
      .execute(),
    db
      .selectFrom('external_identities')
      .select(['issuer', 'subject', 'created_at'])
      .where('user_id', '=', userId)
      .execute(),
    db
      .selectFrom('totp_secrets')
      .select(['created_at', 'confirmed_at'])
      .where('user_id', '=', userId)
      .executeTakeFirst(),
  ]);
  return { memberships, sessions, tokens, identities, totp };
}

/** Workspaces where this user is the only owner (erasing them would leave the workspace ownerless). */
export async function soleOwnerOf(db: Db, userId: string): Promise<string[]> {
  const r = await sql<{ workspace_id: string }>`
    select m.workspace_id from memberships m where m.user_id = ${userId} and m.role = 'owner'
      and not exists (select 1 from memberships o where o.workspace_id = m.workspace_id and o.role = 'owner' and o.user_id <> ${userId})`.execute(
    db,
  );
  return r.rows.map((x) => x.workspace_id);
}

/** Deletes every row about the user but the account row, which is pseudonymised; returns the counts. */
export async function erasePerson(db: Db, userId: string, email: string): Promise<Record<string, number>> {
  const n = (r: { numDeletedRows: bigint }) => Number(r.numDeletedRows);
  const counts = {
    sessions: n(await db.deleteFrom('sessions').where('user_id', '=', userId).executeTakeFirst()),
    apiTokens: n(await db.deleteFrom('api_tokens').where('user_id', '=', userId).executeTakeFirst()),
    memberships: n(await db.deleteFrom('memberships').where('user_id', '=', userId).executeTakeFirst()),
    externalIdentities: n(await db.deleteFrom('external_identities').where('user_id', '=', userId).executeTakeFirst()),
    recoveryCodes: n(await db.deleteFrom('recovery_codes').where('user_id', '=', userId).executeTakeFirst()),
    totp:
      n(await db.deleteFrom('totp_secrets').where('user_id', '=', userId).executeTakeFirst()) +
      n(await db.deleteFrom('totp_used_steps').where('user_id', '=', userId).executeTakeFirst()),
    throttle: n(
      await db.deleteFrom('login_throttle').where('key', '=', `acct:${email.toLowerCase()}`).executeTakeFirst(),
    ),
  };
  await db
    .updateTable('users')
    .set({
      email: `erased-${userId}@erased.invalid`,
      display_name: 'erased',
      status: 'disabled',
      attributes: '{}',
      password_hash: null,
      mfa_enabled: false,
      updated_at: new Date(),
    })
    .where('id', '=', userId)
    .execute();
  return counts;
}
