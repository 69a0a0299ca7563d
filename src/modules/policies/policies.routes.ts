/**
 * Data policies over HTTPS (issue 17) — declarations only; the work is `policies.service.ts`.
 * Every change commits with its audit event, which carries the policy before and after (policy
 * documents are not secret: they name columns and conditions, the keyed-hash key is never in one).
 */

import type { JsonValue } from '../../core/audit/event.ts';
import { workspaceParams } from '../../contracts/common.ts';
import { route, type RouteDef } from '../../http/route.ts';
import { piiDefaultAnswer, piiDefaultBody, savePolicyRequest, type PolicyOut } from '../../contracts/policies.ts';
import { z } from 'zod';
import type { PoliciesService } from './policies.service.ts';
import { nameParams } from '../../contracts/policies.ts';

const base = '/api/v1/workspaces/:ws/data-policies';
const policyRef = (workspaceId: string, name: string) => ({ type: 'data-policy', id: name, workspace: workspaceId });
const json = (p: PolicyOut | null): JsonValue => (p ? (JSON.parse(JSON.stringify(p)) as JsonValue) : null);

export function policiesRoutes({ policies }: { policies: PoliciesService }): RouteDef[] {
  const load = ({ params }: { params: { ws: string; name: string } }) =>
    policies
      .show(params.ws, params.name)
      .then((row) => ({ ref: policyRef(params.ws, params.name), row }))
      .catch(() => ({ ref: policyRef(params.ws, params.name), row: undefined }));
  const missing = 'No data policy with this name in this workspace.';

  return [
    route({
      method: 'GET',
      url: base,
      action: 'policy.rule.list',
      resource: 'workspace',
      run: 'read',
      schema: { params: workspaceParams },
      handler: async ({ input }) => ({ policies: await policies.list(input.params.ws) }),
    }),

    route({
      method: 'GET',
      url: `${base}/:name`,
      action: 'policy.rule.read',
      resource: load,
      mustExist: missing,
      run: 'read',
      schema: { params: nameParams },
      handler: async ({ row }) => row,
    }),

    route({
      method: 'GET',
      url: `${base}/:name/history`,
      action: 'policy.rule.read',
      resource: ({ params }) => ({ ref: policyRef(params.ws, params.name) }),
      run: 'read',
      schema: { params: nameParams },
      handler: async ({ input }) => ({ versions: await policies.history(input.params.ws, input.params.name) }),
    }),

    route({
      method: 'PUT',
      url: `${base}/:name`,
      action: 'policy.rule.update',
      // Create or update, decided by whether the policy exists now.
      resource: async (input) => {
        const l = await load(input);
        return { ...l, action: l.row ? 'policy.rule.update' : 'policy.rule.create' };
      },
      run: 'write',
      schema: { params: nameParams, body: savePolicyRequest },
      handler: async ({ input, actor, trx, event, reply }) => {
        const { ws: workspaceId, name } = input.params;
        const r = await policies.save(
          {
            ws: workspaceId,
            name,
            body: input.body.policy,
            dryRun: input.body.dryRun,
            actor: actor.id,
            ...(input.body.expectedVersion !== undefined ? { expected: input.body.expectedVersion } : {}),
          },
          (work) => work(trx),
        );
        event.details({
          dryRun: input.body.dryRun,
          changed: r.changed,
          version: r.after.version,
          before: json(r.before),
          after: json(r.after),
        });
        if (!r.before && !input.body.dryRun) void reply.code(201);
        return { ...r.after, changed: r.changed, dryRun: input.body.dryRun, accessDiff: r.diff };
      },
    }),

    // The workspace's default policy for pii.* columns (policies.pii.ts): read and set with the
    // rights on data policies; the event carries the setting before and after.
    route({
      method: 'GET',
      url: '/api/v1/workspaces/:ws/policy-defaults/pii',
      action: 'policy.rule.read',
      resource: ({ params }) => ({ ref: policyRef(params.ws, 'pii-defaults') }),
      run: 'read',
      schema: { params: workspaceParams, response: { 200: piiDefaultAnswer } },
      handler: async ({ input }) => (await policies.piiDefault(input.params.ws)) ?? { setting: null },
    }),
    route({
      method: 'PUT',
      url: '/api/v1/workspaces/:ws/policy-defaults/pii',
      action: 'policy.rule.update',
      resource: ({ params }) => ({ ref: policyRef(params.ws, 'pii-defaults') }),
      run: 'write',
      schema: {
        params: workspaceParams,
        body: z.strictObject({ setting: piiDefaultBody.nullable() }),
        response: { 200: piiDefaultAnswer },
      },
      handler: async ({ input, actor, trx, event }) => {
        const before = await policies.piiDefault(input.params.ws, trx);
        await policies.setPiiDefault(trx, input.params.ws, input.body.setting, actor.id);
        event.details({ before: (before?.setting ?? null) as JsonValue, after: input.body.setting as JsonValue });
        return input.body.setting
          ? { setting: input.body.setting, updatedBy: actor.id, updatedAt: new Date().toISOString() }
          : { setting: null };
      },
    }),

    route({
      method: 'DELETE',
      url: `${base}/:name`,
      action: 'policy.rule.delete',
      resource: load,
      mustExist: missing,
      // `stream`: the answer leaves only after the change and its event committed.
      run: 'explicit',
      status: 204,
      schema: { params: nameParams },
      handler: async ({ input, actor, commit, event, reply }) => {
        // The event (with the policy before) commits in the same transaction as the deletion.
        await policies.remove({ ...input.params, actor: actor.id }, (work) =>
          commit(async (trx) => {
            const r = await work(trx);
            event.details({ before: json(r as PolicyOut), after: null });
            return r;
          }),
        );
        return reply.send();
      },
    }),
  ];
}
