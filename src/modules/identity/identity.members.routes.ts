/**
 * Admin changes to one member, and the members' names — declarations only.
 *
 * - enable: undoes a disable (the account works again everywhere, so the caller must be allowed
 *   to manage the user in every workspace they belong to — the rule of disable).
 * - attributes: department, region and clearance, which the built-in tag rules read (a `pii` tag
 *   needs clearance ≥ 2). Replaced as a whole. The role rules apply: only members at or below
 *   the caller's rank, and a non-owner gives only values it holds (clearance up to its own).
 * - MFA reset of another user: needs a recent re-authentication of the admin; ends every session
 *   of the user, who signs in with the password and (owner/admin) must enrol again at once.
 * - members: id, name and email of everyone in the workspace, for every role of it, so a page can
 *   say who uploaded or changed something instead of showing an id.
 * Refusals by the role rules are `deny(reason)`, recorded by the pipeline as `denied`, and the work
 * runs with its event in one transaction (`commit`).
 */
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import { workspaceParams } from '../../contracts/common.ts';
import { route, type RouteDef } from '../../http/route.ts';
import { memberOf, refuse, refuseEverywhere, rolesOf } from './identity.route-rules.ts';
import type { IdentityModule } from './identity.service.ts';
import { refuseAttributes, refuseManage } from './role-rules.ts';
import {
  memberListAnswer,
  memberParams,
  userMfaResetAnswer,
  userAttributesAnswer,
  userAttributesBody,
} from '../../contracts/identity.ts';

export interface MemberRoutesDeps {
  identity: IdentityModule;
}

const base = '/api/v1/workspaces/:ws';

export function memberRoutes({ identity }: MemberRoutesDeps): RouteDef[] {
  return [
    route({
      method: 'POST',
      url: `${base}/users/:id/enable`,
      action: 'identity.user.enable',
      run: 'explicit',
      resource: 'workspace',
      schema: { params: memberParams, response: { 200: z.object({ enabled: z.literal(true) }) } },
      handler: async (ctx) => {
        const { input, actor, event } = ctx;
        const { ws: workspaceId, id } = input.params;
        const { user } = await memberOf(identity, workspaceId, id);
        refuse(ctx, await refuseEverywhere(identity, actor, workspaceId, id));
        event.resource({ type: 'user', id, workspace: workspaceId });
        event.details({ was: user.status });
        await ctx.commit((trx) => identity.account.enable(trx, id));
        return { enabled: true as const };
      },
    }),

    route({
      method: 'PUT',
      url: `${base}/users/:id/attributes`,
      action: 'identity.user.update',
      run: 'explicit',
      resource: 'workspace',
      schema: {
        params: memberParams,
        body: userAttributesBody,
        response: { 200: userAttributesAnswer },
      },
      handler: async (ctx) => {
        const { input, actor, event } = ctx;
        const { ws: workspaceId, id } = input.params;
        const { roles } = await memberOf(identity, workspaceId, id);
        const mine = rolesOf(actor.roles);
        const next = Object.fromEntries(
          Object.entries(input.body.attributes).filter(([, v]) => v !== undefined && v !== ''),
        ) as Record<string, string | number>;
        refuse(ctx, refuseManage(mine, roles) ?? refuseAttributes(mine, actor.attributes, next));
        event.resource({ type: 'user', id, workspace: workspaceId });
        event.details({ attributes: next });
        await ctx.commit((trx) => identity.account.setAttributes(trx, id, next));
        return { attributes: next };
      },
    }),

    route({
      method: 'POST',
      url: `${base}/users/:id/mfa/reset`,
      action: 'identity.user.mfa-reset',
      run: 'explicit',
      resource: 'workspace',
      reauth: true,
      schema: {
        params: memberParams,
        response: { 200: userMfaResetAnswer },
      },
      handler: async (ctx) => {
        const { input, actor, event } = ctx;
        const { ws: workspaceId, id } = input.params;
        const { user, roles } = await memberOf(identity, workspaceId, id);
        if (id === actor.id)
          throw new AppError('CONFLICT', { detail: 'Reset your own MFA from Your account (DELETE /api/v1/auth/mfa).' });
        refuse(ctx, refuseManage(rolesOf(actor.roles), roles));
        event.resource({ type: 'user', id, workspace: workspaceId });
        event.details({ wasEnrolled: user.mfaEnabled });
        const sessionsEnded = await ctx.commit((trx) => identity.account.resetMfaOf(trx, id));
        return { reset: true as const, sessionsEnded };
      },
    }),

    route({
      method: 'GET',
      url: `${base}/members`,
      action: 'identity.member.list',
      run: 'read',
      resource: 'workspace',
      schema: {
        params: workspaceParams,
        response: {
          200: memberListAnswer,
        },
      },
      handler: async ({ input }) => ({ members: await identity.account.memberNames(input.params.ws) }),
    }),
  ];
}
