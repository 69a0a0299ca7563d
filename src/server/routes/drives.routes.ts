/**
 * Drives over HTTPS (C7): `/api/v1/workspaces/:ws/drives…` — list, show, test a definition, add,
 * re-test, remove.
 *
 * The auth plugin decides the route's action for the workspace; handlers decide again with the
 * concrete drive (and, when a drive names an existing vault secret, the caller must be allowed to
 * update that secret — using a credential is a write-level use of it). Responses never carry a
 * credential: the response schemas have no field for one. A failed test on add is answered with
 * its diagnosis code (DRIVE_AUTH_FAILED …) and the report under `diagnosis`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Actor } from '../../core/actor.ts';
import { AppError, isAppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { Decision, ResourceRef } from '../../modules/access/index.ts';
import { DRIVE_KINDS, driveInputSchema, driveNameSchema, type DrivesService } from '../../modules/drives/index.ts';
import type { AuditContext } from '../audit-context.ts';

export interface DrivesRoutesDeps {
  drives: DrivesService;
  db: Kysely<Database>;
  audit: AuditContext;
  authorize: (actor: Actor, action: string, resource?: ResourceRef) => Decision;
}

const ws = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a workspace id');
const stepOut = z.object({ id: z.string(), title: z.string(), status: z.enum(['pass', 'fail', 'warn', 'skip']), reason: z.string(), hint: z.string().optional(), ms: z.number().optional() });
const diagnosisOut = z.object({ ok: z.boolean(), code: z.string().optional(), steps: z.array(stepOut), latencyMs: z.number().optional(), corsSuggestion: z.unknown().optional(), checkedAt: z.string() });
const driveOut = z.object({
  name: z.string(),
  kind: z.enum(DRIVE_KINDS),
  description: z.string(),
  config: z.record(z.string(), z.unknown()),
  credentialSecret: z.string().nullable(),
  isDefault: z.boolean(),
  status: z.enum(['unknown', 'healthy', 'failing']),
  statusCode: z.string().nullable(),
  statusCheckedAt: z.string().nullable(),
  lastTest: diagnosisOut.nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
});

export function registerDrivesRoutes(app: FastifyInstance, deps: DrivesRoutesDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { drives, audit } = deps;
  const access = (action: string) => ({ access: { action, audit: action } });
  const base = '/api/v1/workspaces/:ws/drives';
  const driveRes = (w: string, name: string) => ({ type: 'drive', id: name, workspace: w, tags: [] as string[] });
  const auditRes = (w: string, name: string) => ({ type: 'drive', id: name, workspace: w });

  async function authorizeDrive(request: FastifyRequest, action: string, w: string, name: string): Promise<void> {
    const d = deps.authorize(request.actor, action, driveRes(w, name));
    if (d.allowed) return;
    await audit.recordAlone(request, { action, outcome: 'denied', resource: auditRes(w, name), details: { reason: d.reason } });
    throw new AppError('FORBIDDEN', { detail: 'You are not allowed to do this with this drive.' });
  }

  /** Using an existing secret as a drive's credentials needs update rights on that secret. */
  async function authorizeSecretUse(request: FastifyRequest, action: string, w: string, name: string, path: string | undefined): Promise<void> {
    if (!path) return;
    const d = deps.authorize(request.actor, 'vault.secret.update', { type: 'secret', id: path, workspace: w, tags: [] });
    if (d.allowed) return;
    await audit.recordAlone(request, { action, outcome: 'denied', resource: auditRes(w, name), details: { reason: 'may not use the credential secret', credentialSecret: path } });
    throw new AppError('FORBIDDEN', { detail: 'You are not allowed to use that credential secret.' });
  }

  async function failed(request: FastifyRequest, action: string, w: string, name: string, err: unknown): Promise<never> {
    if (!request.auditRecorded) {
      await audit.recordAlone(request, { action, outcome: 'failure', resource: auditRes(w, name), details: { error: isAppError(err) ? err.code : 'INTERNAL' } });
    }
    throw err;
  }

  r.get(base, { config: access('drive.drive.list'), schema: { params: z.object({ ws }), response: { 200: z.object({ drives: z.array(driveOut) }) } } }, async (request) => {
    const w = request.params.ws;
    const all = await drives.list(w);
    const visible = all.filter((d) => deps.authorize(request.actor, 'drive.drive.list', driveRes(w, d.name)).allowed);
    await audit.recordAlone(request, { action: 'drive.drive.list', resource: { type: 'workspace', id: w, workspace: w }, details: { count: visible.length } });
    return { drives: visible };
  });

  r.get(`${base}/:name`, { config: access('drive.drive.read'), schema: { params: z.object({ ws, name: driveNameSchema }), response: { 200: driveOut } } }, async (request) => {
    const { ws: w, name } = request.params;
    await authorizeDrive(request, 'drive.drive.read', w, name);
    try {
      const drive = await drives.get(w, name);
      await audit.recordAlone(request, { action: 'drive.drive.read', resource: auditRes(w, name) });
      return drive;
    } catch (err) {
      return failed(request, 'drive.drive.read', w, name, err);
    }
  });

  r.post(`${base}/test`, { config: access('drive.drive.test'), schema: { params: z.object({ ws }), body: driveInputSchema, response: { 200: diagnosisOut } } }, async (request) => {
    const w = request.params.ws;
    const input = request.body;
    await authorizeDrive(request, 'drive.drive.test', w, input.name);
    await authorizeSecretUse(request, 'drive.drive.test', w, input.name, 'credentialSecret' in input ? input.credentialSecret : undefined);
    try {
      const report = await drives.test(w, input);
      await audit.recordAlone(request, { action: 'drive.drive.test', resource: auditRes(w, input.name), details: { kind: input.kind, saved: false, ok: report.ok, ...(report.code ? { code: report.code } : {}) } });
      return report;
    } catch (err) {
      return failed(request, 'drive.drive.test', w, input.name, err);
    }
  });

  r.post(`${base}/:name/test`, { config: access('drive.drive.test'), schema: { params: z.object({ ws, name: driveNameSchema }), response: { 200: diagnosisOut } } }, async (request) => {
    const { ws: w, name } = request.params;
    await authorizeDrive(request, 'drive.drive.test', w, name);
    try {
      const report = await drives.retest(w, name);
      await audit.recordAlone(request, { action: 'drive.drive.test', resource: auditRes(w, name), details: { saved: true, ok: report.ok, ...(report.code ? { code: report.code } : {}) } });
      return report;
    } catch (err) {
      return failed(request, 'drive.drive.test', w, name, err);
    }
  });

  r.post(
    base,
    { config: access('drive.drive.create'), schema: { params: z.object({ ws }), body: driveInputSchema, response: { 201: z.object({ drive: driveOut, diagnosis: diagnosisOut }) } } },
    async (request, reply) => {
      const w = request.params.ws;
      const input = request.body;
      await authorizeDrive(request, 'drive.drive.create', w, input.name);
      const named = 'credentialSecret' in input ? input.credentialSecret : undefined;
      await authorizeSecretUse(request, 'drive.drive.create', w, input.name, named);
      let prepared;
      try {
        prepared = await drives.prepareAdd(w, input);
      } catch (err) {
        return failed(request, 'drive.drive.create', w, input.name, err);
      }
      const details = { kind: input.kind, credentials: prepared.inline ? 'inline' : named ? 'secret' : 'none' };
      const out = await audit.run(request, { action: 'drive.drive.create', resource: auditRes(w, input.name), details }, (trx) => drives.commitAdd(trx, request.actor, w, prepared));
      return reply.code(201).send(out);
    },
  );

  r.delete(`${base}/:name`, { config: access('drive.drive.delete'), schema: { params: z.object({ ws, name: driveNameSchema }), response: { 200: z.object({ name: z.string(), removed: z.literal(true), credentialsDestroyed: z.boolean() }) } } }, async (request) => {
    const { ws: w, name } = request.params;
    await authorizeDrive(request, 'drive.drive.delete', w, name);
    const out = await audit.run(request, { action: 'drive.drive.delete', resource: auditRes(w, name) }, (trx) => drives.remove(trx, w, name));
    return { name, removed: true as const, ...out };
  });
}
