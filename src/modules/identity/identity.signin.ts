/**
 * Sign-in, sessions and first-start setup.
 * - Every refusal of a password returns the same answer whatever the reason; an unknown email or a
 *   throttled attempt still spends one argon2 verification, so neither the answer nor its timing
 *   tells which emails exist. The reason is only for the audit trail.
 * - Throttle counters, burnt TOTP steps and used recovery codes commit on their own, before and
 *   whatever the outcome of the work that follows, so a failed attempt always counts.
 * - Sessions: the id is 32 random bytes, only in the cookie; the table holds its SHA-256. A session
 *   is valid while not revoked, its user is active, and both expiries are in the future; each use
 *   slides the idle expiry (at most every 30 s, never past the absolute one).
 * - The setup token: while no user exists, the first `serve` prints it; its SHA-256 is stored with
 *   a 1-hour expiry; redeeming it creates the first owner once (row locked, marked used).
 * Sign-in and setup are public routes: the pipeline records their event (`AttemptEvent`); these
 * use cases name its resource and details, and commit the session or the owner with it.
 */
import type { Kysely, Transaction } from 'kysely';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { PublicCtx, Schemas } from '../../http/route.ts';
import type { IdentityConfig } from './deps.ts';
import { useRecoveryCode, verifyTotp, type Sealer } from './identity.mfa.ts';
import type { SessionCache } from './identity.session-cache.ts';
import * as sessions from './identity.sessions.store.ts';
import type { SessionRow, Strength, ThrottleRule } from './identity.sessions.store.ts';
import * as users from './identity.users.store.ts';
import type { Executor, User } from './identity.users.store.ts';
import { hashPassword, needsRehash, verifyDummy, verifyPassword } from './password-hash.ts';
import { randomToken, safeEqual, sha256Hex } from './tokens-crypto.ts';

export const SESSION_COOKIE = '__Host-sr_session';
export const SETUP_TOKEN_TTL_MS = 3_600_000;
const SLIDE_MS = 30_000;
/** The audit event of every sign-in step, success or failure. */
export const SIGN_IN = 'identity.session.create';

/** The request's event as sign-in and setup fill it; the pipeline records it (failure: on its own). */
export type AttemptEvent = Pick<PublicCtx<Schemas>, 'event' | 'commit'>;

export type FailReason = 'throttled' | 'unknown-account' | 'bad-password' | 'disabled' | 'bad-code' | 'sso-enforced';

export interface SignInDeps {
  db: Kysely<Database>;
  barrier: Sealer;
  config: IdentityConfig;
  now: () => Date;
  passwordPolicy?: ((userId: string) => Promise<'allow' | 'deny' | 'break-glass'>) | undefined;
}

export function throttleRules(c: IdentityConfig): { account: ThrottleRule; address: ThrottleRule } {
  const common = { windowSeconds: c.STRONGROOM_LOGIN_WINDOW_SECONDS, lockSeconds: c.STRONGROOM_LOGIN_LOCK_SECONDS };
  return {
    account: {
      ...common,
      maxAttempts: c.STRONGROOM_LOGIN_MAX_ATTEMPTS,
      freeAttempts: c.STRONGROOM_LOGIN_FREE_ATTEMPTS,
    },
    address: {
      ...common,
      maxAttempts: c.STRONGROOM_LOGIN_MAX_ATTEMPTS_PER_ADDRESS,
      freeAttempts: c.STRONGROOM_LOGIN_MAX_ATTEMPTS_PER_ADDRESS,
    },
  };
}

/** A new session; `authenticatedAt` (the last password/MFA proof) defaults to now. Returns the raw id once. */
export async function createSession(
  deps: SignInDeps,
  db: Executor,
  userId: string,
  strength: Strength,
  ip: string | undefined,
  authenticatedAt?: Date,
): Promise<string> {
  const now = deps.now();
  const id = randomToken(32);
  const absolute = new Date(now.getTime() + deps.config.STRONGROOM_SESSION_ABSOLUTE_SECONDS * 1000);
  const idle = new Date(
    Math.min(now.getTime() + deps.config.STRONGROOM_SESSION_IDLE_SECONDS * 1000, absolute.getTime()),
  );
  await sessions.insertSession(db, {
    idHash: sha256Hex(id),
    userId,
    strength,
    now,
    idleExpiresAt: idle,
    absoluteExpiresAt: absolute,
    authenticatedAt: authenticatedAt ?? now,
    ip,
  });
  return id;
}

