/**
 * `createIdentityModule(deps)`: the identity use cases the server and the CLI call. Routes stay
 * thin; every secret handling rule lives in the files this one composes (see their headers).
 */
import type { Role } from '../../db/tables/identity.ts';
import * as tokens from './api-tokens.ts';
import type { IdentityDeps, InTransaction } from './deps.ts';
import * as loginFlow from './login.ts';
import * as mfa from './mfa.ts';
import { hashPassword } from './password-hash.ts';
import { checkPassword } from './password-policy.ts';
import * as sessions from './sessions.ts';
import * as setup from './setup-token.ts';
import * as users from './users.ts';
import { sha256Hex } from './tokens-crypto.ts';

/** Who a session or token belongs to, as the auth plugin needs it. */
export interface Principal {
  kind: 'user' | 'service';
  id: string;
  attributes: Record<string, string | number | boolean>;
  mfaEnrolled: boolean;
  privileged: boolean;
  session?: sessions.SessionRow;
  token?: tokens.TokenInfo;
  /** Service accounts: their one role in their one workspace. */
  serviceRole?: { workspace: string; role: Role };
  /** A user's roles in one workspace, read with the session in the same statement (same request). */
  membership?: { workspace: string; roles: Role[] };
}

export function createIdentityModule(deps: IdentityDeps) {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  const flow: loginFlow.LoginDeps = { db, barrier: deps.barrier, config: deps.config, now };
  const times = loginFlow.sessionTimes(deps.config);

  async function userPrincipal(userId: string): Promise<Omit<Principal, 'session' | 'token'> | undefined> {
    const u = await users.findUser(db, userId);
    if (!u || u.status !== 'active') return undefined;
    return { kind: 'user', id: u.id, attributes: u.attributes, mfaEnrolled: u.mfaEnabled, privileged: await users.isPrivileged(db, u.id) };
  }

  return {
    now,
    config: deps.config,
    checkPassword,
    hashPassword,
    login: (email: string, password: string, ip: string | undefined, audit: Parameters<typeof loginFlow.login>[4]) => loginFlow.login(flow, email, password, ip, audit),
    completeMfa: (pendingHash: string, userId: string, code: string, ip: string | undefined, audit: InTransaction) => loginFlow.completeMfa(flow, pendingHash, userId, code, ip, audit),
    reauthenticate: (sessionHash: string, userId: string, password: string, code: string | undefined, ip: string | undefined) => loginFlow.reauthenticate(flow, sessionHash, userId, password, code, ip),

    /**
     * The principal behind a session cookie, or undefined (unknown, revoked, expired, user not
     * active). With `workspace`, the user's roles there come from the same statement (see
     * `rolesFor`). Read from the database on every call: nothing is cached, so revocation, disable
     * and role changes apply to the very next request, on every instance.
     */
    async principalForSession(sessionId: string, workspace?: string): Promise<Principal | undefined> {
      const live = await sessions.useSession(db, sessionId, now(), times, workspace);
      if (!live) return undefined;
      const { user, membership, ...session } = live;
      return {
        kind: 'user',
        id: session.userId,
        attributes: user.attributes,
        mfaEnrolled: user.mfaEnabled,
        privileged: user.privileged,
        session,
        ...(membership ? { membership } : {}),
      };
    },
    async principalForToken(presented: string): Promise<Principal | undefined> {
      const t = await tokens.useToken(db, presented, now());
      if (!t) return undefined;
      if (t.userId) {
        const p = await userPrincipal(t.userId);
        return p && { ...p, token: t };
      }
      const sa = await db.selectFrom('service_accounts').selectAll().where('id', '=', t.serviceAccountId!).executeTakeFirstOrThrow();
      return { kind: 'service', id: sa.id, attributes: {}, mfaEnrolled: false, privileged: false, token: t, serviceRole: { workspace: sa.workspace_id, role: sa.role } };
    },
    /** Roles of a principal in a workspace; empty = not a member (the plugin answers 404). */
    async rolesFor(p: Principal, workspace: string): Promise<Role[]> {
      if (p.serviceRole) return p.serviceRole.workspace === workspace ? [p.serviceRole.role] : [];
      if (p.membership?.workspace === workspace) return [...p.membership.roles];
      return users.rolesIn(db, p.id, workspace);
    },

    logout: (idHash: string) => sessions.revokeSession(db, idHash, now()),
    /** Revoke a session by its raw cookie value (the one presented at sign-in is replaced, never reused). */
    revokeSessionId: (id: string) => sessions.revokeSession(db, sha256Hex(id), now()),
    /** Replace a session by a new id (privilege change), keeping its last proof time unless `proven`. */
    async rotateSession(old: sessions.SessionRow, strength: sessions.Strength, ip: string | undefined, audit: InTransaction, proven = false): Promise<string> {
      return db.transaction().execute(async (trx) => {
        const t = now();
        await sessions.revokeSession(trx, old.idHash, t);
        const s = await sessions.createSession(trx, old.userId, strength, t, times, ip, proven ? t : old.authenticatedAt);
        await audit(trx);
        return s.id;
      });
    },
    signOutEverywhere: (userId: string) => sessions.revokeUserSessions(db, userId, now()),

    users: {
      create: (input: users.NewUser) => db.transaction().execute((trx) => users.createUser(trx, input)),
      createIn: users.createUser,
      find: (id: string) => users.findUser(db, id),
      findByEmail: (email: string) => users.findUserByEmail(db, email),
      list: (workspace: string) => users.listUsers(db, workspace),
      count: () => users.countUsers(db),
      rolesIn: (userId: string, workspace: string) => users.rolesIn(db, userId, workspace),
      workspacesOf: (userId: string) => users.workspacesOf(db, userId),
      membershipsOf: (userId: string) => users.membershipsOf(db, userId),
      /** Disable (never the last active owner of a workspace): status change and every session revoked in one transaction; tokens stop at once (checked per use). */
      async disable(userId: string, audit: InTransaction): Promise<void> {
        await db.transaction().execute(async (trx) => {
          const owned = [...(await users.membershipsOf(trx, userId))].filter(([, roles]) => roles.includes('owner')).map(([ws]) => ws);
          await users.keepAnOwner(trx, userId, owned);
          await users.setStatus(trx, userId, 'disabled');
          await sessions.revokeUserSessions(trx, userId, now());
          await audit(trx);
        });
      },
      /** Role change (never demoting a workspace's last active owner) is a privilege change: the user's sessions are revoked (they sign in again). */
      async setRoles(workspace: string, userId: string, roles: Role[], audit: InTransaction): Promise<void> {
        await db.transaction().execute(async (trx) => {
          if (!roles.includes('owner') && (await users.rolesIn(trx, userId, workspace)).includes('owner')) await users.keepAnOwner(trx, userId, [workspace]);
          await users.setRoles(trx, workspace, userId, roles);
          await sessions.revokeUserSessions(trx, userId, now());
          await audit(trx);
        });
      },
      /** Change a password (rules checked with the user's MFA state); other sessions are revoked. */
      async changePassword(userId: string, password: string, keepSession: string | undefined, audit: InTransaction): Promise<void> {
        const u = await users.findUser(db, userId);
        if (!u) return;
        const why = checkPassword(password, { email: u.email, displayName: u.displayName, mfa: u.mfaEnabled });
        if (why) throw users.passwordRefused(why);
        const hash = await hashPassword(password);
        await db.transaction().execute(async (trx) => {
          await users.setPasswordHash(trx, userId, hash);
          await sessions.revokeUserSessions(trx, userId, now(), keepSession);
          await audit(trx);
        });
      },
    },

    mfa: {
      startEnrolment: (userId: string, email: string) => mfa.startEnrolment(db, deps.barrier, userId, email),
      confirmEnrolment: (userId: string, code: string) => mfa.confirmEnrolment(db, deps.barrier, userId, code, now()),
      reset: (userId: string) => mfa.resetMfa(db, userId, now()),
    },

    tokens: {
      create: (input: tokens.NewToken) => tokens.createToken(db, input, now()),
      list: (filter: { userId: string } | { workspace: string }) => tokens.listTokens(db, filter),
      find: (id: string) => tokens.findToken(db, id),
      revoke: (id: string) => tokens.revokeToken(db, id, now()),
    },
    serviceAccounts: {
      create: (workspace: string, name: string, role: Role, createdBy: string) => tokens.createServiceAccount(db, workspace, name, role, createdBy),
      find: (workspace: string, id: string) => tokens.findServiceAccount(db, workspace, id),
      list: (workspace: string) => tokens.listServiceAccounts(db, workspace),
      disable: (id: string) => tokens.disableServiceAccount(db, id, now()),
    },

    issueSetupToken: () => setup.issueSetupToken(db, now()),
    redeemSetupToken: (token: string, user: { email: string; password: string; displayName: string }, audit: InTransaction) => setup.redeemSetupToken(db, token, user, now(), audit),
  };
}

export type IdentityModule = ReturnType<typeof createIdentityModule>;
