/**
 * Retention, legal holds, workspace termination and a person's rights over HTTPS — declarations
 * only. Every route is the operator's (resource `system`, Cedar actions `retention.*`) but a
 * workspace's own termination, which its owners may also request and cancel (re-authenticated).
 * The purge runs as `stream`: its event is committed before the work starts (fail-closed), and
 * each purge step records its own evidence event with what it deleted.
 */
import { z } from 'zod';
import { route, type RouteDef } from '../../http/route.ts';
import { systemRead, systemRemove } from '../../http/system-routes.ts';
import { classesUpdateSchema } from './retention.classes.ts';
import type { RetentionService } from './retention.service.ts';
import {
  holdBody,
  holdCreatedOut,
  holdParams,
  retentionPreviewOut,
  terminationCancelledOut,
  terminationOut,
  userParams,
  wsBody,
  wsParams,
} from '../../contracts/retention.ts';

const SETTINGS = { type: 'retention-settings', id: 'all' } as const;

export function retentionRoutes({ retention }: { retention: RetentionService }): RouteDef[] {
  return [
    systemRead({
      url: '/api/v1/retention',
      action: 'retention.settings.read',
      resource: SETTINGS,
      read: () => retention.show(),
    }),
    route({
      method: 'PUT',
      url: '/api/v1/retention',
      action: 'retention.settings.update',
      resource: 'system',
      run: 'write',
      schema: { body: classesUpdateSchema },
      handler: async ({ input, event, trx }) => {
        event.resource(SETTINGS);
        event.details({ ...input.body });
        return { classes: await retention.setClasses(trx, input.body) };
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/retention/preview',
      action: 'retention.settings.read',
      resource: 'system',
      run: 'read',
      schema: { body: classesUpdateSchema, response: { 200: retentionPreviewOut } },
      handler: async ({ input, event }) => {
        event.resource(SETTINGS);
        event.details({ preview: true, ...input.body });
        return retention.preview(input.body);
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/retention/purge',
      action: 'retention.purge.run',
      resource: 'system',
      run: 'explicit',
      body: 'none',
      schema: {},
      handler: async ({ event, record }) => {
        event.resource({ type: 'retention-purge', id: 'on-demand' });
        await record();
        return retention.purge();
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/holds',
      action: 'retention.hold.list',
      resource: 'system',
      run: 'read',
      schema: { querystring: z.strictObject({ all: z.enum(['true', 'false']).optional() }) },
      handler: async ({ input, event }) => {
        event.resource({ type: 'legal-hold', id: 'all' });
        return { holds: await retention.listHolds(input.query.all === 'true') };
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/holds',
      action: 'retention.hold.create',
      resource: 'system',
      run: 'write',
      status: 201,
      schema: { body: holdBody, response: { 201: holdCreatedOut } },
      handler: async ({ input, event, trx, actor }) => {
        const { id } = await retention.addHold(trx, actor, input.body);
        const workspaceId = input.body.scope === 'workspace' ? input.body.target : input.body.workspace;
        event.resource({ type: 'legal-hold', id, ...(workspaceId ? { workspace: workspaceId } : {}) });
        event.details({ scope: input.body.scope, target: input.body.target, reason: input.body.reason });
        return { id };
      },
    }),
    systemRemove({
      url: '/api/v1/holds/:id',
      action: 'retention.hold.release',
      param: 'id',
      params: holdParams,
      resource: (id) => ({ type: 'legal-hold', id }),
      remove: (trx, id, actor) => retention.releaseHold(trx, actor, id),
      answer: 'released',
    }),
    route({
      method: 'GET',
      url: '/api/v1/retention/users/:id/export',
      action: 'retention.user.export',
      resource: 'system',
      run: 'read',
      schema: { params: userParams },
      handler: async ({ input, event }) => {
        event.resource({ type: 'user', id: input.params.id });
        return retention.exportPerson(input.params.id);
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/retention/users/:id/erase',
      action: 'retention.user.erase',
      resource: 'system',
      run: 'explicit',
      body: 'none',
      schema: { params: userParams },
      handler: async ({ input, event, commit }) => {
        event.resource({ type: 'user', id: input.params.id });
        // The HMAC key is loaded outside the transaction (PGlite has one session).
        const emailHmac = await retention.erasureHmac(input.params.id);
        return commit(async (trx) => {
          const r = await retention.erasePerson(trx, input.params.id, emailHmac);
          event.details({ ...r });
          return r;
        });
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/retention/terminations',
      action: 'retention.workspace.terminate',
      resource: 'system',
      run: 'write',
      status: 201,
      schema: { body: wsBody, response: { 201: terminationOut } },
      handler: async ({ input, event, trx, actor }) => {
        event.resource({ type: 'workspace', id: input.body.workspace, workspace: input.body.workspace });
        const r = await retention.terminate(trx, actor, input.body.workspace);
        event.details({ purgeAfter: r.purgeAfter, graceDays: r.graceDays });
        return r;
      },
    }),
    systemRemove({
      url: '/api/v1/retention/terminations/:ws',
      action: 'retention.workspace.cancel-termination',
      param: 'ws',
      params: wsParams,
      resource: (workspaceId) => ({ type: 'workspace', id: workspaceId, workspace: workspaceId }),
      remove: (trx, workspaceId) => retention.cancelTermination(trx, workspaceId),
      answer: 'cancelled',
    }),
    // The workspace's own owners (re-authenticated) may terminate it and cancel that.
    route({
      method: 'POST',
      url: '/api/v1/workspaces/:ws/termination',
      action: 'workspace.workspace.terminate',
      resource: 'workspace',
      reauth: true,
      run: 'write',
      status: 201,
      body: 'none',
      schema: { params: wsParams, response: { 201: terminationOut } },
      handler: async ({ input, event, trx, actor }) => {
        const r = await retention.terminate(trx, actor, input.params.ws);
        event.details({ purgeAfter: r.purgeAfter, graceDays: r.graceDays });
        return r;
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/workspaces/:ws/termination',
      action: 'workspace.workspace.cancel-termination',
      resource: 'workspace',
      reauth: true,
      run: 'write',
      schema: { params: wsParams, response: { 200: terminationCancelledOut } },
      handler: async ({ input, trx }) => {
        await retention.cancelTermination(trx, input.params.ws);
        return { cancelled: input.params.ws };
      },
    }),
  ];
}