/**
 * The live session for a cookie value, its idle expiry slid forward; undefined otherwise. With
 * `cache`, a live session read less than its TTL ago is answered from memory (see
 * identity.session-cache.ts for why revocation still applies at once).
 */
export async function useSession(
  deps: SignInDeps,
  id: string,
  workspaceId?: string,
  cache?: SessionCache,
): Promise<sessions.LiveSession | undefined> {
  const now = deps.now();
  const idHash = sha256Hex(id);
  const read = () => sessions.findLiveSession(deps.db, idHash, now, workspaceId);
  const live = await (cache ? cache.lookup(idHash, workspaceId, now, read) : read());
  if (live === undefined) return undefined;
  if (now.getTime() - live.lastSeenAt.getTime() >= SLIDE_MS) {
    // A cached copy is shared by every request of the session: the first one due writes the
    // slide, the others wait for that write instead of each updating the same row.
    let slide = sliding.get(live);
    if (slide === undefined) {
      const idle = new Date(
        Math.min(now.getTime() + deps.config.STRONGROOM_SESSION_IDLE_SECONDS * 1000, live.absoluteExpiresAt.getTime()),
      );
      // Written first, then noted in the (possibly shared) cached copy: the slide only ever extends.
      slide = sessions.slideSession(deps.db, live.idHash, now, idle).then(() => {
        live.lastSeenAt = now;
        live.idleExpiresAt = idle;
      });
      sliding.set(live, slide);
      void slide.then(
        () => sliding.delete(live),
        () => sliding.delete(live),
      );
    }
    await slide;
  }
  return live;
}

/** Slides being written, by the (cached, shared) session object they extend. */
const sliding = new WeakMap<sessions.LiveSession, Promise<void>>();

/** Replace a session by a new id (sign-in step or privilege change); `proven` makes now its last proof time. */
export async function rotateSession(
  deps: SignInDeps,
  trx: Transaction<Database>,
  old: SessionRow,
  strength: Strength,
  ip: string | undefined,
  proven: boolean,
): Promise<string> {
  await sessions.revokeSession(trx, old.idHash, deps.now());
  return createSession(deps, trx, old.userId, strength, ip, proven ? deps.now() : old.authenticatedAt);
}

/** Check a password, throttled per address and account; on success the account's counter is cleared and a weak hash upgraded. */
export async function checkCredentials(
  deps: SignInDeps,
  email: string,
  password: string,
  ip: string | undefined,
): Promise<{ ok: true; user: User } | { ok: false; reason: FailReason; user?: User }> {
  const rules = throttleRules(deps.config);
  const accountKey = `acct:${email.toLowerCase()}`;
  const now = deps.now();
  const admitted =
    (!ip || (await sessions.reserveAttempt(deps.db, `ip:${ip}`, rules.address, now))) &&
    (await sessions.reserveAttempt(deps.db, accountKey, rules.account, now));
  const found = await users.findUserByEmail(deps.db, email);
  if (!admitted) {
    await verifyDummy(password);
    return { ok: false, reason: 'throttled', ...(found ? { user: users.publicUser(found) } : {}) };
  }
  if (!found?.passwordHash) {
    await verifyDummy(password);
    return { ok: false, reason: 'unknown-account' };
  }
  if (!(await verifyPassword(found.passwordHash, password)))
    return { ok: false, reason: 'bad-password', user: users.publicUser(found) };
  if (found.status !== 'active') return { ok: false, reason: 'disabled', user: users.publicUser(found) };
  await sessions.clearAttempts(deps.db, accountKey);
  if (needsRehash(found.passwordHash)) await users.setPasswordHash(deps.db, found.id, await hashPassword(password));
  return { ok: true, user: users.publicUser(found) };
}

/**
 * Password step: a new session (`password-pending-mfa` when MFA is enrolled: it can only finish
 * sign-in) and its `identity.session.create` event in one transaction. A refusal is recorded
 * (never with the password nor the email: the resource names the account by its id, so an
 * erased account's events lead to no one) and answered 401.
 */
