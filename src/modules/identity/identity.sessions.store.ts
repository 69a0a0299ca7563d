/**
 * SQL of sign-in state: sessions (only the SHA-256 of an id is stored) and the login throttle
 * (per account and per address, shared by every instance through the database).
 */
import { sql } from 'kysely';
import type { Role } from '../../db/tables/identity.ts';
import type { Executor } from './identity.users.store.ts';

export type Strength =
  | 'password'
  | 'password-pending-mfa'
  | 'password+totp'
  | 'password+recovery-code'
  // single sign-on (modules/sso): `sso+mfa` when the IdP asserted a second factor (amr/acr);
  // `sso-pending-mfa` when it did not and the user has local TOTP, finished as `sso+totp`.
  | 'sso'
  | 'sso+mfa'
  | 'sso-pending-mfa'
  | 'sso+totp'
  | 'sso+recovery-code';

/** Strengths that wait for the local second factor (only `POST /api/v1/auth/mfa` and logout). */
export const PENDING_MFA: readonly Strength[] = ['password-pending-mfa', 'sso-pending-mfa'];

export interface SessionRow {
  idHash: string;
  userId: string;
  strength: Strength;
  authenticatedAt: Date;
  createdAt: Date;
}

/** A live session with what the auth plugin needs about its user, read in one statement. */
export interface LiveSession extends SessionRow {
  user: { attributes: Record<string, string | number | boolean>; mfaEnabled: boolean; privileged: boolean };
  /** The user's roles in `workspaceId` (sorted; empty = not a member), when a workspace was asked for. */
  membership?: { workspace: string; roles: Role[] };
  lastSeenAt: Date;
  idleExpiresAt: Date;
  absoluteExpiresAt: Date;
}

export async function insertSession(
  db: Executor,
  s: {
    idHash: string;
    userId: string;
    strength: Strength;
    now: Date;
    idleExpiresAt: Date;
    absoluteExpiresAt: Date;
    authenticatedAt: Date;
    ip: string | undefined;
  },
): Promise<void> {
  await db
    .insertInto('sessions')
    .values({
      id_hash: s.idHash,
      user_id: s.userId,
      strength: s.strength,
      created_at: s.now,
      last_seen_at: s.now,
      idle_expires_at: s.idleExpiresAt,
      absolute_expires_at: s.absoluteExpiresAt,
      authenticated_at: s.authenticatedAt,
      revoked_at: null,
      source_ip: s.ip ?? null,
    })
    .execute();
}

interface SessionQueryRow {
  user_id: string;
  strength: string;
  authenticated_at: Date | string;
  created_at: Date | string;
  absolute_expires_at: Date | string;
  idle_expires_at: Date | string;
  last_seen_at: Date | string;
  attributes: unknown;
  mfa_enabled: boolean;
  privileged: boolean;
  roles: unknown;
}

const parseJson = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

/**
 * The live session with this id hash, or undefined. ONE statement (one snapshot) answers
 * everything a request needs: the session is not revoked and within both expiries, its user is
 * active, the user's attributes and MFA state, whether they are owner/admin anywhere, and — given
 * `workspaceId` — their roles there. Written as one `sql` template (bound parameters only):
 * building it with the query builder cost more CPU per request than the rest of authentication.
 */
export async function findLiveSession(
  db: Executor,
  idHash: string,
  now: Date,
  workspaceId?: string,
): Promise<LiveSession | undefined> {
  const roles =
    workspaceId === undefined
      ? sql<null>`null`
      : sql<unknown>`(select coalesce(json_agg(m.role), '[]'::json) from memberships m where m.user_id = s.user_id and m.workspace_id = ${workspaceId})`;
  const { rows } = await sql<SessionQueryRow>`
    select s.user_id, s.strength, s.authenticated_at, s.created_at, s.absolute_expires_at, s.idle_expires_at, s.last_seen_at, u.attributes, u.mfa_enabled,
      exists (select 1 from memberships m where m.user_id = s.user_id and m.role in ('owner', 'admin')) as privileged,
      ${roles} as roles
    from sessions s join users u on u.id = s.user_id
    where s.id_hash = ${idHash} and s.revoked_at is null and u.status = 'active'
      and s.idle_expires_at > ${now} and s.absolute_expires_at > ${now}`.execute(db);
  const row = rows[0];
  if (!row) return undefined;
  const live: LiveSession = {
    idHash,
    userId: row.user_id,
    strength: row.strength as Strength,
    authenticatedAt: new Date(row.authenticated_at),
    createdAt: new Date(row.created_at),
    lastSeenAt: new Date(row.last_seen_at),
    absoluteExpiresAt: new Date(row.absolute_expires_at),
    idleExpiresAt: new Date(row.idle_expires_at),
    user: { attributes: parseJson(row.attributes), mfaEnabled: row.mfa_enabled, privileged: Boolean(row.privileged) },
  };
  if (workspaceId !== undefined)
    live.membership = { workspace: workspaceId, roles: parseJson<Role[]>(row.roles ?? []).sort() };
  return live;
}

