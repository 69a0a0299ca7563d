/**
 * Seal status, unseal, seal and key management over HTTPS — declarations only.
 *
 * Operator routes decide on the installation (`system`) or, for a workspace's key, on the route's
 * workspace; the pipeline records their events. A key change that swaps in-memory key state runs
 * as `explicit` with the pipeline's `commit`: the change and its event commit together, and the
 * keyring in memory changes only after that. Seal and reload-root-key record their event BEFORE
 * acting (`record()`), so nothing happens to the keys unrecorded.
 *
 * Unseal is public on purpose: the share itself is the credential (as with Vault). Its declaration
 * limits it per source address (`UNSEAL_RATE_LIMIT`) and names its event: the pipeline records
 * every attempt that reaches it (a refused share as a failure with its error code).
 */
import { z } from 'zod';
import { workspaceParams } from '../../contracts/common.ts';
import type { Config } from '../../core/config.ts';
import { AppError } from '../../core/errors.ts';
import type { ResourceRef } from '../../core/resource.ts';
import { publicRoute, route, type PublicRouteDef, type RouteDef } from '../../http/route.ts';
import type { KeysService } from './keys.service.ts';
import {
  openTaskLog,
  rotateFileRootKey,
  runRewrapTask,
  runWorkspaceRewrapTask,
  type OpenTaskLog,
} from './keys.tasks.ts';
import type { WorkspaceKeys } from './workspace-keys.ts';
import {
  keysStatusOut,
  rewrapStartedOut,
  sealStatusOut,
  unsealBody,
  workspaceKeyRotatedOut,
  workspaceKeyStatusOut,
} from '../../contracts/keys.ts';

export interface KeysRoutesDeps {
  keys: KeysService;
  workspaceKeys: WorkspaceKeys;
  config: Config;
  /** Every committed dataset version of a workspace with its unwrapped data key (the datasets module's export). */
  exportDataKeys: (workspaceId: string) => Promise<{ objects: readonly unknown[] }>;
  /** Task logs on the system drive; default: a plain file under the data directory's logs/tasks. */
  openTaskLog?: OpenTaskLog;
}

export interface UnsealRoutesDeps {
  keys: KeysService;
}

/** Unseal attempts per source address: 20 a minute. */
export const UNSEAL_RATE_LIMIT = { max: 20, timeWindow: '1 minute' } as const;

const KEYRING: ResourceRef = { type: 'keyring', id: 'root' };
const workspaceKey = (workspaceId: string): ResourceRef => ({
  type: 'workspace-key',
  id: workspaceId,
  workspace: workspaceId,
});

/** The public unseal route: rate limited per address, every attempt recorded. */
export function unsealRoutes({ keys }: UnsealRoutesDeps): PublicRouteDef[] {
  return [
    publicRoute({
      method: 'POST',
      url: '/api/v1/sys/unseal',
      public: 'the share is the credential',
      allowSealed: true,
      rateLimit: UNSEAL_RATE_LIMIT,
      audit: { action: 'operator.keyring.unseal', resource: KEYRING },
      schema: { body: unsealBody },
      handler: async ({ input, event }) => {
        const progress = await keys.submitShare(input.body.share);
        event.details({ progress: progress.progress, threshold: progress.threshold, sealed: progress.sealed });
        return { sealed: progress.sealed, progress: progress.progress, threshold: progress.threshold };
      },
    }),
  ];
}

