/**
 * Workspace administration of identities (owners and admins): users and their roles, service
 * accounts and their tokens; workspace creation (the operator); every user's own API tokens.
 *
 * Declarations only. Cedar decides once per route on the workspace (routes with `:ws`; the auth
 * plugin has already answered 404 to anyone who is not a member there), the installation, or the
 * caller's own account. A user, service account or token that is not in this workspace is
 * answered 404 here. Routes that set or remove roles then apply the role rules (`role-rules.ts`):
 * they run their work with `commit` after the rules (`run: 'explicit'`, the pipeline's explicit
 * commit), so a rule's refusal (`deny`) is recorded by the pipeline as `denied` and never opens a
 * transaction, while the work and its event still share one.
 */
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import { workspaceId as workspaceIdSchema, workspaceParams } from '../../contracts/common.ts';
import { route, type RouteDef } from '../../http/route.ts';
import { ROLES } from '../../db/tables/identity.ts';
import { memberOf as memberIn, refuse, refuseEverywhere, rolesOf } from './identity.route-rules.ts';
import type { IdentityModule } from './identity.service.ts';
import { refuseAttributes, refuseGrant, refuseManage } from './role-rules.ts';
import {
  memberParams,
  role,
  saOut,
  serviceAccountCreateBody,
  tokenBody,
  tokenCreated,
  tokenId,
  tokenOut,
  userCreateBody,
  userCreatedAnswer,
  workspaceCreateBody,
  workspaceCreatedAnswer,
  workspaceUserOut,
} from '../../contracts/identity.ts';

export interface IdentityRoutesDeps {
  identity: IdentityModule;
}

const base = '/api/v1/workspaces/:ws';

