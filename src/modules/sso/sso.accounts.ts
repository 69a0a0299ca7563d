/**
 * What a verified single sign-on does to accounts, in one transaction with its events:
 *
 * 1. Required groups: a provider that names any refuses a person in none of them.
 * 2. The account is the one linked to (issuer, subject) — never found by email. Without a link:
 *    - a sign-in started by a signed-in user (`link`) links to that user (they proved both);
 *    - an existing account with the same email is linked only when the IdP marked the email
 *      verified (OIDC `email_verified: true`) AND the provider lists its domain in
 *      `emailLinkDomains`; otherwise the sign-in is refused (`email-in-use`) — whatever the
 *      account's role, whichever provider asks;
 *    - else a new account is provisioned just in time, only if the groups give it a role.
 * 3. Roles are recomputed from the groups in every workspace that maps this provider; a change
 *    goes through identity's `setRoles` (every session of the user revoked). A workspace's last
 *    owner keeps the owner role whatever the groups say (recorded `denied`, reason `last-owner`);
 *    a workspace whose SCIM client deprovisioned the user gives no role.
 *    A person left with no membership at all is refused (`no-role`) — after the removal commits.
 * 4. The session: `sso+mfa` when the IdP asserted MFA, `sso-pending-mfa` when it did not and the
 *    user has local TOTP, else `sso`.
 */
import type { Kysely, Transaction } from 'kysely';
import { ANONYMOUS } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { Role } from '../../db/tables/identity.ts';
import type { RecordExtraEvent } from '../../http/extra-events.ts';
import type { IdentityModule, Strength, User } from '../identity/index.ts';
import type { Asserted } from './sso.claims.ts';
import { SsoRefusal, type SsoReason } from './sso.errors.ts';
import type { Provider } from './sso.providers.ts';
import * as store from './sso.store.ts';

export const SIGN_IN = 'identity.session.create';

export interface AccountDeps {
  db: Kysely<Database>;
  identity: IdentityModule;
}

/** Roles per workspace that this provider maps, for these groups (a workspace with none maps to []). */
export function rolesFromGroups(mappings: readonly store.Mapping[], groups: readonly string[]): Map<string, Role[]> {
  const have = new Set(groups);
  const out = new Map<string, Role[]>();
  for (const m of mappings) {
    const roles = out.get(m.workspace) ?? [];
    if ((m.group === '*' || have.has(m.group)) && !roles.includes(m.role)) roles.push(m.role);
    out.set(m.workspace, roles);
  }
  for (const roles of out.values()) roles.sort();
  return out;
}

/** True when the user is the last active owner of the workspace (the row is locked). */
async function isLastOwner(
  deps: AccountDeps,
  trx: Transaction<Database>,
  userId: string,
  workspaceId: string,
): Promise<boolean> {
  try {
    await deps.identity.users.keepAnOwner(trx, userId, workspaceId);
    return false;
  } catch (err) {
    if (err instanceof AppError && err.code === 'CONFLICT') return true;
    throw err;
  }
}

const sameRoles = (a: readonly Role[], b: readonly Role[]) => a.length === b.length && a.every((r, i) => r === b[i]);

interface Outcome {
  refused?: SsoReason;
  user?: User;
  sessionId?: string;
  strength?: Strength;
}

async function findOrCreateUser(
  deps: AccountDeps,
  trx: Transaction<Database>,
  p: Provider,
  a: Asserted,
  linkUserId: string | null,
  wanted: Map<string, Role[]>,
  record: RecordExtraEvent,
): Promise<{ user?: User; refused?: SsoReason }> {
  const linked = await store.findIdentity(trx, a.issuer, a.subject);
  if (linked) {
    if (linkUserId && linked.userId !== linkUserId) return { refused: 'identity-linked-elsewhere' };
    return { user: await deps.identity.users.find(linked.userId, trx) };
  }
  const link = async (userId: string, via: string) => {
    await store.linkIdentity(trx, { issuer: a.issuer, subject: a.subject, userId, providerId: p.id });
    await record(
      { action: 'sso.identity.link', resource: { type: 'user', id: userId }, details: { provider: p.id, via } },
      trx,
    );
    return { user: await deps.identity.users.find(userId, trx) };
  };
  if (linkUserId) return link(linkUserId, 'signed-in user completed single sign-on');
  const email = a.email ?? (/^[^\s@]+@[^\s@]+$/.test(a.subject) ? a.subject : undefined);
  if (!email) return { refused: 'missing-email' };
  const existing = await deps.identity.users.findByEmail(email, trx);
  if (existing) {
    const domain = email.split('@').pop()!.toLowerCase();
    if (p.kind === 'oidc' && a.emailVerified && p.settings.emailLinkDomains.includes(domain))
      return link(existing.id, `verified email in ${domain}`);
    return { refused: 'email-in-use' };
  }
  if (![...wanted.values()].some((r) => r.length > 0)) return { refused: 'no-role' };
  const created = await deps.identity.users.createIn(trx, {
    email,
    displayName: (a.displayName ?? email).slice(0, 200),
    memberships: [],
  });
  await store.linkIdentity(trx, { issuer: a.issuer, subject: a.subject, userId: created.id, providerId: p.id });
  await record(
    {
      action: 'sso.user.provision',
      resource: { type: 'user', id: created.id },
      details: { provider: p.id, email },
    },
    trx,
  );
  return { user: created };
}

