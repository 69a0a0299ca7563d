/**
 * Backups over HTTPS — declarations only. Every route is the operator's (resource `system`): a
 * backup holds the whole installation. Long work (create, verify, prune) runs as `explicit`: its
 * event is committed before the work starts (fail-closed), and the answer says how it ended.
 */
import { route, type RouteDef } from '../../http/route.ts';
import { systemRead, systemRemove } from '../../http/system-routes.ts';
import type { BackupsService } from './backups.service.ts';
import {
  createBody,
  idParams,
  nameParams,
  recoverySharesAnswer,
  restoreObjectsAnswer,
  restoreObjectsBody,
  sharesBody,
  targetBody,
  targetPatchAnswer,
  targetPatchBody,
} from '../../contracts/backups.ts';

const BACKUPS = { type: 'backup', id: 'all' } as const;

export function backupsRoutes({ backups }: { backups: BackupsService }): RouteDef[] {
  return [
    systemRead({
      url: '/api/v1/backups/targets',
      action: 'backups.target.list',
      resource: BACKUPS,
      read: async () => ({
        targets: (await backups.listTargets()).map((t) => ({
          name: t.name,
          workspace: t.workspace_id,
          drive: t.drive,
          prefix: t.prefix,
          copyObjects: t.copy_objects,
        })),
      }),
    }),
    route({
      method: 'POST',
      url: '/api/v1/backups/targets',
      action: 'backups.target.create',
      resource: 'system',
      run: 'explicit',
      status: 201,
      schema: { body: targetBody },
      handler: async ({ input, event, commit }) => {
        event.resource({ type: 'backup-target', id: input.body.name });
        event.details({
          workspace: input.body.workspace,
          drive: input.body.drive,
          prefix: input.body.prefix,
          copyObjects: input.body.copyObjects,
        });
        await backups.addTarget(input.body); // probes the drive first, outside any transaction
        await commit(async () => undefined);
        return { name: input.body.name };
      },
    }),
    // The copy of dataset ciphertext objects to this target, on or off (backups.objects.ts).
    route({
      method: 'PATCH',
      url: '/api/v1/backups/targets/:name',
      action: 'backups.target.update',
      resource: 'system',
      run: 'write',
      schema: { params: nameParams, body: targetPatchBody, response: { 200: targetPatchAnswer } },
      handler: async ({ input, event, trx }) => {
        event.resource({ type: 'backup-target', id: input.params.name });
        event.details({ copyObjects: input.body.copyObjects });
        await backups.setCopyObjects(input.params.name, input.body.copyObjects, trx);
        return { name: input.params.name, copyObjects: input.body.copyObjects };
      },
    }),
    // Dataset objects put back from a target's copies (long work: recorded before it starts).
    route({
      method: 'POST',
      url: '/api/v1/backups/targets/:name/restore-objects',
      action: 'backups.objects.restore',
      resource: 'system',
      run: 'explicit',
      schema: { params: nameParams, body: restoreObjectsBody, response: { 200: restoreObjectsAnswer } },
      handler: async ({ input, event, record }) => {
        event.resource({ type: 'backup-target', id: input.params.name });
        event.details({ ...(input.body.workspace ? { workspace: input.body.workspace } : {}), deep: input.body.deep });
        await record();
        return backups.restoreObjects(input.params.name, input.body);
      },
    }),
    systemRemove({
      url: '/api/v1/backups/targets/:name',
      action: 'backups.target.delete',
      param: 'name',
      params: nameParams,
      resource: (name) => ({ type: 'backup-target', id: name }),
      remove: (trx, name) => backups.removeTarget(name, trx),
      answer: 'removed',
    }),
    systemRead({
      url: '/api/v1/backups',
      action: 'backups.backup.list',
      resource: BACKUPS,
      read: async () => ({ backups: await backups.list(), status: await backups.status() }),
    }),
    systemRead({
      url: '/api/v1/backups/status',
      action: 'backups.backup.list',
      resource: BACKUPS,
      read: () => backups.status(),
    }),
    route({
      method: 'GET',
      url: '/api/v1/backups/:id',
      action: 'backups.backup.read',
      resource: 'system',
      run: 'read',
      schema: { params: idParams },
      handler: async ({ input, event }) => {
        event.resource({ type: 'backup', id: input.params.id });
        return backups.show(input.params.id);
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/backups',
      action: 'backups.backup.create',
      resource: 'system',
      run: 'explicit',
      status: 201,
      schema: { body: createBody },
      handler: async ({ input, event, record }) => {
        event.resource(BACKUPS);
        await record();
        const m = await backups.create({
          trigger: 'manual',
          ...(input.body.target ? { target: input.body.target } : {}),
        });
        return {
          id: m.id,
          createdAt: m.createdAt,
          size: m.object.size,
          sha256: m.object.sha256,
          tables: m.tables.length,
          rows: m.tables.reduce((n, t) => n + t.rows, 0),
          auditHead: m.auditHead,
          recoveryWrapped: m.keys.recovery !== undefined,
          ...(m.objects ? { objects: m.objects } : {}),
        };
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/backups/:id/verify',
      action: 'backups.backup.verify',
      resource: 'system',
      run: 'explicit',
      schema: { params: idParams },
      handler: async ({ input, event, record }) => {
        event.resource({ type: 'backup', id: input.params.id });
        await record();
        return backups.verify(input.params.id);
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/backups/prune',
      action: 'backups.backup.prune',
      resource: 'system',
      run: 'explicit',
      schema: {},
      handler: async ({ event, commit }) => {
        event.resource(BACKUPS);
        const r = await backups.prune();
        event.details({ deleted: r.deleted });
        await commit(async () => undefined);
        return r;
      },
    }),
    // The recovery key leaves once: its event is committed before the answer (a read route).
    route({
      method: 'POST',
      url: '/api/v1/backups/recovery-key',
      action: 'backups.recovery-key.export',
      resource: 'system',
      run: 'explicit',
      schema: {},
      handler: async ({ event, commit, reply }) => {
        event.resource({ type: 'backup-recovery-key', id: 'recovery' });
        void reply.header('cache-control', 'no-store');
        return commit(async (trx) => backups.exportRecoveryKey(trx));
      },
    }),
    // The same key as Shamir shares instead (any `threshold` of them restore a backup).
    route({
      method: 'POST',
      url: '/api/v1/backups/recovery-key/shares',
      action: 'backups.recovery-key.export',
      resource: 'system',
      run: 'explicit',
      schema: { body: sharesBody, response: { 200: recoverySharesAnswer } },
      handler: async ({ input, event, commit, reply }) => {
        event.resource({ type: 'backup-recovery-key', id: 'recovery' });
        event.details({ shares: input.body.shares, threshold: input.body.threshold });
        void reply.header('cache-control', 'no-store');
        return commit(async (trx) => backups.exportRecoveryShares(trx, input.body));
      },
    }),
  ];
}
