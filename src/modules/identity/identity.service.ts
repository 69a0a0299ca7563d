/**
 * `createIdentityModule(deps)`: the identity use cases the routes, the auth plugin and the CLI
 * call. Functions that change state take the caller's transaction (`trx`), so the request
 * pipeline records the event in it; reads take none. The rules live in the files this one
 * composes (see their headers); all SQL is in the `identity.*.store.ts` files.
 */
import type { Transaction } from 'kysely';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { Role } from '../../db/tables/identity.ts';
import type { IdentityDeps } from './deps.ts';
import { createAccount } from './identity.account.ts';
import type { AttemptEvent } from './identity.signin.ts';
import * as mfa from './identity.mfa.ts';
import * as sessions from './identity.sessions.store.ts';
import * as signin from './identity.signin.ts';
import * as tokens from './identity.tokens.ts';
import * as tokenStore from './identity.tokens.store.ts';
import * as users from './identity.users.store.ts';
import { hashPassword } from './password-hash.ts';
import { checkPassword } from './password-policy.ts';
import { sha256Hex } from './tokens-crypto.ts';
import { createSessionCache } from './identity.session-cache.ts';

type Trx = Transaction<Database>;
// Reads take an optional executor: inside a route's transaction they must use it (on PGlite the
// database handle waits for that very transaction).

/** Who a session or token belongs to, as the auth plugin needs it. */
export interface Principal {
  kind: 'user' | 'service';
  id: string;
  attributes: Record<string, string | number | boolean>;
  mfaEnrolled: boolean;
  privileged: boolean;
  session?: sessions.SessionRow;
  token?: tokenStore.TokenInfo;
  /** Service accounts: their one role in their one workspace. */
  serviceRole?: { workspace: string; role: Role };
  /** A user's roles in one workspace, read with the session in the same statement (same request). */
  membership?: { workspace: string; roles: Role[] };
}

export interface NewUser {
  email: string;
  displayName: string;
  password?: string;
  attributes?: Record<string, string | number | boolean>;
  memberships: { workspace: string; role: Role }[];
}

/** A 422 that names the field and says why. */
const passwordRefused = (reason: string) =>
  new AppError('VALIDATION_FAILED', {
    detail: reason,
    meta: { issues: [{ location: 'body', path: '/password', message: reason }] },
  });

/** A new user (password rules checked, argon2id hash) with its memberships. */
async function createUser(trx: users.Executor, input: NewUser): Promise<users.User> {
  if (input.password !== undefined) {
    const why = checkPassword(input.password, { email: input.email, displayName: input.displayName, mfa: false });
    if (why) throw passwordRefused(why);
  }
  if (await users.findUserByEmail(trx, input.email))
    throw new AppError('CONFLICT', { detail: 'A user with this email already exists.' });
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
  return users.insertUser(trx, {
    email: input.email,
    displayName: input.displayName,
    attributes: input.attributes ?? {},
    passwordHash,
    memberships: input.memberships,
  });
}

