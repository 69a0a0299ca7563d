/**
 * Workspace policies over HTTPS — declarations only. Admins add Cedar policies that apply to
 * their workspace only; each is validated against the schema before it is saved (422 with
 * Cedar's messages otherwise). A change commits with its audit event (the pipeline's `commit`)
 * and takes effect only after that commit.
 */
import { z } from 'zod';
import { workspaceId, workspaceParams } from '../../contracts/common.ts';
import { route, type RouteDef } from '../../http/route.ts';
import type { AccessService } from './access.service.ts';
import { listBuiltinRules } from './builtin-rules.ts';
import { builtinRuleOut, cedarPolicyBody, cedarPolicyListAnswer, policyOut } from '../../contracts/access.ts';

const base = '/api/v1/workspaces/:ws/policies';

export function accessRoutes(access: AccessService): RouteDef[] {
  return [
    route({
      method: 'GET',
      url: base,
      action: 'access.policy.list',
      resource: 'workspace',
      run: 'read',
      schema: {
        params: workspaceParams,
        response: { 200: cedarPolicyListAnswer },
      },
      handler: async ({ input, event }) => {
        event.resource({ type: 'access-policy', workspace: input.params.ws });
        return { builtin: [...access.builtinPolicyIds], policies: await access.list(input.params.ws) };
      },
    }),

    // The built-in rules, read-only, in plain words and as written: what decides besides roles.
    route({
      method: 'GET',
      url: `${base}/builtin`,
      action: 'access.policy.read',
      resource: 'workspace',
      run: 'read',
      schema: { params: workspaceParams, response: { 200: z.object({ rules: z.array(builtinRuleOut) }) } },
      handler: ({ input, event }) => {
        event.resource({ type: 'access-policy', id: 'builtin', workspace: input.params.ws });
        return { rules: [...listBuiltinRules()] };
      },
    }),

    route({
      method: 'POST',
      url: base,
      action: 'access.policy.create',
      resource: 'workspace',
      run: 'explicit',
      status: 201,
      schema: {
        params: workspaceParams,
        body: cedarPolicyBody,
        response: { 201: policyOut },
      },
      handler: async ({ input, actor, event, commit }) => {
        event.resource({ type: 'access-policy', workspace: input.params.ws });
        return access.add({ workspaceId: input.params.ws, text: input.body.text, createdBy: actor.id }, commit);
      },
    }),

    route({
      method: 'DELETE',
      url: `${base}/:id`,
      action: 'access.policy.delete',
      resource: 'workspace',
      run: 'explicit',
      status: 204,
      schema: { params: z.object({ ws: workspaceId, id: z.uuid() }) },
      handler: async ({ input, event, commit, reply }) => {
        const { ws, id } = input.params;
        event.resource({ type: 'access-policy', id, workspace: ws });
        await access.remove({ workspaceId: ws, id }, commit);
        return reply.send();
      },
    }),
  ];
}
