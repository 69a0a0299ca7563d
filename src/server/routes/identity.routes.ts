/**
 * Workspace administration of identities (owners and admins): users and their roles, service
 * accounts and their tokens, and every user's own API tokens. Workspace routes carry `:ws`; the
 * auth plugin has already answered 404 to anyone who is not a member there, and a user, service
 * account or token that is not in this workspace is answered 404 here too.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import { ROLES, refuseAttributes, refuseGrant, refuseManage, type IdentityModule, type Role } from '../../modules/identity/index.ts';
import type { AuditContext } from '../audit-context.ts';
import { requireRecentAuth } from '../plugins/auth.ts';

export interface IdentityRoutesDeps {
  identity: IdentityModule;
  audit: AuditContext;
}

const ws = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a workspace id');
const uuid = z.string().regex(/^[0-9a-f-]{36}$/i, 'an id');
const role = z.enum(ROLES);
const attrValue = z.union([z.string().max(200), z.number(), z.boolean()]);
const attributes = z.strictObject({ department: z.string().max(200).optional(), region: z.string().max(200).optional(), clearance: attrValue.optional() });
const userOut = z.object({ id: z.string(), email: z.string(), displayName: z.string(), status: z.string(), mfaEnabled: z.boolean(), attributes: z.record(z.string(), attrValue), roles: z.array(z.string()) });
const scope = z.string().regex(/^(\*|[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){0,2}(\.\*)?)$/, 'an action name, a prefix ending in .* or *');
const tokenBody = { name: z.string().trim().min(1).max(100), scopes: z.array(scope).min(1).max(50), expiresInDays: z.number().int().min(1).max(365).default(30) };
const tokenOut = z.object({ id: z.string(), name: z.string(), workspace: z.string(), scopes: z.array(z.string()), userId: z.string().nullable(), serviceAccountId: z.string().nullable(), createdAt: z.string(), expiresAt: z.string(), revokedAt: z.string().nullable(), lastUsedAt: z.string().nullable() });
const saOut = z.object({ id: z.string(), workspace: z.string(), name: z.string(), role: z.string(), createdBy: z.string(), createdAt: z.string(), disabledAt: z.string().nullable() });

export function registerIdentityRoutes(app: FastifyInstance, deps: IdentityRoutesDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { identity, audit } = deps;
  const access = (action: string) => ({ access: { action, audit: action } });
  /** The caller's roles in the route's workspace (the auth plugin resolved them for `:ws`). */
  const actorRoles = (request: FastifyRequest): Role[] => request.actor.roles.filter((r): r is Role => (ROLES as readonly string[]).includes(r));
  /** 403 with the rule's reason (the pipeline records the refusal). */
  const refuse = (reason: string | undefined | false) => {
    if (reason) throw new AppError('FORBIDDEN', { detail: reason });
  };

  // Workspaces are created by the platform operator (single organisation per installation); the
  // named user, if any, becomes the first owner in the same transaction as the audit event.
  r.post(
    '/api/v1/workspaces',
    {
      config: access('operator.workspace.create'),
      schema: {
        body: z.strictObject({ id: ws, name: z.string().trim().min(1).max(200), ownerEmail: z.email().max(320).optional() }),
        response: { 201: z.object({ id: z.string(), name: z.string(), ownerId: z.string().nullable() }) },
      },
    },
    async (request, reply) => {
      const { id, name, ownerEmail } = request.body;
      const owner = ownerEmail ? await identity.users.findByEmail(ownerEmail) : undefined;
      if (ownerEmail && !owner) throw new AppError('VALIDATION_FAILED', { detail: 'No user with that email; create the user first.' });
      await audit.run(request, { action: 'operator.workspace.create', resource: { type: 'workspace', id, workspace: id }, details: { owner: owner?.id ?? null } }, async (trx) => {
        const created = await trx.insertInto('workspaces').values({ id, name }).onConflict((oc) => oc.column('id').doNothing()).returning('id').executeTakeFirst();
        if (!created) throw new AppError('CONFLICT', { detail: `Workspace ${id} already exists.` });
        if (owner) await trx.insertInto('memberships').values({ workspace_id: id, user_id: owner.id, role: 'owner' }).execute();
      });
      return reply.code(201).send({ id, name, ownerId: owner?.id ?? null });
    },
  );

  async function memberOf(workspace: string, userId: string) {
    const roles = await identity.users.rolesIn(userId, workspace);
    const user = roles.length > 0 ? await identity.users.find(userId) : undefined;
    if (!user) throw new AppError('NOT_FOUND', { detail: 'No such user in this workspace.' });
    return { user, roles };
  }

  r.get('/api/v1/workspaces/:ws/users', { config: access('identity.user.list'), schema: { params: z.object({ ws }), response: { 200: z.object({ users: z.array(userOut) }) } } }, async (request) => {
    await audit.recordAlone(request, { action: 'identity.user.list', resource: { type: 'workspace', id: request.params.ws, workspace: request.params.ws } });
    return { users: await identity.users.list(request.params.ws) };
  });

  r.post(
    '/api/v1/workspaces/:ws/users',
    {
      config: access('identity.user.create'),
      schema: {
        params: z.object({ ws }),
        body: z.strictObject({ email: z.string().trim().min(3).max(320).regex(/^[^\s@]+@[^\s@]+$/, 'an email address'), displayName: z.string().trim().min(1).max(200), password: z.string().min(1).max(1024).optional(), role, attributes: attributes.optional() }),
        response: { 201: z.object({ user: userOut }) },
      },
    },
    async (request, reply) => {
      const { ws: w } = request.params;
      const b = request.body;
      refuse(refuseGrant(actorRoles(request), [b.role]) ?? refuseAttributes(actorRoles(request), request.actor.attributes ?? {}, b.attributes ?? {}));
      const user = await audit.run(request, { action: 'identity.user.create', resource: { type: 'user', workspace: w }, details: { role: b.role } }, (trx) =>
        identity.users.createIn(trx, { email: b.email, displayName: b.displayName, ...(b.password !== undefined ? { password: b.password } : {}), attributes: b.attributes ?? {}, memberships: [{ workspace: w, role: b.role }] }),
      );
      return reply.code(201).send({ user: { ...user, roles: [b.role] } });
    },
  );

  r.post('/api/v1/workspaces/:ws/users/:id/disable', { config: access('identity.user.disable'), schema: { params: z.object({ ws, id: uuid }) } }, async (request) => {
    const { ws: w, id } = request.params;
    await memberOf(w, id);
    if (id === request.actor.id) throw new AppError('CONFLICT', { detail: 'You cannot disable your own account.' });
    // An account is disabled everywhere: the caller must be allowed to manage it in every
    // workspace it belongs to, not only this one.
    for (const [other, roles] of await identity.users.membershipsOf(id)) {
      const mine = other === w ? actorRoles(request) : await identity.users.rolesIn(request.actor.id, other);
      const why = refuseManage(mine, roles);
      refuse(why && (other === w ? why : `This user also belongs to workspace ${other}, where you cannot manage them.`));
    }
    await identity.users.disable(id, (trx) => audit.recordIn(trx, request, { action: 'identity.user.disable', resource: { type: 'user', id, workspace: w } }));
    return { disabled: true };
  });

  r.put(
    '/api/v1/workspaces/:ws/users/:id/roles',
    { config: access('identity.membership.update'), schema: { params: z.object({ ws, id: uuid }), body: z.strictObject({ roles: z.array(role).min(1).max(ROLES.length) }) } },
    async (request) => {
      const { ws: w, id } = request.params;
      const { roles: current } = await memberOf(w, id);
      if (id === request.actor.id && !actorRoles(request).includes('owner')) throw new AppError('FORBIDDEN', { detail: 'Only an owner can change their own roles.' });
      refuse(refuseManage(actorRoles(request), current) ?? refuseGrant(actorRoles(request), request.body.roles));
      await identity.users.setRoles(w, id, request.body.roles, (trx) => audit.recordIn(trx, request, { action: 'identity.membership.update', resource: { type: 'user', id, workspace: w }, details: { roles: request.body.roles } }));
      return { roles: request.body.roles };
    },
  );

  // Service accounts.
  r.get('/api/v1/workspaces/:ws/service-accounts', { config: access('identity.service-account.list'), schema: { params: z.object({ ws }), response: { 200: z.object({ serviceAccounts: z.array(saOut) }) } } }, async (request) => {
    await audit.recordAlone(request, { action: 'identity.service-account.list', resource: { type: 'workspace', id: request.params.ws, workspace: request.params.ws } });
    return { serviceAccounts: await identity.serviceAccounts.list(request.params.ws) };
  });

  r.post(
    '/api/v1/workspaces/:ws/service-accounts',
    { config: access('identity.service-account.create'), schema: { params: z.object({ ws }), body: z.strictObject({ name: z.string().trim().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lower-case letters, digits, . _ -'), role: z.enum(['steward', 'engineer', 'analyst', 'viewer', 'auditor']) }), response: { 201: saOut } } },
    async (request, reply) => {
      refuse(refuseGrant(actorRoles(request), [request.body.role]));
      const sa = await identity.serviceAccounts.create(request.params.ws, request.body.name, request.body.role, request.actor.id);
      await audit.recordAlone(request, { action: 'identity.service-account.create', resource: { type: 'service-account', id: sa.id, workspace: sa.workspace }, details: { role: sa.role } });
      return reply.code(201).send(sa);
    },
  );

  r.post('/api/v1/workspaces/:ws/service-accounts/:id/disable', { config: access('identity.service-account.disable'), schema: { params: z.object({ ws, id: uuid }) } }, async (request) => {
    const sa = await identity.serviceAccounts.find(request.params.ws, request.params.id);
    if (!sa) throw new AppError('NOT_FOUND', { detail: 'No such service account in this workspace.' });
    refuse(refuseManage(actorRoles(request), [sa.role as Role]));
    await identity.serviceAccounts.disable(sa.id);
    await audit.recordAlone(request, { action: 'identity.service-account.disable', resource: { type: 'service-account', id: sa.id, workspace: sa.workspace } });
    return { disabled: true };
  });

  r.post(
    '/api/v1/workspaces/:ws/service-accounts/:id/tokens',
    { config: access('identity.token.create'), schema: { params: z.object({ ws, id: uuid }), body: z.strictObject(tokenBody), response: { 201: z.object({ token: z.string(), info: tokenOut }) } } },
    async (request, reply) => {
      requireRecentAuth(request);
      const sa = await identity.serviceAccounts.find(request.params.ws, request.params.id);
      if (!sa || sa.disabledAt) throw new AppError('NOT_FOUND', { detail: 'No such service account in this workspace.' });
      const created = await identity.tokens.create({ ...request.body, workspace: sa.workspace, owner: { serviceAccountId: sa.id } });
      await audit.recordAlone(request, { action: 'identity.token.create', resource: { type: 'api-token', id: created.info.id, workspace: sa.workspace }, details: { serviceAccount: sa.id, scopes: created.info.scopes } });
      return reply.code(201).send(created);
    },
  );

  r.get('/api/v1/workspaces/:ws/tokens', { config: access('identity.token.list'), schema: { params: z.object({ ws }), response: { 200: z.object({ tokens: z.array(tokenOut) }) } } }, async (request) => {
    await audit.recordAlone(request, { action: 'identity.token.list', resource: { type: 'workspace', id: request.params.ws, workspace: request.params.ws } });
    return { tokens: await identity.tokens.list({ workspace: request.params.ws }) };
  });

  r.delete('/api/v1/workspaces/:ws/tokens/:id', { config: access('identity.token.revoke'), schema: { params: z.object({ ws, id: z.string().regex(/^[0-9a-f]{12}$/) }) } }, async (request) => {
    const t = await identity.tokens.find(request.params.id);
    if (!t || t.workspace !== request.params.ws) throw new AppError('NOT_FOUND', { detail: 'No such token in this workspace.' });
    await identity.tokens.revoke(t.id);
    await audit.recordAlone(request, { action: 'identity.token.revoke', resource: { type: 'api-token', id: t.id, workspace: t.workspace } });
    return { revoked: true };
  });

  // Your own API tokens.
  const ownToken = async (request: FastifyRequest, id: string) => {
    const t = await identity.tokens.find(id);
    if (!t || t.userId !== request.actor.id) throw new AppError('NOT_FOUND', { detail: 'No such token.' });
    return t;
  };

  r.post(
    '/api/v1/tokens',
    { config: { access: { action: 'identity.self.token-create', audit: 'identity.token.create' } }, schema: { body: z.strictObject({ ...tokenBody, workspace: ws }), response: { 201: z.object({ token: z.string(), info: tokenOut }) } } },
    async (request, reply) => {
      requireRecentAuth(request);
      const { workspace } = request.body;
      if ((await identity.users.rolesIn(request.actor.id, workspace)).length === 0) throw new AppError('NOT_FOUND', { detail: 'No such workspace.' });
      const created = await identity.tokens.create({ ...request.body, owner: { userId: request.actor.id } });
      await audit.recordAlone(request, { action: 'identity.token.create', resource: { type: 'api-token', id: created.info.id, workspace }, details: { scopes: created.info.scopes, expiresAt: created.info.expiresAt } });
      return reply.code(201).send(created);
    },
  );

  r.get('/api/v1/tokens', { config: { access: { action: 'identity.self.token-list', audit: 'identity.token.list' } }, schema: { response: { 200: z.object({ tokens: z.array(tokenOut) }) } } }, async (request) => {
    await audit.recordAlone(request, { action: 'identity.token.list', resource: { type: 'user', id: request.actor.id } });
    return { tokens: await identity.tokens.list({ userId: request.actor.id }) };
  });

  r.delete('/api/v1/tokens/:id', { config: { access: { action: 'identity.self.token-revoke', audit: 'identity.token.revoke' } }, schema: { params: z.object({ id: z.string().regex(/^[0-9a-f]{12}$/) }) } }, async (request) => {
    const t = await ownToken(request, request.params.id);
    await identity.tokens.revoke(t.id);
    await audit.recordAlone(request, { action: 'identity.token.revoke', resource: { type: 'api-token', id: t.id, workspace: t.workspace } });
    return { revoked: true };
  });
}
