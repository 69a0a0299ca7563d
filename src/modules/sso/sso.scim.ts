/**
 * SCIM 2.0 provisioning (RFC 7643/7644) for one workspace, driven by the IdP between sign-ins.
 *
 * - **Credential**: a per-workspace bearer token (`srscim_…`), bound to one SSO provider, kept as
 *   its SHA-256 only, shown once; rotating replaces it (the old one stops at once).
 * - **Users** are keyed like sign-in: a new SCIM user is linked to (provider issuer, externalId
 *   or else userName) — configure the IdP so that value is the subject it asserts at sign-in. An
 *   existing account is adopted only when that identity is already linked to it; an existing
 *   account with the same email and no such link is refused (409 uniqueness), never taken over.
 * - **Roles** follow the SCIM groups through the workspace's group → role mappings of the token's
 *   provider, recomputed at every change (no sign-in needed); `active: false` removes the
 *   membership in this workspace, revokes every session of the user and the user's API tokens
 *   for this workspace.
 * - **The last owner is never demoted or deprovisioned through SCIM**: deactivating them is
 *   refused (409; the call's event records `reason: last-owner`); a group change that would demote them keeps
 *   the owner role and records `sso.membership.sync` as `denied` with `reason: last-owner`.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { z } from 'zod';
import { AppError, type ErrorCode } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { Role } from '../../db/tables/identity.ts';
import type { RecordExtraEvent } from '../../http/extra-events.ts';
import { randomToken, sha256Hex, type IdentityModule } from '../identity/index.ts';
import { rolesFromGroups } from './sso.accounts.ts';
import {
  SCIM_PATCH,
  scimBoolish as boolish,
  scimGroupIn as groupIn,
  scimMemberRef as memberRef,
  scimPatchIn as patchIn,
  scimUserIn as userIn,
} from '../../contracts/sso.ts';
import * as store from './sso.store.ts';

type Trx = Transaction<Database>;

export const SCIM_TOKEN_PREFIX = 'srscim_';
export const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const SCIM_LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export { SCIM_PATCH };
export const SCIM_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const SCIM_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/** A problem that also carries RFC 7644 §3.12's error fields (`schemas`, `scimType`). */
export function scimError(code: ErrorCode, detail: string, scimType?: string): AppError {
  return new AppError(code, { detail, meta: { schemas: [SCIM_ERROR], ...(scimType ? { scimType } : {}) } });
}
const invalid = (detail: string, scimType = 'invalidValue') => scimError('BAD_REQUEST', detail, scimType);
const notFound = (what: string) => scimError('NOT_FOUND', `No such ${what} in this workspace.`);

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const first = r.error.issues[0]!;
  const where = first.path.length > 0 ? first.path.join('.') : 'body';
  throw invalid(
    `${where}: ${first.message}`,
    first.code === 'invalid_type' && first.path.length === 0 ? 'invalidSyntax' : 'invalidValue',
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** `attr eq "value"` — the one filter IdPs send (RFC 7644 §3.4.2.2); anything else is `invalidFilter`. */
export function parseFilter<A extends string>(
  filter: string | undefined,
  attrs: readonly A[],
): { attr: A; value: string } | undefined {
  if (filter === undefined || filter.trim() === '') return undefined;
  const m = /^\s*([A-Za-z][\w.]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(filter);
  const attr = m && attrs.find((a) => a.toLowerCase() === m[1]!.toLowerCase());
  if (!m || !attr)
    throw invalid(`Only "<attribute> eq \\"value\\"" on ${attrs.join(' or ')} is supported.`, 'invalidFilter');
  return { attr, value: m[2]!.replace(/\\(.)/g, '$1') };
}

/** `startIndex` (1-based) and `count` (0–200, default 100) from the query. */
export function paging(q: Record<string, string | undefined>): { startIndex: number; count: number } {
  const num = (v: string | undefined, d: number) => {
    if (v === undefined) return d;
    if (!/^\d{1,9}$/.test(v)) throw invalid('startIndex and count are non-negative integers.');
    return Number(v);
  };
  return { startIndex: Math.max(1, num(q.startIndex, 1)), count: Math.min(200, num(q.count, 100)) };
}

export interface ScimCaller {
  workspace: string;
  provider: string;
}

export interface ScimDeps {
  db: Kysely<Database>;
  identity: IdentityModule;
  publicUrl: () => string;
  now: () => Date;
}

export function createScim(deps: ScimDeps) {
  const { db, identity, now } = deps;
  const base = () => `${deps.publicUrl()}/scim/v2`;

  const userOut = async (u: store.ScimUserRow, workspaceId: string, ex: store.Executor = db) => ({
    schemas: [SCIM_USER],
    id: u.userId,
    ...(u.externalId !== null ? { externalId: u.externalId } : {}),
    userName: u.userName,
    displayName: u.displayName,
    emails: [{ value: u.email, primary: true }],
    active: u.active,
    groups: await groupsOfUser(ex, workspaceId, u.userId),
    meta: {
      resourceType: 'User',
      created: u.createdAt.toISOString(),
      lastModified: u.updatedAt.toISOString(),
      location: `${base()}/Users/${u.userId}`,
    },
  });
  const groupsOfUser = async (ex: store.Executor, workspaceId: string, userId: string) => {
    const names = await store.scimGroupNamesOf(ex, workspaceId, userId);
    return names.map((display) => ({ display }));
  };
  const groupOut = (g: store.ScimGroupRow, withMembers = true) => ({
    schemas: [SCIM_GROUP],
    id: g.id,
    displayName: g.displayName,
    ...(g.externalId !== null ? { externalId: g.externalId } : {}),
    ...(withMembers ? { members: g.members.map((value) => ({ value, $ref: `${base()}/Users/${value}` })) } : {}),
    meta: {
      resourceType: 'Group',
      created: g.createdAt.toISOString(),
      lastModified: g.updatedAt.toISOString(),
      location: `${base()}/Groups/${g.id}`,
    },
  });
  const list = <T>(total: number, startIndex: number, items: T[]) => ({
    schemas: [SCIM_LIST],
    totalResults: total,
    startIndex,
    itemsPerPage: items.length,
    Resources: items,
  });

  const mustUser = async (ex: store.Executor, workspaceId: string, id: string) => {
    const u = UUID.test(id) ? await store.scimUser(ex, workspaceId, id) : undefined;
    if (!u) throw notFound('user');
    return u;
  };
  const mustGroup = async (ex: store.Executor, workspaceId: string, id: string) => {
    const g = UUID.test(id) ? await store.scimGroup(ex, workspaceId, id) : undefined;
    if (!g) throw notFound('group');
    return g;
  };

  /** True when `userId` is the last active owner of the workspace (locks the workspace row). */
  async function isLastOwner(trx: Trx, workspaceId: string, userId: string): Promise<boolean> {
    if (!(await identity.users.rolesIn(userId, workspaceId, trx)).includes('owner')) return false;
    try {
      await identity.users.keepAnOwner(trx, userId, workspaceId);
      return false;
    } catch (err) {
      if (err instanceof AppError && err.code === 'CONFLICT') return true;
      throw err;
    }
  }

  /**
   * Roles in `ws` from the user's SCIM groups through the provider's mappings there (none when
   * deprovisioned). A workspace that maps nothing for the provider is left alone, as at sign-in.
   */
  async function syncRoles(trx: Trx, c: ScimCaller, userId: string, record: RecordExtraEvent): Promise<void> {
    const su = await store.scimUser(trx, c.workspace, userId);
    const mappings = (await store.mappingsOfProvider(trx, c.provider)).filter((m) => m.workspace === c.workspace);
    if (su?.active && mappings.length === 0) return;
    const groups = su?.active ? await store.scimGroupNamesOf(trx, c.workspace, userId) : [];
    let wanted: Role[] = su?.active ? (rolesFromGroups(mappings, groups).get(c.workspace) ?? []) : [];
    const current = await identity.users.rolesIn(userId, c.workspace, trx);
    if (current.includes('owner') && !wanted.includes('owner') && (await isLastOwner(trx, c.workspace, userId))) {
      await record(
        {
          action: 'sso.membership.sync',
          outcome: 'denied',
          resource: { type: 'workspace', id: c.workspace, workspace: c.workspace },
          details: {
            provider: c.provider,
            user: userId,
            via: 'scim',
            reason: 'last-owner',
            roles: wanted,
            kept: 'owner',
          },
        },
        trx,
      );
      wanted = [...wanted, 'owner' as Role].sort();
    }
    if (wanted.length === current.length && wanted.every((r, i) => r === current[i])) return;
    await identity.users.setRoles(trx, c.workspace, userId, wanted);
    await record(
      {
        action: 'sso.membership.sync',
        resource: { type: 'workspace', id: c.workspace, workspace: c.workspace },
        details: { provider: c.provider, user: userId, via: 'scim', roles: wanted, previous: current },
      },
      trx,
    );
  }

  /** Deprovision in this workspace: no membership, every session and the workspace's API tokens revoked. */
  async function deactivate(trx: Trx, c: ScimCaller, userId: string, record: RecordExtraEvent): Promise<void> {
    if (await isLastOwner(trx, c.workspace, userId))
      throw new AppError('CONFLICT', {
        detail: `This user is the last owner of workspace ${c.workspace}; single sign-on provisioning never deactivates or demotes the last owner. Make someone else an owner first.`,
        meta: { schemas: [SCIM_ERROR], scimType: 'mutability', reason: 'last-owner' },
      });
    await store.updateScimUser(trx, c.workspace, userId, { active: false }, now());
    await syncRoles(trx, c, userId, record);
    await identity.sessions.revokeAll(trx, userId);
    await store.revokeWorkspaceTokensOf(trx, c.workspace, userId, now());
  }

  function emailOf(u: z.output<typeof userIn>): string {
    const emails = u.emails ?? [];
    const email =
      (emails.find((e) => e.primary) ?? emails[0])?.value ?? (EMAIL.test(u.userName) ? u.userName : undefined);
    if (!email || !EMAIL.test(email))
      throw invalid('A user needs an email: emails[primary] or an email-like userName.');
    return email.toLowerCase();
  }

  /** The user fields a PATCH can change (other attributes are accepted and ignored). */
  interface UserChange {
    userName?: string;
    externalId?: string | null;
    active?: boolean;
  }
  function userPatch(ops: z.output<typeof patchIn>['Operations']): UserChange {
    const out: UserChange = {};
    const apply = (attr: string, value: unknown, op: string) => {
      const a = attr.toLowerCase();
      if (a === 'active') {
        if (op === 'remove') throw invalid('active cannot be removed.', 'mutability');
        out.active = parse(boolish, value);
      } else if (a === 'username') {
        if (op === 'remove') throw invalid('userName cannot be removed.', 'mutability');
        out.userName = parse(z.string().trim().min(1).max(320), value).toLowerCase();
      } else if (a === 'externalid') {
        out.externalId = op === 'remove' ? null : parse(z.string().trim().min(1).max(400), value);
      }
    };
    for (const o of ops) {
      if (o.path !== undefined) apply(o.path, o.value, o.op);
      else if (o.op !== 'remove' && o.value !== null && typeof o.value === 'object' && !Array.isArray(o.value))
        for (const [k, v] of Object.entries(o.value as Record<string, unknown>)) apply(k, v, o.op);
      else throw invalid('An operation without a path takes an object value.', 'noTarget');
    }
    return out;
  }

  async function applyUserChange(
    trx: Trx,
    c: ScimCaller,
    u: store.ScimUserRow,
    ch: UserChange,
    record: RecordExtraEvent,
  ) {
    if (ch.userName !== undefined && (await store.scimUserNameTaken(trx, c.workspace, ch.userName, u.userId)))
      throw scimError('CONFLICT', 'Another user of this workspace has this userName.', 'uniqueness');
    if (ch.active === false && u.active) await deactivate(trx, c, u.userId, record);
    await store.updateScimUser(
      trx,
      c.workspace,
      u.userId,
      {
        ...(ch.userName !== undefined ? { userName: ch.userName } : {}),
        ...(ch.externalId !== undefined ? { externalId: ch.externalId } : {}),
        ...(ch.active === true ? { active: true } : {}),
      },
      now(),
    );
    if (ch.active === true && !u.active) await syncRoles(trx, c, u.userId, record);
  }

  /** A group's member list must name users this workspace's SCIM client manages. */
  async function knownMembers(trx: Trx, workspaceId: string, ids: readonly string[]): Promise<string[]> {
    const unique = [...new Set(ids)];
    const bad = unique.find((id) => !UUID.test(id));
    if (bad !== undefined) throw invalid('members: not a user id of this workspace.');
    const known = await store.scimManaged(trx, workspaceId, unique);
    if (known.length !== unique.length) throw invalid('members: not a user id of this workspace.');
    return unique;
  }

  const memberIds = (value: unknown) => parse(z.array(memberRef).max(10_000), value).map((m) => m.value);

  return {
    /** A new token for the workspace (replacing any): returned once, stored as its hash. */
    async rotateToken(trx: Trx, workspaceId: string, provider: string, createdBy: string): Promise<string> {
      const token = `${SCIM_TOKEN_PREFIX}${randomToken(32)}`;
      await store.putScimToken(trx, { workspace: workspaceId, provider, hash: sha256Hex(token), createdBy, at: now() });
      return token;
    },
    revokeToken: (trx: Trx, workspaceId: string) => store.deleteScimToken(trx, workspaceId),
    tokenStatus: (workspaceId: string, ex: store.Executor = db) => store.scimTokenOf(ex, workspaceId),

    /** The caller of a SCIM request, from its `Authorization: Bearer srscim_…` header; else 401. */
    async authenticate(header: string | undefined): Promise<ScimCaller> {
      const m = typeof header === 'string' ? /^Bearer (srscim_[A-Za-z0-9_-]{20,100})$/.exec(header) : null;
      const t = m ? await store.scimTokenByHash(db, sha256Hex(m[1]!)) : undefined;
      if (!t) throw scimError('UNAUTHENTICATED', 'A valid SCIM bearer token is required.');
      return { workspace: t.workspace, provider: t.provider };
    },

    users: {
      async list(c: ScimCaller, q: Record<string, string | undefined>) {
        const filter = parseFilter(q.filter, ['userName', 'externalId'] as const);
        const page = paging(q);
        const r = await store.scimUsers(db, c.workspace, { ...(filter ? { filter } : {}), ...page });
        return list(r.total, page.startIndex, await Promise.all(r.rows.map((u) => userOut(u, c.workspace))));
      },
      get: async (c: ScimCaller, id: string) => userOut(await mustUser(db, c.workspace, id), c.workspace),

      async create(trx: Trx, c: ScimCaller, body: unknown, record: RecordExtraEvent) {
        const u = parse(userIn, body);
        const userName = u.userName.toLowerCase();
        if (await store.scimUserNameTaken(trx, c.workspace, userName))
          throw scimError('CONFLICT', 'A user with this userName already exists in this workspace.', 'uniqueness');
        const email = emailOf(u);
        const provider = await store.findProvider(trx, c.provider);
        if (!provider) throw scimError('CONFLICT', 'The SCIM token names a provider that no longer exists.');
        const subject = u.externalId ?? u.userName;
        const linked = await store.findIdentity(trx, provider.issuer, subject);
        let userId: string;
        if (linked) {
          // The IdP already proved this identity belongs to that account: adopt it.
          if ((await store.scimManaged(trx, c.workspace, [linked.userId])).length > 0)
            throw scimError('CONFLICT', 'This identity is already provisioned in this workspace.', 'uniqueness');
          userId = linked.userId;
        } else {
          if (await identity.users.findByEmail(email, trx))
            throw scimError(
              'CONFLICT',
              'An account with this email exists and is not linked to this provider; its owner links it by signing in with single sign-on first.',
              'uniqueness',
            );
          const created = await identity.users.createIn(trx, {
            email,
            displayName: (u.displayName ?? u.name?.formatted ?? email).slice(0, 200),
            memberships: [],
          });
          await store.linkIdentity(trx, {
            issuer: provider.issuer,
            subject,
            userId: created.id,
            providerId: provider.id,
          });
          await record(
            {
              action: 'sso.user.provision',
              resource: { type: 'user', id: created.id },
              details: { provider: provider.id, email, via: 'scim', workspace: c.workspace },
            },
            trx,
          );
          userId = created.id;
        }
        const active = u.active ?? true;
        await store.insertScimUser(trx, {
          workspace: c.workspace,
          userId,
          userName,
          externalId: u.externalId ?? null,
          active,
          at: now(),
        });
        await syncRoles(trx, c, userId, record);
        return userOut((await store.scimUser(trx, c.workspace, userId))!, c.workspace, trx);
      },

      /** PUT: the whole resource; only userName, externalId and active are ours to change. */
      async replace(trx: Trx, c: ScimCaller, id: string, body: unknown, record: RecordExtraEvent) {
        const cur = await mustUser(trx, c.workspace, id);
        const u = parse(userIn, body);
        await applyUserChange(
          trx,
          c,
          cur,
          { userName: u.userName.toLowerCase(), externalId: u.externalId ?? null, active: u.active ?? true },
          record,
        );
        return userOut((await store.scimUser(trx, c.workspace, id))!, c.workspace, trx);
      },

      async patch(trx: Trx, c: ScimCaller, id: string, body: unknown, record: RecordExtraEvent) {
        const cur = await mustUser(trx, c.workspace, id);
        await applyUserChange(trx, c, cur, userPatch(parse(patchIn, body).Operations), record);
        return userOut((await store.scimUser(trx, c.workspace, id))!, c.workspace, trx);
      },

      /** DELETE: deprovisioned here and no longer managed by SCIM (the account itself stays). */
      async remove(trx: Trx, c: ScimCaller, id: string, record: RecordExtraEvent) {
        const cur = await mustUser(trx, c.workspace, id);
        if (cur.active) await deactivate(trx, c, id, record);
        await store.deleteScimUser(trx, c.workspace, id);
      },
    },

    groups: {
      async list(c: ScimCaller, q: Record<string, string | undefined>) {
        const filter = parseFilter(q.filter, ['displayName', 'externalId'] as const);
        const page = paging(q);
        const withMembers = !(q.excludedAttributes ?? '').toLowerCase().split(',').includes('members');
        const r = await store.scimGroups(db, c.workspace, { ...(filter ? { filter } : {}), ...page });
        return list(
          r.total,
          page.startIndex,
          r.rows.map((g) => groupOut(g, withMembers)),
        );
      },
      get: async (c: ScimCaller, id: string) => groupOut(await mustGroup(db, c.workspace, id)),

      async create(trx: Trx, c: ScimCaller, body: unknown, record: RecordExtraEvent) {
        const g = parse(groupIn, body);
        if (await store.scimGroupNameTaken(trx, c.workspace, g.displayName))
          throw scimError('CONFLICT', 'A group with this displayName already exists in this workspace.', 'uniqueness');
        const members = await knownMembers(
          trx,
          c.workspace,
          (g.members ?? []).map((m) => m.value),
        );
        const id = randomUUID();
        await store.insertScimGroup(trx, {
          id,
          workspace: c.workspace,
          displayName: g.displayName,
          externalId: g.externalId ?? null,
          at: now(),
        });
        await store.addScimMembers(trx, id, members);
        for (const m of members) await syncRoles(trx, c, m, record);
        return groupOut((await store.scimGroup(trx, c.workspace, id))!);
      },

      async patch(trx: Trx, c: ScimCaller, id: string, body: unknown, record: RecordExtraEvent) {
        const cur = await mustGroup(trx, c.workspace, id);
        const ops = parse(patchIn, body).Operations;
        const touched = new Set(cur.members);
        const setName = async (v: unknown) => {
          const name = parse(z.string().trim().min(1).max(400), v);
          if (await store.scimGroupNameTaken(trx, c.workspace, name, id))
            throw scimError(
              'CONFLICT',
              'A group with this displayName already exists in this workspace.',
              'uniqueness',
            );
          await store.updateScimGroup(trx, id, { displayName: name }, now());
        };
        const members = async (op: string, value: unknown) => {
          if (op === 'replace') {
            const ids = await knownMembers(trx, c.workspace, memberIds(value));
            await store.removeScimMembers(trx, id, 'all');
            await store.addScimMembers(trx, id, ids);
            ids.forEach((u) => touched.add(u));
          } else if (op === 'add') {
            const ids = await knownMembers(trx, c.workspace, memberIds(value));
            await store.addScimMembers(trx, id, ids);
            ids.forEach((u) => touched.add(u));
          } else if (value === undefined) await store.removeScimMembers(trx, id, 'all');
          else await store.removeScimMembers(trx, id, memberIds(value));
        };
        for (const o of ops) {
          const path = o.path?.trim();
          const filtered = path ? /^members\[\s*value\s+eq\s+"([^"]{1,100})"\s*\]$/i.exec(path) : null;
          if (filtered) {
            if (o.op !== 'remove') throw invalid('Only remove takes a filtered members path.', 'invalidPath');
            await store.removeScimMembers(trx, id, [filtered[1]!]);
          } else if (path?.toLowerCase() === 'members') await members(o.op, o.value);
          else if (path?.toLowerCase() === 'displayname') await setName(o.value);
          else if (path?.toLowerCase() === 'externalid')
            await store.updateScimGroup(
              trx,
              id,
              { externalId: o.op === 'remove' ? null : parse(z.string().trim().min(1).max(400), o.value) },
              now(),
            );
          else if (path === undefined && o.op !== 'remove' && o.value && typeof o.value === 'object') {
            const v = o.value as Record<string, unknown>;
            if ('displayName' in v) await setName(v.displayName);
            if ('members' in v) await members(o.op, v.members);
          } else throw invalid(`Unsupported path for a group: ${path ?? '(none)'}.`, 'invalidPath');
        }
        await store.updateScimGroup(trx, id, {}, now());
        for (const u of touched) await syncRoles(trx, c, u, record);
        return groupOut((await store.scimGroup(trx, c.workspace, id))!);
      },

      async remove(trx: Trx, c: ScimCaller, id: string, record: RecordExtraEvent) {
        const cur = await mustGroup(trx, c.workspace, id);
        await store.deleteScimGroup(trx, id);
        for (const u of cur.members) await syncRoles(trx, c, u, record);
      },
    },
  };
}

export type Scim = ReturnType<typeof createScim>;