export function keysRoutes({
  keys,
  workspaceKeys,
  config,
  exportDataKeys,
  openTaskLog: openLog = (kind) => openTaskLog(config.STRONGROOM_HOME, kind),
}: KeysRoutesDeps): (RouteDef | PublicRouteDef)[] {
  const term = z.object({
    term: z.coerce
      .number()
      .int()
      .min(1)
      .max(2 ** 31),
  });
  return [
    {
      method: 'GET',
      url: '/api/v1/sys/seal-status',
      public: 'operators and load balancers need it while sealed',
      allowSealed: true,
      schema: { response: { 200: sealStatusOut } },
      handler: async () => {
        const state = await keys.state();
        const provider = await keys.provider.describe();
        return {
          state,
          sealed: state !== 'unsealed',
          provider: keys.provider.kind,
          threshold: provider.threshold,
          shares: provider.shares,
        };
      },
    },

    route({
      method: 'POST',
      url: '/api/v1/sys/reload-root-key',
      action: 'operator.keyring.unseal',
      resource: 'system',
      allowSealed: true,
      run: 'explicit',
      schema: {},
      handler: async ({ event, record }) => {
        event.resource(KEYRING);
        if (keys.provider.kind === 'shamir')
          throw new AppError('CONFLICT', { detail: 'This installation unseals with Shamir shares.' });
        event.details({ method: keys.provider.kind });
        await record();
        if (!(await keys.autoUnseal()))
          throw new AppError('SEALED', { detail: 'The root key provider returned no key.' });
        return { sealed: false };
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/sys/seal',
      action: 'operator.keyring.seal',
      resource: 'system',
      allowSealed: true,
      run: 'explicit',
      schema: {},
      handler: async ({ event, record }) => {
        event.resource(KEYRING);
        await record();
        keys.seal();
        return { sealed: true };
      },
    }),

    route({
      method: 'GET',
      url: '/api/v1/keys/status',
      action: 'keys.keyring.read',
      resource: 'system',
      run: 'read',
      schema: { response: { 200: keysStatusOut } },
      handler: ({ event }) => {
        event.resource(KEYRING);
        return keys.status();
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/keys/rotate',
      action: 'keys.keyring.rotate',
      resource: 'system',
      run: 'explicit',
      schema: {},
      handler: async ({ event, commit }) => {
        event.resource(KEYRING);
        return { activeTerm: await keys.rotate({ transact: commit }) };
      },
    }),

    // Started in the background once its event (naming the task log) is committed: 202.
    route({
      method: 'POST',
      url: '/api/v1/keys/rewrap',
      action: 'keys.keyring.rewrap',
      resource: 'system',
      run: 'explicit',
      status: 202,
      schema: { response: { 202: rewrapStartedOut } },
      handler: async ({ event, record, request }) => {
        event.resource(KEYRING);
        if ((await keys.status()).rewrap.running)
          throw new AppError('CONFLICT', { detail: 'A rewrap is already running.' });
        const log = await openLog('rewrap');
        event.details({ taskId: log.id, taskLog: log.ref });
        await record();
        runRewrapTask(keys, log).catch((err: unknown) => request.log.error({ err, taskId: log.id }, 'rewrap failed'));
        return { started: true, taskId: log.id, taskLog: log.ref, status: '/api/v1/keys/status' };
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/keys/rotate-root',
      action: 'keys.root.rotate',
      resource: 'system',
      run: 'explicit',
      schema: {},
      handler: async ({ event, commit }) => {
        event.resource(KEYRING);
        await rotateFileRootKey(keys, config, { transact: commit });
        return { rotated: true };
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/keys/workspaces/:ws/destroy',
      action: 'keys.workspace.destroy',
      resource: 'workspace',
      run: 'write',
      schema: { params: workspaceParams },
      handler: async ({ trx, input, event }) => {
        const workspaceId = input.params.ws;
        event.resource(workspaceKey(workspaceId));
        event.details({ step: 'requested' });
        const requested = await workspaceKeys.requestDestroy(workspaceId, trx);
        return {
          ...requested,
          confirm: `/api/v1/keys/workspaces/${workspaceId}/destroy/confirm`,
          warning:
            'Confirming destroys the key: every dataset version of this workspace becomes unreadable on every drive, and every vault secret of the workspace is destroyed (a copy of the database taken before still holds them).',
        };
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/keys/workspaces/:ws/destroy/confirm',
      action: 'keys.workspace.destroy',
      resource: 'workspace',
      run: 'write',
      schema: { params: workspaceParams, body: z.strictObject({ token: z.string().min(10).max(100) }) },
      handler: async ({ trx, input, event }) => {
        event.resource(workspaceKey(input.params.ws));
        event.details({ step: 'confirmed' });
        const { secretsDestroyed } = await workspaceKeys.confirmDestroy(input.params.ws, input.body.token, trx);
        event.details({ step: 'confirmed', secretsDestroyed });
        return { destroyed: true, secretsDestroyed };
      },
    }),

    // Workspace key rotation: versions, wrapped data keys per version, rewrap progress.
    route({
      method: 'GET',
      url: '/api/v1/keys/workspaces/:ws',
      action: 'keys.workspace.read',
      resource: 'workspace',
      run: 'read',
      schema: { params: workspaceParams, response: { 200: workspaceKeyStatusOut } },
      handler: ({ input, event }) => {
        event.resource(workspaceKey(input.params.ws));
        return workspaceKeys.status(input.params.ws);
      },
    }),

    // A new version for every new wrap, committed with its event; older versions stay readable.
    route({
      method: 'POST',
      url: '/api/v1/keys/workspaces/:ws/rotate',
      action: 'keys.workspace.rotate',
      resource: 'workspace',
      run: 'write',
      schema: { params: workspaceParams, response: { 200: workspaceKeyRotatedOut } },
      handler: async ({ trx, input, event }) => {
        const workspaceId = input.params.ws;
        event.resource(workspaceKey(workspaceId));
        const r = await workspaceKeys.rotate(workspaceId, trx);
        event.details({ previousVersion: r.previousVersion, keyVersion: r.keyVersion });
        return {
          previousVersion: r.previousVersion,
          keyVersion: r.keyVersion,
          rewrap: `/api/v1/keys/workspaces/${workspaceId}/rewrap`,
        };
      },
    }),

    // Re-wraps the workspace's data keys under its current version in the background: 202.
    route({
      method: 'POST',
      url: '/api/v1/keys/workspaces/:ws/rewrap',
      action: 'keys.workspace.rewrap',
      resource: 'workspace',
      run: 'explicit',
      status: 202,
      schema: { params: workspaceParams, response: { 202: rewrapStartedOut } },
      handler: async ({ input, event, record, request }) => {
        const workspaceId = input.params.ws;
        event.resource(workspaceKey(workspaceId));
        if ((await workspaceKeys.status(workspaceId)).rewrap.running)
          throw new AppError('CONFLICT', { detail: 'A rewrap of this workspace key is already running.' });
        const log = await openLog('workspace-rewrap', { workspace: workspaceId });
        event.details({ taskId: log.id, taskLog: log.ref });
        await record();
        runWorkspaceRewrapTask(workspaceKeys, workspaceId, log).catch((err: unknown) =>
          request.log.error({ err, taskId: log.id }, 'workspace key rewrap failed'),
        );
        return {
          started: true,
          taskId: log.id,
          taskLog: log.ref,
          status: `/api/v1/keys/workspaces/${workspaceId}`,
        };
      },
    }),

    // The no-lock-in exit path: unwrapped data keys of every dataset version of a workspace.
    // Operator only; the event is committed (fail-closed) before any key leaves.
    route({
      method: 'POST',
      url: '/api/v1/keys/workspaces/:ws/export',
      action: 'keys.workspace.export',
      resource: 'workspace',
      run: 'read',
      schema: { params: workspaceParams },
      handler: async ({ input, event, reply }) => {
        event.resource(workspaceKey(input.params.ws));
        const out = await exportDataKeys(input.params.ws);
        event.details({ objects: out.objects.length });
        void reply.header('cache-control', 'no-store');
        return out;
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/keys/terms/:term/retire',
      action: 'keys.term.retire',
      resource: 'system',
      run: 'explicit',
      schema: { params: term },
      handler: async ({ input, event, commit }) => {
        event.resource({ type: 'key-term', id: String(input.params.term) });
        await keys.retire(input.params.term, { transact: commit });
        return { retired: input.params.term };
      },
    }),
  ];
}
