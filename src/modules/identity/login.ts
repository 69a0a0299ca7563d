/**
 * Sign-in: password step, MFA step, re-authentication. Every path that refuses returns the same
 * `fail` shape and, for the caller, the same message; an unknown email or a throttled attempt
 * still spends one argon2 verification, so neither the answer nor its timing tells which emails
 * exist. The reason is only for the audit trail.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { IdentityConfig, InTransaction } from './deps.ts';
import { useRecoveryCode, verifyTotp } from './mfa.ts';
import type { Barrier } from '../../core/crypto/barrier.ts';
import { hashPassword, needsRehash, verifyDummy, verifyPassword } from './password-hash.ts';
import { createSession, markAuthenticated, revokeSession, type SessionTimes, type Strength } from './sessions.ts';
import { clearAttempts, reserveAttempt, type ThrottleRule } from './throttle.ts';
import { findUser, findUserByEmail, publicUser, setPasswordHash, type User } from './users.ts';


export type FailReason = 'throttled' | 'unknown-account' | 'bad-password' | 'disabled' | 'bad-code';
export type LoginResult =
  | { ok: true; user: User; sessionId: string; strength: Strength }
  | { ok: false; reason: FailReason; user?: User };

export interface LoginDeps {
  db: Kysely<Database>;
  barrier: Pick<Barrier, 'seal' | 'open'>;
  config: IdentityConfig;
  now: () => Date;
}

export function throttleRules(c: IdentityConfig): { account: ThrottleRule; address: ThrottleRule } {
  const common = { windowSeconds: c.STRONGROOM_LOGIN_WINDOW_SECONDS, lockSeconds: c.STRONGROOM_LOGIN_LOCK_SECONDS };
  return {
    account: { ...common, maxAttempts: c.STRONGROOM_LOGIN_MAX_ATTEMPTS, freeAttempts: c.STRONGROOM_LOGIN_FREE_ATTEMPTS },
    address: { ...common, maxAttempts: c.STRONGROOM_LOGIN_MAX_ATTEMPTS_PER_ADDRESS, freeAttempts: c.STRONGROOM_LOGIN_MAX_ATTEMPTS_PER_ADDRESS },
  };
}

export const sessionTimes = (c: IdentityConfig): SessionTimes => ({ idleSeconds: c.STRONGROOM_SESSION_IDLE_SECONDS, absoluteSeconds: c.STRONGROOM_SESSION_ABSOLUTE_SECONDS });

/** Reserve one attempt on the address and the account; false when either is locked or backing off. */
async function admit(deps: LoginDeps, accountKey: string, ip: string | undefined): Promise<boolean> {
  const rules = throttleRules(deps.config);
  const now = deps.now();
  if (ip && !(await reserveAttempt(deps.db, `ip:${ip}`, rules.address, now))) return false;
  return reserveAttempt(deps.db, accountKey, rules.account, now);
}

/** Check a password; on success the account's counter is cleared and a weak hash upgraded. */
export async function checkCredentials(deps: LoginDeps, email: string, password: string, ip: string | undefined): Promise<{ ok: true; user: User } | { ok: false; reason: FailReason; user?: User }> {
  const accountKey = `acct:${email.toLowerCase()}`;
  const admitted = await admit(deps, accountKey, ip);
  const found = await findUserByEmail(deps.db, email);
  if (!admitted) {
    await verifyDummy(password);
    return { ok: false, reason: 'throttled', ...(found ? { user: publicUser(found) } : {}) };
  }
  if (!found?.passwordHash) {
    await verifyDummy(password);
    return { ok: false, reason: 'unknown-account' };
  }
  if (!(await verifyPassword(found.passwordHash, password))) return { ok: false, reason: 'bad-password', user: publicUser(found) };
  if (found.status !== 'active') return { ok: false, reason: 'disabled', user: publicUser(found) };
  await clearAttempts(deps.db, accountKey);
  if (needsRehash(found.passwordHash)) await setPasswordHash(deps.db, found.id, await hashPassword(password));
  return { ok: true, user: publicUser(found) };
}

/** Password step. With MFA enrolled the new session is `password-pending-mfa` and can only finish sign-in. */
export async function login(deps: LoginDeps, email: string, password: string, ip: string | undefined, audit: (trx: Parameters<InTransaction>[0], r: LoginResult) => Promise<void>): Promise<LoginResult> {
  const checked = await checkCredentials(deps, email, password, ip);
  if (!checked.ok) return checked;
  const strength: Strength = checked.user.mfaEnabled ? 'password-pending-mfa' : 'password';
  return deps.db.transaction().execute(async (trx) => {
    const s = await createSession(trx, checked.user.id, strength, deps.now(), sessionTimes(deps.config), ip);
    const result: LoginResult = { ok: true, user: checked.user, sessionId: s.id, strength };
    await audit(trx, result);
    return result;
  });
}

/** Check a second factor: a 6-digit TOTP code (its step is burnt) or a recovery code (consumed). Throttled per user. */
export async function checkSecondFactor(deps: LoginDeps, userId: string, code: string): Promise<'totp' | 'recovery-code' | undefined> {
  const now = deps.now();
  if (!(await reserveAttempt(deps.db, `mfa:${userId}`, throttleRules(deps.config).account, now))) return undefined;
  const c = code.replace(/\s+/g, '');
  const kind = /^\d{6}$/.test(c) ? ((await verifyTotp(deps.db, deps.barrier, userId, c, now)) ? 'totp' : undefined) : (await useRecoveryCode(deps.db, userId, c, now)) ? 'recovery-code' : undefined;
  if (kind) await clearAttempts(deps.db, `mfa:${userId}`);
  return kind;
}

/** MFA step: the pending session is replaced by a new one (new id) of full strength. */
export async function completeMfa(deps: LoginDeps, pendingHash: string, userId: string, code: string, ip: string | undefined, audit: InTransaction): Promise<{ sessionId: string; strength: Strength } | undefined> {
  const kind = await checkSecondFactor(deps, userId, code);
  if (!kind) return undefined;
  const strength: Strength = kind === 'totp' ? 'password+totp' : 'password+recovery-code';
  return deps.db.transaction().execute(async (trx) => {
    const now = deps.now();
    await revokeSession(trx, pendingHash, now);
    const s = await createSession(trx, userId, strength, now, sessionTimes(deps.config), ip);
    await audit(trx);
    return { sessionId: s.id, strength };
  });
}

/** Re-authentication: password (and a second factor when enrolled) refreshes the session's proof time. */
export async function reauthenticate(deps: LoginDeps, sessionHash: string, userId: string, password: string, code: string | undefined, ip: string | undefined): Promise<FailReason | undefined> {
  const user = await findUser(deps.db, userId);
  if (!user) return 'unknown-account';
  const checked = await checkCredentials(deps, user.email, password, ip);
  if (!checked.ok) return checked.reason;
  if (user.mfaEnabled && (!code || !(await checkSecondFactor(deps, userId, code)))) return 'bad-code';
  await markAuthenticated(deps.db, sessionHash, deps.now());
  return undefined;
}