export function identityRoutes({ identity }: IdentityRoutesDeps): RouteDef[] {
  const memberOf = (workspaceId: string, id: string) => memberIn(identity, workspaceId, id);

  return [
    // Workspaces are created by the platform operator (one organisation per installation); the
    // named user, if any, becomes the first owner in the same transaction as the event.
    route({
      method: 'POST',
      url: '/api/v1/workspaces',
      action: 'operator.workspace.create',
      run: 'write',
      resource: 'system',
      status: 201,
      schema: {
        body: workspaceCreateBody,
        response: { 201: workspaceCreatedAnswer },
      },
      handler: async ({ trx, input, event }) => {
        const { id, name, ownerEmail } = input.body;
        const owner = ownerEmail ? await identity.users.findByEmail(ownerEmail, trx) : undefined;
        if (ownerEmail && !owner)
          throw new AppError('VALIDATION_FAILED', { detail: 'No user with that email; create the user first.' });
        event.resource({ type: 'workspace', id, workspace: id });
        event.details({ owner: owner?.id ?? null });
        await identity.workspaces.create(trx, id, name, owner?.id);
        return { id, name, ownerId: owner?.id ?? null };
      },
    }),

    route({
      method: 'GET',
      url: `${base}/users`,
      action: 'identity.user.list',
      run: 'read',
      resource: 'workspace',
      schema: { params: workspaceParams, response: { 200: z.object({ users: z.array(workspaceUserOut) }) } },
      handler: async ({ input }) => {
        const [list, last] = await Promise.all([
          identity.users.list(input.params.ws),
          identity.account.lastSignIns(input.params.ws),
        ]);
        return { users: list.map((u) => ({ ...u, lastSignInAt: last.get(u.id) ?? null })) };
      },
    }),

    route({
      method: 'POST',
      url: `${base}/users`,
      action: 'identity.user.create',
      run: 'explicit',
      resource: 'workspace',
      status: 201,
      schema: {
        params: workspaceParams,
        body: userCreateBody,
        response: { 201: userCreatedAnswer },
      },
      handler: async (ctx) => {
        const { input, actor, event } = ctx;
        const b = input.body;
        const mine = rolesOf(actor.roles);
        refuse(ctx, refuseGrant(mine, [b.role]) ?? refuseAttributes(mine, actor.attributes, b.attributes ?? {}));
        event.resource({ type: 'user', workspace: input.params.ws });
        event.details({ role: b.role });
        const user = await ctx.commit((trx) =>
          identity.users.createIn(trx, {
            email: b.email,
            displayName: b.displayName,
            ...(b.password !== undefined ? { password: b.password } : {}),
            attributes: b.attributes ?? {},
            memberships: [{ workspace: input.params.ws, role: b.role }],
          }),
        );
        return { user: { ...user, roles: [b.role], lastSignInAt: null } };
      },
    }),

    route({
      method: 'POST',
      url: `${base}/users/:id/disable`,
      action: 'identity.user.disable',
      run: 'explicit',
      resource: 'workspace',
      schema: { params: memberParams },
      handler: async (ctx) => {
        const { input, actor, event } = ctx;
        const { ws: workspaceId, id } = input.params;
        await memberOf(workspaceId, id);
        if (id === actor.id) throw new AppError('CONFLICT', { detail: 'You cannot disable your own account.' });
        // An account is disabled everywhere: the caller must be allowed to manage it in every
        // workspace it belongs to, not only this one.
        refuse(ctx, await refuseEverywhere(identity, actor, workspaceId, id));
        event.resource({ type: 'user', id, workspace: workspaceId });
        await ctx.commit((trx) => identity.users.disable(trx, id));
        return { disabled: true };
      },
    }),

    route({
      method: 'PUT',
      url: `${base}/users/:id/roles`,
      action: 'identity.membership.update',
      run: 'explicit',
      resource: 'workspace',
      schema: { params: memberParams, body: z.strictObject({ roles: z.array(role).min(1).max(ROLES.length) }) },
      handler: async (ctx) => {
        const { input, actor, event } = ctx;
        const { ws: workspaceId, id } = input.params;
        const { roles: current } = await memberOf(workspaceId, id);
        const mine = rolesOf(actor.roles);
        const selfChange = id === actor.id && !mine.includes('owner') && 'Only an owner can change their own roles.';
        refuse(ctx, selfChange || (refuseManage(mine, current) ?? refuseGrant(mine, input.body.roles)));
        event.resource({ type: 'user', id, workspace: workspaceId });
        event.details({ roles: input.body.roles });
        await ctx.commit((trx) => identity.users.setRoles(trx, workspaceId, id, input.body.roles));
        return { roles: input.body.roles };
      },
    }),

    // Service accounts.
    route({
      method: 'GET',
      url: `${base}/service-accounts`,
      action: 'identity.service-account.list',
      run: 'read',
      resource: 'workspace',
      schema: { params: workspaceParams, response: { 200: z.object({ serviceAccounts: z.array(saOut) }) } },
      handler: async ({ input }) => ({ serviceAccounts: await identity.serviceAccounts.list(input.params.ws) }),
    }),

    route({
      method: 'POST',
      url: `${base}/service-accounts`,
      action: 'identity.service-account.create',
      run: 'explicit',
      resource: 'workspace',
      status: 201,
      schema: {
        params: workspaceParams,
        body: serviceAccountCreateBody,
        response: { 201: saOut },
      },
      handler: async (ctx) => {
        const { input, actor, event } = ctx;
        refuse(ctx, refuseGrant(rolesOf(actor.roles), [input.body.role]));
        return ctx.commit(async (trx) => {
          const sa = await identity.serviceAccounts.create(
            trx,
            input.params.ws,
            input.body.name,
            input.body.role,
            actor.id,
          );
          event.resource({ type: 'service-account', id: sa.id, workspace: sa.workspace });
          event.details({ role: sa.role });
          return sa;
        });
      },
    }),

    route({
      method: 'POST',
      url: `${base}/service-accounts/:id/disable`,
      action: 'identity.service-account.disable',
      run: 'explicit',
      resource: 'workspace',
      schema: { params: memberParams },
      handler: async (ctx) => {
        const { input, actor, event } = ctx;
        const sa = await identity.serviceAccounts.find(input.params.ws, input.params.id);
        if (!sa) throw new AppError('NOT_FOUND', { detail: 'No such service account in this workspace.' });
        refuse(ctx, refuseManage(rolesOf(actor.roles), [sa.role]));
        event.resource({ type: 'service-account', id: sa.id, workspace: sa.workspace });
        await ctx.commit((trx) => identity.serviceAccounts.disable(trx, sa.id));
        return { disabled: true };
      },
    }),

    route({
      method: 'POST',
      url: `${base}/service-accounts/:id/tokens`,
      action: 'identity.token.create',
      run: 'write',
      resource: 'workspace',
      reauth: true,
      status: 201,
      schema: { params: memberParams, body: z.strictObject(tokenBody), response: { 201: tokenCreated } },
      handler: async ({ trx, input, event }) => {
        const sa = await identity.serviceAccounts.find(input.params.ws, input.params.id, trx);
        if (!sa || sa.disabledAt)
          throw new AppError('NOT_FOUND', { detail: 'No such service account in this workspace.' });
        const created = await identity.tokens.create(trx, {
          ...input.body,
          workspace: sa.workspace,
          owner: { serviceAccountId: sa.id },
        });
        event.resource({ type: 'api-token', id: created.info.id, workspace: sa.workspace });
        event.details({ serviceAccount: sa.id, scopes: created.info.scopes });
        return created;
      },
    }),

    route({
      method: 'GET',
      url: `${base}/tokens`,
      action: 'identity.token.list',
      run: 'read',
      resource: 'workspace',
      schema: { params: workspaceParams, response: { 200: z.object({ tokens: z.array(tokenOut) }) } },
      handler: async ({ input }) => ({ tokens: await identity.tokens.list({ workspace: input.params.ws }) }),
    }),

    route({
      method: 'DELETE',
      url: `${base}/tokens/:id`,
      action: 'identity.token.revoke',
      run: 'write',
      resource: 'workspace',
      schema: { params: z.object({ ws: workspaceIdSchema, id: tokenId }) },
      handler: async ({ trx, input, event }) => {
        const t = await identity.tokens.find(input.params.id, trx);
        if (!t || t.workspace !== input.params.ws)
          throw new AppError('NOT_FOUND', { detail: 'No such token in this workspace.' });
        event.resource({ type: 'api-token', id: t.id, workspace: t.workspace });
        await identity.tokens.revoke(trx, t.id);
        return { revoked: true };
      },
    }),

    // Your own API tokens.
    route({
      method: 'POST',
      url: '/api/v1/tokens',
      action: 'identity.self.token-create',
      audit: 'identity.token.create',
      run: 'write',
      resource: 'self',
      reauth: true,
      status: 201,
      schema: { body: z.strictObject({ ...tokenBody, workspace: workspaceIdSchema }), response: { 201: tokenCreated } },
      handler: async ({ trx, actor, input, event }) => {
        const workspaceId = input.body.workspace;
        if ((await identity.users.rolesIn(actor.id, workspaceId, trx)).length === 0)
          throw new AppError('NOT_FOUND', { detail: 'No such workspace.' });
        const created = await identity.tokens.create(trx, { ...input.body, owner: { userId: actor.id } });
        event.resource({ type: 'api-token', id: created.info.id, workspace: workspaceId });
        event.details({ scopes: created.info.scopes, expiresAt: created.info.expiresAt });
        return created;
      },
    }),

    route({
      method: 'GET',
      url: '/api/v1/tokens',
      action: 'identity.self.token-list',
      audit: 'identity.token.list',
      run: 'read',
      resource: 'self',
      schema: { response: { 200: z.object({ tokens: z.array(tokenOut) }) } },
      handler: async ({ actor }) => ({ tokens: await identity.tokens.list({ userId: actor.id }) }),
    }),

    route({
      method: 'DELETE',
      url: '/api/v1/tokens/:id',
      action: 'identity.self.token-revoke',
      audit: 'identity.token.revoke',
      run: 'write',
      resource: 'self',
      schema: { params: z.object({ id: tokenId }) },
      handler: async ({ trx, actor, input, event }) => {
        const t = await identity.tokens.find(input.params.id, trx);
        if (!t || t.userId !== actor.id) throw new AppError('NOT_FOUND', { detail: 'No such token.' });
        event.resource({ type: 'api-token', id: t.id, workspace: t.workspace });
        await identity.tokens.revoke(trx, t.id);
        return { revoked: true };
      },
    }),
  ];
}
