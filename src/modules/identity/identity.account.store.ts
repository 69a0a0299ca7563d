/**
 * SQL of account views and admin changes: a user's live sessions, recovery codes left, last
 * sign-ins, the names of a workspace's members, attributes, whether any owner exists. Sessions are
 * named outward by a prefix of their id's SHA-256 (the table's key), never by the id itself.
 */
import { sql } from 'kysely';
import type { Executor, User } from './identity.users.store.ts';
import { SESSION_REF_LENGTH } from '../../contracts/identity.ts';

/** Hex characters of a session's id hash that name it in the API (64 bits: unique per user in practice). */
export { SESSION_REF_LENGTH };

export interface SessionView {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  authenticatedAt: string;
  strength: string;
  sourceIp: string | null;
}

/** The user's sessions that are not revoked and not expired, newest first. */
export async function liveSessions(
  db: Executor,
  userId: string,
  now: Date,
): Promise<(SessionView & { idHash: string })[]> {
  const rows = await db
    .selectFrom('sessions')
    .select(['id_hash', 'created_at', 'last_seen_at', 'authenticated_at', 'strength', 'source_ip'])
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('idle_expires_at', '>', now)
    .where('absolute_expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .limit(200)
    .execute();
  return rows.map((r) => ({
    idHash: r.id_hash,
    id: r.id_hash.slice(0, SESSION_REF_LENGTH),
    createdAt: new Date(r.created_at).toISOString(),
    lastSeenAt: new Date(r.last_seen_at).toISOString(),
    authenticatedAt: new Date(r.authenticated_at).toISOString(),
    strength: r.strength,
    sourceIp: r.source_ip,
  }));
}

/** Unused recovery codes of a user. */
export async function recoveryCodesLeft(db: Executor, userId: string): Promise<number> {
  const r = await db
    .selectFrom('recovery_codes')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/**
 * When each member of a workspace last finished signing in: the newest session that was not a
 * half-done sign-in (password accepted, MFA code still due).
 */
export async function lastSignIns(db: Executor, workspaceId: string): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('sessions')
    .innerJoin('memberships', 'memberships.user_id', 'sessions.user_id')
    .select(['sessions.user_id as userId', sql<Date>`max(sessions.created_at)`.as('at')])
    .where('memberships.workspace_id', '=', workspaceId)
    .where('sessions.strength', '<>', 'password-pending-mfa')
    .groupBy('sessions.user_id')
    .execute();
  return new Map(rows.map((r) => [r.userId, new Date(r.at).toISOString()]));
}

/** Names of a workspace's members (for showing who did what), sorted by name. */
export async function memberNames(
  db: Executor,
  workspaceId: string,
): Promise<Pick<User, 'id' | 'email' | 'displayName'>[]> {
  const rows = await db
    .selectFrom('users')
    .select(['users.id', 'users.email', 'users.display_name'])
    .where('users.id', 'in', (eb) =>
      eb.selectFrom('memberships').select('memberships.user_id').where('memberships.workspace_id', '=', workspaceId),
    )
    .orderBy('users.display_name')
    .orderBy('users.email')
    .execute();
  return rows.map((r) => ({ id: r.id, email: r.email, displayName: r.display_name }));
}

/** Ids of a workspace's members (the auditors' view of sign-in events). */
export async function memberIds(db: Executor, workspaceId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('memberships')
    .select('user_id')
    .distinct()
    .where('workspace_id', '=', workspaceId)
    .execute();
  return rows.map((r) => r.user_id);
}

export async function setAttributes(db: Executor, userId: string, attributes: User['attributes']): Promise<void> {
  await db
    .updateTable('users')
    .set({ attributes: JSON.stringify(attributes), updated_at: new Date() })
    .where('id', '=', userId)
    .execute();
}

/** Whether some workspace has an owner (the first run is over). */
export async function anyOwner(db: Executor): Promise<boolean> {
  const r = await db
    .selectFrom('memberships')
    .select('user_id')
    .where('role', '=', 'owner')
    .limit(1)
    .executeTakeFirst();
  return r !== undefined;
}
