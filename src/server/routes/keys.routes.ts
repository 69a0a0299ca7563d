/**
 * Seal status, unseal, seal and key management over HTTPS. Unseal is public on purpose: the
 * share itself is the credential (as with Vault); every attempt is audited, and attempts are
 * limited per source address (20 a minute). The rest needs the operator credential.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import type { KeysService, WorkspaceKeys } from '../../modules/keys/index.ts';
import type { KeyExport } from '../../modules/datasets/index.ts';
import type { Config } from '../../core/config.ts';
import type { AuditContext } from '../audit-context.ts';
import { openTaskLog, rotateFileRootKey, runRewrapTask } from '../key-tasks.ts';

export interface KeysRoutesDeps {
  keys: KeysService;
  workspaceKeys: WorkspaceKeys;
  audit: AuditContext;
  config: Config;
  home: string;
  /** Every committed dataset version of a workspace with its unwrapped data key. */
  exportDataKeys: (ws: string) => Promise<KeyExport>;
}

export function registerKeysRoutes(app: FastifyInstance, deps: KeysRoutesDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { keys, audit } = deps;
  const keyring = { type: 'keyring', id: 'root' };

  r.get('/api/v1/sys/seal-status', { config: { access: { public: 'operators and load balancers need it while sealed', allowSealed: true } } }, async () => {
    const status = await keys.state();
    const provider = await keys.provider.describe();
    return { state: status, sealed: status !== 'unsealed', provider: keys.provider.kind, threshold: provider.threshold, shares: provider.shares };
  });

  r.post(
    '/api/v1/sys/unseal',
    {
      config: { access: { public: 'the share is the credential', allowSealed: true }, rateLimit: { max: 20, timeWindow: '1 minute' } },
      schema: { body: z.strictObject({ share: z.string().min(8).max(512) }) },
    },
    async (request) => {
      try {
        const p = await keys.submitShare(request.body.share);
        await audit.recordAlone(request, { action: 'operator.keyring.unseal', resource: keyring, details: { progress: p.progress, threshold: p.threshold, sealed: p.sealed } });
        return { sealed: p.sealed, progress: p.progress, threshold: p.threshold };
      } catch (err) {
        if (err instanceof AppError && err.code !== 'AUDIT_UNAVAILABLE') {
          await audit.recordAlone(request, { action: 'operator.keyring.unseal', outcome: 'failure', resource: keyring, details: { error: err.code } });
        }
        throw err;
      }
    },
  );

  r.post('/api/v1/sys/reload-root-key', { config: { access: { action: 'operator.keyring.unseal', audit: 'operator.keyring.unseal', allowSealed: true } } }, async (request) => {
    if (keys.provider.kind === 'shamir') throw new AppError('CONFLICT', { detail: 'This installation unseals with Shamir shares.' });
    await audit.recordAlone(request, { action: 'operator.keyring.unseal', resource: keyring, details: { method: keys.provider.kind } });
    if (!(await keys.autoUnseal())) throw new AppError('SEALED', { detail: 'The root key provider returned no key.' });
    return { sealed: false };
  });

  r.post('/api/v1/sys/seal', { config: { access: { action: 'operator.keyring.seal', audit: 'operator.keyring.seal', allowSealed: true } } }, async (request) => {
    await audit.recordAlone(request, { action: 'operator.keyring.seal', resource: keyring });
    keys.seal();
    return { sealed: true };
  });

  r.get('/api/v1/keys/status', { config: { access: { action: 'keys.keyring.read', audit: 'keys.keyring.read' } } }, async (request) => {
    await audit.recordAlone(request, { action: 'keys.keyring.read', resource: keyring });
    return keys.status();
  });

  r.post('/api/v1/keys/rotate', { config: { access: { action: 'keys.keyring.rotate', audit: 'keys.keyring.rotate' } } }, async (request) => {
    const activeTerm = await keys.rotate((trx) => audit.recordIn(trx, request, { action: 'keys.keyring.rotate', resource: keyring }));
    return { activeTerm };
  });

  r.post('/api/v1/keys/rewrap', { config: { access: { action: 'keys.keyring.rewrap', audit: 'keys.keyring.rewrap' } } }, async (request, reply) => {
    if ((await keys.status()).rewrap.running) throw new AppError('CONFLICT', { detail: 'A rewrap is already running.' });
    const log = await openTaskLog(deps.home, 'rewrap');
    await audit.recordAlone(request, { action: 'keys.keyring.rewrap', resource: keyring, details: { taskId: log.id, taskLog: log.ref } });
    runRewrapTask(keys, log).catch((err: Error) => request.log.error({ err, taskId: log.id }, 'rewrap failed'));
    return reply.code(202).send({ started: true, taskId: log.id, taskLog: log.ref, status: '/api/v1/keys/status' });
  });

  r.post('/api/v1/keys/rotate-root', { config: { access: { action: 'keys.root.rotate', audit: 'keys.root.rotate' } } }, async (request) => {
    await rotateFileRootKey(keys, deps.config, (trx) => audit.recordIn(trx, request, { action: 'keys.root.rotate', resource: keyring }));
    return { rotated: true };
  });

  const wsParams = z.object({ ws: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a workspace id') });
  r.post(
    '/api/v1/keys/workspaces/:ws/destroy',
    { config: { access: { action: 'keys.workspace.destroy', audit: 'keys.workspace.destroy' } }, schema: { params: wsParams } },
    async (request) => {
      const resource = { type: 'workspace-key', id: request.params.ws, workspace: request.params.ws };
      const r1 = await deps.workspaceKeys.requestDestroy(request.params.ws, (trx) => audit.recordIn(trx, request, { action: 'keys.workspace.destroy', resource, details: { step: 'requested' } }));
      return { ...r1, confirm: `/api/v1/keys/workspaces/${request.params.ws}/destroy/confirm`, warning: 'Confirming destroys the key: everything sealed under it becomes unreadable, backups included.' };
    },
  );

  r.post(
    '/api/v1/keys/workspaces/:ws/destroy/confirm',
    {
      config: { access: { action: 'keys.workspace.destroy', audit: 'keys.workspace.destroy' } },
      schema: { params: wsParams, body: z.strictObject({ token: z.string().min(10).max(100) }) },
    },
    async (request) => {
      const resource = { type: 'workspace-key', id: request.params.ws, workspace: request.params.ws };
      await deps.workspaceKeys.confirmDestroy(request.params.ws, request.body.token, (trx) => audit.recordIn(trx, request, { action: 'keys.workspace.destroy', resource, details: { step: 'confirmed' } }));
      return { destroyed: true };
    },
  );

  // The no-lock-in exit path: unwrapped data keys of every dataset version of a workspace.
  // Operator only; the event is recorded (fail-closed) before any key leaves.
  r.post(
    '/api/v1/keys/workspaces/:ws/export',
    { config: { access: { action: 'keys.workspace.export', audit: 'keys.workspace.export' } }, schema: { params: wsParams } },
    async (request, reply) => {
      const resource = { type: 'workspace-key', id: request.params.ws, workspace: request.params.ws };
      let out;
      try {
        out = await deps.exportDataKeys(request.params.ws);
      } catch (err) {
        await audit.recordAlone(request, { action: 'keys.workspace.export', outcome: 'failure', resource, details: { error: err instanceof AppError ? err.code : 'INTERNAL' } });
        throw err;
      }
      await audit.recordAlone(request, { action: 'keys.workspace.export', resource, details: { objects: out.objects.length } });
      return reply.header('cache-control', 'no-store').send(out);
    },
  );

  r.post(
    '/api/v1/keys/terms/:term/retire',
    {
      config: { access: { action: 'keys.term.retire', audit: 'keys.term.retire' } },
      schema: { params: z.object({ term: z.coerce.number().int().min(1).max(2 ** 31) }) },
    },
    async (request) => {
      const { term } = request.params;
      await keys.retire(term, (trx) => audit.recordIn(trx, request, { action: 'keys.term.retire', resource: { type: 'key-term', id: String(term) } }));
      return { retired: term };
    },
  );
}
