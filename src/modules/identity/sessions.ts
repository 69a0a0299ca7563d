/**
 * Server-side sessions. The id is 32 random bytes, only in the `__Host-sr_session` cookie; the
 * table holds its SHA-256. A session is valid while not revoked, its user is active, and both the
 * idle and the absolute expiry are in the future; every use slides the idle expiry (never past
 * the absolute one). Revocation is a row update, so logout, disable and "sign out everywhere"
 * take effect on the next request.
 */
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

/** The live session for a cookie value, its idle expiry slid forward; undefined otherwise. */
export async function useSession(db: Executor, id: string, now: Date, t: SessionTimes): Promise<SessionRow | undefined> {
  const idHash = sha256Hex(id);
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.id_hash', 'sessions.user_id', 'sessions.strength', 'sessions.authenticated_at', 'sessions.created_at', 'sessions.absolute_expires_at', 'sessions.last_seen_at'])
    .where('sessions.id_hash', '=', idHash)
    .where('sessions.revoked_at', 'is', null)
    .where('users.status', '=', 'active')
    .where('sessions.idle_expires_at', '>', now)
    .where('sessions.absolute_expires_at', '>', now)
    .executeTakeFirst();
  if (!row) return undefined;
  // Slide the idle expiry at most every SLIDE_MS: the idle timeout is then exact to within that
  // much, and a busy session does not write (and lock) its row on every request.
  if (now.getTime() - new Date(row.last_seen_at).getTime() >= SLIDE_MS) {
    const idle = new Date(Math.min(now.getTime() + t.idleSeconds * 1000, new Date(row.absolute_expires_at).getTime()));
    await db.updateTable('sessions').set({ last_seen_at: now, idle_expires_at: idle }).where('id_hash', '=', idHash).execute();
  }
  return { idHash, userId: row.user_id, strength: row.strength as Strength, authenticatedAt: new Date(row.authenticated_at), createdAt: new Date(row.created_at) };
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