export async function signIn(
  deps: SignInDeps,
  email: string,
  password: string,
  ip: string | undefined,
  { event, commit }: AttemptEvent,
): Promise<{ user: User; sessionId: string; strength: Strength }> {
  const checked = await checkCredentials(deps, email, password, ip);
  if (!checked.ok) {
    const { reason, user } = checked;
    event.resource({ type: 'user', ...(user ? { id: user.id } : {}) });
    event.details({ reason });
    throw new AppError('UNAUTHENTICATED', { detail: 'Incorrect email or password.' });
  }
  const { user } = checked;
  // SSO enforcement: only the password was right; the workspace may still refuse password sign-in.
  const policy = deps.passwordPolicy ? await deps.passwordPolicy(user.id) : 'allow';
  if (policy === 'deny') {
    event.resource({ type: 'user', id: user.id });
    event.details({ reason: 'sso-enforced' });
    throw new AppError('UNAUTHENTICATED', {
      detail: 'This account signs in with single sign-on; use your organisation’s sign-in button.',
      meta: { reason: 'sso-enforced' },
    });
  }
  const strength: Strength = user.mfaEnabled ? 'password-pending-mfa' : 'password';
  event.resource({ type: 'user', id: user.id });
  event.details({ strength, ...(policy === 'break-glass' ? { breakGlass: true } : {}) });
  event.actor({ id: user.id, kind: 'user', roles: [], attributes: {}, authMethod: strength });
  const sessionId = await commit((trx) => createSession(deps, trx, user.id, strength, ip));
  return { user, sessionId, strength };
}

/** Check a second factor: a 6-digit TOTP code (its step is burnt) or a recovery code (consumed). Throttled per user. */
export async function checkSecondFactor(deps: SignInDeps, userId: string, code: string): Promise<Strength | undefined> {
  const now = deps.now();
  if (!(await sessions.reserveAttempt(deps.db, `mfa:${userId}`, throttleRules(deps.config).account, now)))
    return undefined;
  const c = code.replace(/\s+/g, '');
  const strength: Strength | undefined = /^\d{6}$/.test(c)
    ? (await verifyTotp(deps.db, deps.barrier, userId, c, now))
      ? 'password+totp'
      : undefined
    : (await useRecoveryCode(deps.db, userId, c, now))
      ? 'password+recovery-code'
      : undefined;
  if (strength) await sessions.clearAttempts(deps.db, `mfa:${userId}`);
  return strength;
}

/** Re-authentication check: the password (and a second factor when enrolled); the reason when refused. */
export async function checkReauth(
  deps: SignInDeps,
  userId: string,
  password: string,
  code: string | undefined,
  ip: string | undefined,
): Promise<FailReason | undefined> {
  const user = await users.findUser(deps.db, userId);
  if (!user) return 'unknown-account';
  const checked = await checkCredentials(deps, user.email, password, ip);
  if (!checked.ok) return checked.reason;
  if (user.mfaEnabled && (!code || !(await checkSecondFactor(deps, userId, code)))) return 'bad-code';
  return undefined;
}

/** A fresh setup token when there are no users yet; undefined otherwise. */
export async function issueSetupToken(deps: SignInDeps): Promise<string | undefined> {
  if ((await users.countUsers(deps.db)) > 0) return undefined;
  const token = `srs_${randomToken(24)}`;
  await users.saveSetupToken(deps.db, sha256Hex(token), new Date(deps.now().getTime() + SETUP_TOKEN_TTL_MS));
  return token;
}

/**
 * Redeem the setup token: the first owner of `default`, the token marked used and the event, in
 * one transaction (a refusal is recorded by the pipeline as a failure).
 */
export async function redeemSetupToken(
  deps: SignInDeps,
  token: string,
  create: (trx: Transaction<Database>) => Promise<User>,
  { event, commit }: AttemptEvent,
): Promise<User> {
  event.details({ via: 'setup token' });
  return commit(async (trx) => {
    const row = await users.lockSetupToken(trx);
    const valid =
      row !== undefined &&
      safeEqual(row.tokenHash, sha256Hex(token)) &&
      row.usedAt === null &&
      row.expiresAt > deps.now();
    if (!valid || (await users.countUsers(trx)) > 0)
      throw new AppError('FORBIDDEN', { detail: 'The setup token is not valid (wrong, used or expired).' });
    const created = await create(trx);
    await users.markSetupTokenUsed(trx, deps.now());
    // The new owner is the actor (the token's holder became them) and the event belongs to the
    // workspace they own, so its auditors find it.
    event.actor({ id: created.id, kind: 'user', roles: [], attributes: {}, authMethod: 'setup-token' });
    event.resource({ type: 'user', id: created.id, workspace: 'default' });
    event.details({ role: 'owner', workspace: 'default' });
    return created;
  });
}
