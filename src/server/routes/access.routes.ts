/**
 * Workspace policies: admins add Cedar policies that apply to their workspace only. Each policy
 * is validated against the schema before it is saved (422 with Cedar's messages otherwise), and
 * the change is audited in the same transaction.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../db/schema.ts';
import { addPolicy, listPolicies, removePolicy, type AccessControl } from '../../modules/access/index.ts';
import type { AuditContext } from '../audit-context.ts';

export interface AccessRoutesDeps {
  db: Kysely<Database>;
  accessControl: AccessControl;
  audit: AuditContext;
}

const ws = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a workspace id');
const policyOut = z.object({ id: z.string(), workspace: z.string(), text: z.string(), createdBy: z.string(), createdAt: z.date() });

export function registerAccessRoutes(app: FastifyInstance, deps: AccessRoutesDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, accessControl, audit } = deps;

  r.get(
    '/api/v1/workspaces/:ws/policies',
    {
      config: { access: { action: 'access.policy.list', audit: 'access.policy.list' } },
      schema: { params: z.object({ ws }), response: { 200: z.object({ builtin: z.array(z.string()), policies: z.array(policyOut) }) } },
    },
    async (request) => {
      await audit.recordAlone(request, { action: 'access.policy.list', resource: { type: 'access-policy', workspace: request.params.ws } });
      return { builtin: [...accessControl.builtinPolicyIds], policies: await listPolicies(db, request.params.ws) };
    },
  );

  r.post(
    '/api/v1/workspaces/:ws/policies',
    {
      config: { access: { action: 'access.policy.create', audit: 'access.policy.create' } },
      schema: { params: z.object({ ws }), body: z.strictObject({ text: z.string().min(1).max(16_384) }), response: { 201: policyOut } },
    },
    async (request, reply) => {
      const w = request.params.ws;
      const saved = await addPolicy(db, accessControl, { workspace: w, text: request.body.text, createdBy: request.actor.id }, (trx) =>
        audit.recordIn(trx, request, { action: 'access.policy.create', resource: { type: 'access-policy', workspace: w } }),
      );
      return reply.code(201).send(saved);
    },
  );

  r.delete(
    '/api/v1/workspaces/:ws/policies/:id',
    { config: { access: { action: 'access.policy.delete', audit: 'access.policy.delete' } }, schema: { params: z.object({ ws, id: z.uuid() }) } },
    async (request, reply) => {
      const { ws: w, id } = request.params;
      await removePolicy(db, accessControl, { workspace: w, id }, (trx) => audit.recordIn(trx, request, { action: 'access.policy.delete', resource: { type: 'access-policy', id, workspace: w } }));
      return reply.code(204).send();
    },
  );
}
