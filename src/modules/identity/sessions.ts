/**
 * Server-side sessions. The id is 32 random bytes, only in the `__Host-sr_session` cookie; the
 * table holds its SHA-256. A session is valid while not revoked, its user is active, and both the
 * idle and the absolute expiry are in the future; every use slides the idle expiry (never past
 * the absolute one). Revocation is a row update, so logout, disable and "sign out everywhere"
 * take effect on the next request.
 */
import { sql } from 'kysely';
import type { Role } from '../../db/tables/identity.ts';
import type { Executor } from './deps.ts';
import { randomToken, sha256Hex } from './tokens-crypto.ts';

export const SESSION_COOKIE = '__Host-sr_session';
export type Strength = 'password' | 'password-pending-mfa' | 'password+totp' | 'password+recovery-code';

export interface SessionTimes {
  idleSeconds: number;
  absoluteSeconds: number;
}

export interface SessionRow {
  idHash: string;
  userId: string;
  strength: Strength;
  authenticatedAt: Date;
  createdAt: Date;
}

export async function createSession(db: Executor, userId: string, strength: Strength, now: Date, t: SessionTimes, ip: string | undefined, authenticatedAt = now): Promise<{ id: string; idHash: string }> {
  const id = randomToken(32);
  const idHash = sha256Hex(id);
  const absolute = new Date(now.getTime() + t.absoluteSeconds * 1000);
  const idle = new Date(Math.min(now.getTime() + t.idleSeconds * 1000, absolute.getTime()));
  await db
    .insertInto('sessions')
    .values({ id_hash: idHash, user_id: userId, strength, created_at: now, last_seen_at: now, idle_expires_at: idle, absolute_expires_at: absolute, authenticated_at: authenticatedAt, revoked_at: null, source_ip: ip ?? null })
    .execute();
  return { id, idHash };
}

const SLIDE_MS = 30_000;

interface SessionQueryRow {
  user_id: string;
  strength: string;
  authenticated_at: Date | string;
  created_at: Date | string;
  absolute_expires_at: Date | string;
  last_seen_at: Date | string;
  attributes: unknown;
  mfa_enabled: boolean;
  privileged: boolean;
  roles: unknown;
}

/** A live session with what the auth plugin needs about its user, read in one statement. */
export interface LiveSession extends SessionRow {
  user: { attributes: Record<string, string | number | boolean>; mfaEnabled: boolean; privileged: boolean };
  /** The user's roles in `workspace` (sorted; empty = not a member), when a workspace was asked for. */
  membership?: { workspace: string; roles: Role[] };
}

const parseJson = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

/**
 * The live session for a cookie value, its idle expiry slid forward; undefined otherwise.
 *
 * ONE statement (one snapshot) answers everything a request needs: the session is not revoked and
 * within both expiries, its user is active, the user's attributes and MFA state, whether they are
 * owner/admin anywhere (MFA is then required), and — given `workspace` — their roles there.
 * Nothing is cached between requests, so a revocation, disable or role change committed before
 * this statement runs is seen by it.
 */
export async function useSession(db: Executor, id: string, now: Date, t: SessionTimes, workspace?: string): Promise<LiveSession | undefined> {
  const idHash = sha256Hex(id);
  // Written as one `sql` template (bound parameters only): building this query with the query
  // builder cost more CPU per request than the rest of authentication together.
  const roles = workspace === undefined
    ? sql<null>`null`
    : sql<unknown>`(select coalesce(json_agg(m.role), '[]'::json) from memberships m where m.user_id = s.user_id and m.workspace_id = ${workspace})`;
  const { rows } = await sql<SessionQueryRow>`
    select s.user_id, s.strength, s.authenticated_at, s.created_at, s.absolute_expires_at, s.last_seen_at, u.attributes, u.mfa_enabled,
      exists (select 1 from memberships m where m.user_id = s.user_id and m.role in ('owner', 'admin')) as privileged,
      ${roles} as roles
    from sessions s join users u on u.id = s.user_id
    where s.id_hash = ${idHash} and s.revoked_at is null and u.status = 'active'
      and s.idle_expires_at > ${now} and s.absolute_expires_at > ${now}`.execute(db);
  const row = rows[0];
  if (!row) return undefined;
  // Slide the idle expiry at most every SLIDE_MS: the idle timeout is then exact to within that
  // much, and a busy session does not write (and lock) its row on every request.
  if (now.getTime() - new Date(row.last_seen_at).getTime() >= SLIDE_MS) {
    const idle = new Date(Math.min(now.getTime() + t.idleSeconds * 1000, new Date(row.absolute_expires_at).getTime()));
    await db.updateTable('sessions').set({ last_seen_at: now, idle_expires_at: idle }).where('id_hash', '=', idHash).execute();
  }
  const live: LiveSession = {
    idHash,
    userId: row.user_id,
    strength: row.strength as Strength,
    authenticatedAt: new Date(row.authenticated_at),
    createdAt: new Date(row.created_at),
    user: { attributes: parseJson(row.attributes), mfaEnabled: row.mfa_enabled, privileged: Boolean(row.privileged) },
  };
  if (workspace !== undefined) live.membership = { workspace, roles: parseJson<Role[]>(row.roles ?? []).sort() };
  return live;
}

export async function revokeSession(db: Executor, idHash: string, now: Date): Promise<void> {
  await db.updateTable('sessions').set({ revoked_at: now }).where('id_hash', '=', idHash).where('revoked_at', 'is', null).execute();
}

/** Revoke every session of a user (except `keep`); returns how many. */
export async function revokeUserSessions(db: Executor, userId: string, now: Date, keep?: string): Promise<number> {
  let q = db.updateTable('sessions').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null);
  if (keep) q = q.where('id_hash', '<>', keep);
  const r = await q.returning('id_hash').execute();
  return r.length;
}

export async function markAuthenticated(db: Executor, idHash: string, now: Date): Promise<void> {
  await db.updateTable('sessions').set({ authenticated_at: now }).where('id_hash', '=', idHash).execute();
}