export async function slideSession(db: Executor, idHash: string, now: Date, idleExpiresAt: Date): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ last_seen_at: now, idle_expires_at: idleExpiresAt })
    .where('id_hash', '=', idHash)
    .execute();
}

export async function revokeSession(db: Executor, idHash: string, now: Date): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('id_hash', '=', idHash)
    .where('revoked_at', 'is', null)
    .execute();
}

/** Revoke every session of a user (except `keepIdHash`); returns how many. */
export async function revokeUserSessions(
  db: Executor,
  userId: string,
  now: Date,
  keepIdHash?: string,
): Promise<number> {
  let q = db
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null);
  if (keepIdHash) q = q.where('id_hash', '<>', keepIdHash);
  return (await q.returning('id_hash').execute()).length;
}

export async function markAuthenticated(db: Executor, idHash: string, now: Date): Promise<void> {
  await db.updateTable('sessions').set({ authenticated_at: now }).where('id_hash', '=', idHash).execute();
}

export interface ThrottleRule {
  maxAttempts: number;
  /** Attempts before backoff starts; ≥ maxAttempts means no backoff. */
  freeAttempts: number;
  windowSeconds: number;
  lockSeconds: number;
}

const MAX_BACKOFF_SECONDS = 300;

/**
 * Count one attempt for `key`; false when the key is locked or backing off (do not verify). One
 * conditional upsert: the row lock of `on conflict do update … where` makes the check and the
 * increment one step, so N parallel attempts never get more than the limit of verifications.
 * After `freeAttempts` failures each further attempt waits 1 s, 2 s, 4 s … (max 5 min); at
 * `maxAttempts` within the window the key is locked for `lockSeconds`.
 */
export async function reserveAttempt(db: Executor, key: string, rule: ThrottleRule, now: Date): Promise<boolean> {
  const windowFloor = new Date(now.getTime() - rule.windowSeconds * 1000);
  const fresh = sql`(t.window_start <= ${windowFloor} or (t.locked_until is not null and t.locked_until <= ${now}))`;
  const next = sql`(case when ${fresh} then 1 else t.attempts + 1 end)`;
  const backoff = (n: ReturnType<typeof sql>) =>
    sql`(case when ${n} >= ${rule.freeAttempts} then ${now}::timestamptz + least(power(2, ${n} - ${rule.freeAttempts}), ${MAX_BACKOFF_SECONDS}) * interval '1 second' else null end)`;
  const lock = (n: ReturnType<typeof sql>) =>
    sql`(case when ${n} >= ${rule.maxAttempts} then ${now}::timestamptz + ${rule.lockSeconds} * interval '1 second' else null end)`;
  const first = sql`1`;
  const r = await sql<{ attempts: number }>`
    insert into login_throttle as t (key, attempts, window_start, next_allowed_at, locked_until)
    values (${key}, 1, ${now}, ${backoff(first)}, ${lock(first)})
    on conflict (key) do update set
      attempts = ${next},
      window_start = case when ${fresh} then ${now} else t.window_start end,
      next_allowed_at = ${backoff(next)},
      locked_until = ${lock(next)}
    where (t.locked_until is null or t.locked_until <= ${now})
      and (t.next_allowed_at is null or t.next_allowed_at <= ${now})
      and (${fresh} or t.attempts < ${rule.maxAttempts})
    returning t.attempts`.execute(db);
  return r.rows.length === 1;
}

/** A success clears the account's row (never the address's). */
export async function clearAttempts(db: Executor, key: string): Promise<void> {
  await db.deleteFrom('login_throttle').where('key', '=', key).execute();
}