export function createIdentityModule(deps: IdentityDeps) {
  const { db } = deps;
  // Inactive (every lookup reads the database) until its change feed is wired and up.
  const sessionCache = deps.sessionCache ?? createSessionCache({ ttlMs: 0 });
  const now = deps.now ?? (() => new Date());
  const flow: signin.SignInDeps = {
    db,
    barrier: deps.barrier,
    config: deps.config,
    now,
    passwordPolicy: deps.passwordPolicy,
  };

  return {
    now,
    config: deps.config,
    sessionCache,
    account: createAccount(db, now),
    checkPassword,
    hashPassword,

    signIn: (email: string, password: string, ip: string | undefined, event: AttemptEvent) =>
      signin.signIn(flow, email, password, ip, event),
    checkSecondFactor: (userId: string, code: string) => signin.checkSecondFactor(flow, userId, code),
    checkReauth: (userId: string, password: string, code: string | undefined, ip: string | undefined) =>
      signin.checkReauth(flow, userId, password, code, ip),

    /**
     * The principal behind a session cookie, or undefined (unknown, revoked, expired, user not
     * active). With `workspaceId`, the user's roles there come from the same statement (see
     * `rolesFor`). Answered from the session cache when one is wired and its change feed is up
     * (identity.session-cache.ts): revocation, disable and role changes apply to the very next
     * request on this instance and within the cache's TTL (1 s) on every other.
     */
    async principalForSession(sessionId: string, workspaceId?: string): Promise<Principal | undefined> {
      const live = await signin.useSession(flow, sessionId, workspaceId, sessionCache);
      if (!live) return undefined;
      const { user, membership, idHash, userId, strength, authenticatedAt, createdAt } = live;
      return {
        kind: 'user',
        id: userId,
        attributes: user.attributes,
        mfaEnrolled: user.mfaEnabled,
        privileged: user.privileged,
        session: { idHash, userId, strength, authenticatedAt, createdAt },
        ...(membership ? { membership } : {}),
      };
    },
    async principalForToken(presented: string): Promise<Principal | undefined> {
      const t = await tokens.useToken(db, presented, now());
      if (!t) return undefined;
      if (t.userId) {
        const u = await users.findUser(db, t.userId);
        if (!u || u.status !== 'active') return undefined;
        return {
          kind: 'user',
          id: u.id,
          attributes: u.attributes,
          mfaEnrolled: u.mfaEnabled,
          privileged: await users.isPrivileged(db, u.id),
          token: t,
        };
      }
      const sa = (await tokenStore.findServiceAccount(db, t.serviceAccountId!))!;
      return {
        kind: 'service',
        id: sa.id,
        attributes: {},
        mfaEnrolled: false,
        privileged: false,
        token: t,
        serviceRole: { workspace: sa.workspace, role: sa.role },
      };
    },
    /** Roles of a principal in a workspace; empty = not a member (the plugin answers 404). */
    async rolesFor(p: Principal, workspaceId: string): Promise<Role[]> {
      if (p.serviceRole) return p.serviceRole.workspace === workspaceId ? [p.serviceRole.role] : [];
      if (p.membership?.workspace === workspaceId) return [...p.membership.roles];
      return users.rolesIn(db, p.id, workspaceId);
    },

    sessions: {
      revoke: (trx: Trx, idHash: string) => sessions.revokeSession(trx, idHash, now()),
      /** Revoke a session by its raw cookie value (the one presented at sign-in is replaced, never reused). */
      revokeId: (id: string) => sessions.revokeSession(db, sha256Hex(id), now()),
      /** Every session of a user but `keepIdHash`; returns how many. */
      revokeAll: (trx: Trx, userId: string, keepIdHash?: string) =>
        sessions.revokeUserSessions(trx, userId, now(), keepIdHash),
      rotate: (
        trx: Trx,
        old: sessions.SessionRow,
        strength: sessions.Strength,
        ip: string | undefined,
        proven: boolean,
      ) => signin.rotateSession(flow, trx, old, strength, ip, proven),
      /** A new session for a user who proved who they are elsewhere (single sign-on); returns the raw id once. */
      create: (trx: Trx, userId: string, strength: sessions.Strength, ip: string | undefined) =>
        signin.createSession(flow, trx, userId, strength, ip),
      /** A re-authentication: the session's last proof is now. */
      markProven: (trx: Trx, idHash: string) => sessions.markAuthenticated(trx, idHash, now()),
    },

    users: {
      create: (input: NewUser) => db.transaction().execute((trx) => createUser(trx, input)),
      createIn: createUser,
      find: (id: string, ex: users.Executor = db) => users.findUser(ex, id),
      findByEmail: (email: string, ex: users.Executor = db) => users.findUserByEmail(ex, email),
      list: (workspaceId: string) => users.listUsers(db, workspaceId),
      count: () => users.countUsers(db),
      rolesIn: (userId: string, workspaceId: string, ex: users.Executor = db) => users.rolesIn(ex, userId, workspaceId),
      workspacesOf: (userId: string) => users.workspacesOf(db, userId),
      membershipsOf: (userId: string) => users.membershipsOf(db, userId),
      /** Disable (never the last active owner of a workspace) and revoke every session; tokens stop at once (checked per use). */
      async disable(trx: Trx, userId: string): Promise<void> {
        const owned = [...(await users.membershipsOf(trx, userId))]
          .filter(([, roles]) => roles.includes('owner'))
          .map(([workspaceId]) => workspaceId);
        await users.keepAnOwner(trx, userId, owned);
        await users.setStatus(trx, userId, 'disabled');
        await sessions.revokeUserSessions(trx, userId, now());
      },
      /** Refuses (CONFLICT) when `userId` is the last active owner of `workspaceId` (locks the workspace row). */
      keepAnOwner: (trx: Trx, userId: string, workspaceId: string) => users.keepAnOwner(trx, userId, [workspaceId]),
      /** Role change (never demoting a workspace's last active owner) is a privilege change: the user's sessions are revoked. */
      async setRoles(trx: Trx, workspaceId: string, userId: string, roles: Role[]): Promise<void> {
        if (!roles.includes('owner') && (await users.rolesIn(trx, userId, workspaceId)).includes('owner'))
          await users.keepAnOwner(trx, userId, [workspaceId]);
        await users.setRoles(trx, workspaceId, userId, roles);
        await sessions.revokeUserSessions(trx, userId, now());
      },
      /** Change a password (rules checked with the user's MFA state); other sessions are revoked. */
      async changePassword(trx: Trx, userId: string, password: string, keepIdHash: string | undefined): Promise<void> {
        const u = await users.findUser(trx, userId);
        if (!u) return;
        const why = checkPassword(password, { email: u.email, displayName: u.displayName, mfa: u.mfaEnabled });
        if (why) throw passwordRefused(why);
        await users.setPasswordHash(trx, userId, await hashPassword(password));
        await sessions.revokeUserSessions(trx, userId, now(), keepIdHash);
      },
    },

    workspaces: {
      /** A workspace and its first owner; CONFLICT when the id is taken. */
      async create(trx: Trx, workspaceId: string, name: string, ownerId: string | undefined): Promise<void> {
        if (!(await users.insertWorkspace(trx, workspaceId, name, ownerId)))
          throw new AppError('CONFLICT', { detail: `Workspace ${workspaceId} already exists.` });
      },
    },

    mfa: {
      startEnrolment: (trx: Trx, userId: string, email: string) => mfa.startEnrolment(trx, deps.barrier, userId, email),
      confirmEnrolment: (trx: Trx, userId: string, code: string) =>
        mfa.confirmEnrolment(trx, deps.barrier, userId, code, now()),
      reset: (trx: Trx, userId: string) => mfa.resetMfa(trx, userId, now()),
    },

    tokens: {
      create: (trx: Trx, input: tokens.NewToken) => tokens.createToken(trx, input, now()),
      list: (filter: { userId: string } | { workspace: string }) => tokenStore.listTokens(db, filter),
      find: (id: string, ex: users.Executor = db) => tokenStore.findToken(ex, id),
      revoke: (trx: Trx, id: string) => tokenStore.revokeToken(trx, id, now()),
    },
    serviceAccounts: {
      async create(
        trx: Trx,
        workspaceId: string,
        name: string,
        role: Role,
        createdBy: string,
      ): Promise<tokenStore.ServiceAccount> {
        const sa = await tokenStore.insertServiceAccount(trx, workspaceId, name, role, createdBy);
        if (!sa) throw new AppError('CONFLICT', { detail: 'A service account with this name already exists.' });
        return sa;
      },
      find: (workspaceId: string, id: string, ex: users.Executor = db) =>
        tokenStore.findServiceAccount(ex, id, workspaceId),
      list: (workspaceId: string) => tokenStore.listServiceAccounts(db, workspaceId),
      disable: (trx: Trx, id: string) => tokenStore.disableServiceAccount(trx, id, now()),
    },

    issueSetupToken: () => signin.issueSetupToken(flow),
    redeemSetupToken: (
      token: string,
      user: { email: string; password: string; displayName: string },
      event: AttemptEvent,
    ) =>
      signin.redeemSetupToken(
        flow,
        token,
        (trx) => createUser(trx, { ...user, memberships: [{ workspace: 'default', role: 'owner' }] }),
        event,
      ),
  };
}

export type IdentityModule = ReturnType<typeof createIdentityModule>;