/** Steps 1–4; a refusal is recorded (failure) and thrown as `SsoRefusal`. */
export async function completeSignIn(
  deps: AccountDeps,
  p: Provider,
  a: Asserted,
  pending: store.PendingLogin,
  ip: string | undefined,
  record: RecordExtraEvent,
): Promise<{ user: User; sessionId: string; strength: Strength }> {
  const method = p.kind;
  const refuse = async (reason: SsoReason, userId?: string): Promise<never> => {
    await record({
      action: SIGN_IN,
      outcome: 'failure',
      actor: ANONYMOUS,
      resource: { type: 'user', ...(userId ? { id: userId } : {}) },
      details: { method, provider: p.id, reason },
    });
    const err = new SsoRefusal(reason);
    err.recorded = true;
    throw err;
  };
  const required = p.settings.requiredGroups;
  if (required.length > 0 && !a.groups.some((g) => required.includes(g))) return refuse('required-group-missing');

  const wanted = rolesFromGroups(await store.mappingsOfProvider(deps.db, p.id), a.groups);
  const out: Outcome = await deps.db.transaction().execute(async (trx) => {
    const found = await findOrCreateUser(deps, trx, p, a, pending.linkUserId, wanted, record);
    if (found.refused || !found.user) return { refused: found.refused ?? 'no-role' };
    const user = found.user;
    if (user.status !== 'active') return { refused: 'account-disabled', user };
    // A workspace whose SCIM client deprovisioned the user gives no role, whatever the groups say.
    for (const workspaceId of await store.scimInactiveWorkspaces(trx, user.id))
      if (wanted.has(workspaceId)) wanted.set(workspaceId, []);
    for (const [workspace, mapped] of wanted) {
      let roles = mapped;
      const current = await deps.identity.users.rolesIn(user.id, workspace, trx);
      if (current.includes('owner') && !roles.includes('owner') && (await isLastOwner(deps, trx, user.id, workspace))) {
        // Never demote a workspace's last owner through single sign-on: keep the role, record why.
        await record(
          {
            action: 'sso.membership.sync',
            outcome: 'denied',
            resource: { type: 'workspace', id: workspace, workspace },
            details: { provider: p.id, user: user.id, reason: 'last-owner', roles, kept: 'owner' },
          },
          trx,
        );
        roles = [...roles, 'owner' as Role].sort();
      }
      if (sameRoles(current, roles)) continue;
      await deps.identity.users.setRoles(trx, workspace, user.id, roles);
      await record(
        {
          action: 'sso.membership.sync',
          resource: { type: 'workspace', id: workspace, workspace },
          details: { provider: p.id, user: user.id, roles, previous: current },
        },
        trx,
      );
    }
    if (!(await store.hasMembership(trx, user.id))) return { refused: 'no-role', user };
    const strength: Strength = a.mfa ? 'sso+mfa' : user.mfaEnabled ? 'sso-pending-mfa' : 'sso';
    const sessionId = await deps.identity.sessions.create(trx, user.id, strength, ip);
    const actor = { id: user.id, kind: 'user' as const, roles: [], attributes: {}, authMethod: strength };
    await record(
      {
        action: SIGN_IN,
        actor,
        resource: { type: 'user', id: user.id },
        details: { method, provider: p.id, email: user.email, strength, groups: a.groups.length },
      },
      trx,
    );
    return { user, sessionId, strength };
  });
  if (out.refused || !out.sessionId) return refuse(out.refused ?? 'no-role', out.user?.id);
  return { user: out.user!, sessionId: out.sessionId, strength: out.strength! };
}
