/**
 * The credential vault over HTTPS (C6): `/api/v1/workspaces/:ws/secrets/...`, paths as the
 * wildcard tail (`.../secrets/data/team/warehouse/password`), in the manner of Vault KV v2
 * (`data`, `metadata`, `delete`, `undelete`, `destroy`, `rollback`) plus `reveal`.
 *
 * Two authorization levels: the auth plugin decides the route's action for the workspace; each
 * handler decides again with the concrete resource `{ type: 'secret', id: path, workspace, tags }`
 * so tag rules (and workspace policies naming a secret) apply — a denial there is audited as
 * `denied` and answered 403. Writes run with their audit event in one transaction (fail-closed);
 * reveal returns a value only after its event (with the version revealed) is recorded, so no
 * value leaves without its event. No answer but reveal carries a value (the response schemas filter output).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Actor } from '../../core/actor.ts';
import type { JsonValue } from '../../core/audit/event.ts';
import { AppError, isAppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { Decision, ResourceRef } from '../../modules/access/index.ts';
import { SECRET_TYPES, metadataInputSchema, secretPathSchema, secretPrefixSchema, typedValueVariants, type VaultService } from '../../modules/vault/index.ts';
import type { AuditContext } from '../audit-context.ts';
import { requireRecentAuth } from '../plugins/auth.ts';

export interface VaultRoutesDeps {
  vault: VaultService;
  db: Kysely<Database>;
  audit: AuditContext;
  /** Decision with a concrete resource (the workspace-aware access control in production). */
  authorize: (actor: Actor, action: string, resource?: ResourceRef) => Decision;
}

type SecretResource = { type: 'secret'; id: string; workspace: string; tags: string[] };

const ws = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a workspace id');
const pathParams = z.object({ ws, '*': secretPathSchema });
const versionNo = z.number().int().min(1).max(2 ** 31 - 1);
const versionQuery = z.strictObject({ version: z.coerce.number().int().min(1).max(2 ** 31 - 1).optional() });
const versionList = z.array(versionNo).min(1).max(100);
const cas = z.number().int().min(0).max(2 ** 31 - 1);

const certOut = z.object({ notAfter: z.string(), subject: z.string(), fingerprint256: z.string() });
const versionOut = z.object({
  version: z.number(), state: z.enum(['live', 'deleted', 'destroyed']), createdAt: z.string(), createdBy: z.string(),
  deletedAt: z.string().nullable(), deletedBy: z.string().nullable(), destroyedAt: z.string().nullable(), destroyedBy: z.string().nullable(), certificate: certOut.optional(),
});
const summaryOut = z.object({
  path: z.string(), type: z.enum(SECRET_TYPES), description: z.string(), tags: z.array(z.string()), owner: z.string().nullable(), currentVersion: z.number(),
  expiresAt: z.string().nullable(), rotateEvery: z.string().nullable(), updatedAt: z.string(), updatedBy: z.string(),
});
const metadataOut = summaryOut.extend({ custom: z.record(z.string(), z.string()), maxVersions: z.number(), casRequired: z.boolean(), createdAt: z.string(), createdBy: z.string(), versions: z.array(versionOut) });
const writeOut = z.object({ path: z.string(), version: z.number(), created: z.boolean(), pruned: z.array(z.number()) });
const changedOut = z.object({ path: z.string(), versions: z.array(z.number()) });
const revealOut = z.object({ path: z.string(), version: z.number(), type: z.enum(SECRET_TYPES), value: z.record(z.string(), z.unknown()), createdAt: z.string() });
const dueOut = z.object({
  secrets: z.array(z.object({
    path: z.string(), type: z.string(), owner: z.string().nullable(), tags: z.array(z.string()), currentVersion: z.number(),
    reasons: z.array(z.string()), expiresAt: z.string().nullable(), rotationDueAt: z.string().nullable(), certificateNotAfter: z.string().nullable(),
  })),
});

export function registerVaultRoutes(app: FastifyInstance, deps: VaultRoutesDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { vault, db, audit } = deps;
  const access = (action: string) => ({ access: { action, audit: action } });
  const base = '/api/v1/workspaces/:ws/secrets';
  const auditResource = (res: SecretResource) => ({ type: 'secret', id: res.id, workspace: res.workspace });
  const wanted = (w: string, path: string, tags: string[] = []): SecretResource => ({ type: 'secret', id: path, workspace: w, tags });

  async function existing(w: string, path: string, action: string, request: FastifyRequest): Promise<SecretResource> {
    const res = await vault.resourceOf(db, w, path);
    if (!res) {
      await audit.recordAlone(request, { action, outcome: 'failure', resource: auditResource(wanted(w, path)), details: { error: 'NOT_FOUND' } });
      throw new AppError('NOT_FOUND', { detail: 'No such secret in this workspace.' });
    }
    return res;
  }

  /** The second, concrete decision; a denial is audited with the secret it concerned. */
  async function authorizeSecret(request: FastifyRequest, action: string, res: SecretResource): Promise<void> {
    const d = deps.authorize(request.actor, action, res);
    if (d.allowed) return;
    await audit.recordAlone(request, { action, outcome: 'denied', resource: auditResource(res), details: { reason: d.reason } });
    throw new AppError('FORBIDDEN', { detail: 'You are not allowed to do this with this secret.' });
  }

  async function recentAuth(request: FastifyRequest, action: string, res: SecretResource): Promise<void> {
    try {
      requireRecentAuth(request);
    } catch (err) {
      await audit.recordAlone(request, { action, outcome: 'denied', resource: auditResource(res), details: { reason: 're-authentication required' } });
      throw err;
    }
  }

  /** Work + its audit event in one transaction; a failure is recorded with its error code. */
  async function inTx<T>(request: FastifyRequest, action: string, res: SecretResource, work: (trx: Transaction<Database>) => Promise<{ result: T; details: Record<string, JsonValue> }>): Promise<T> {
    try {
      return await db.transaction().execute(async (trx) => {
        const { result, details } = await work(trx);
        await audit.recordIn(trx, request, { action, resource: auditResource(res), details });
        return result;
      });
    } catch (err) {
      if (!request.auditRecorded) {
        const code = isAppError(err) ? err.code : 'INTERNAL';
        await audit.recordAlone(request, { action, outcome: 'failure', resource: auditResource(res), details: { error: code } });
      }
      throw err;
    }
  }

  r.get(
    base,
    {
      config: access('vault.secret.list'),
      schema: {
        params: z.object({ ws }),
        querystring: z.strictObject({ prefix: secretPrefixSchema.default(''), after: secretPathSchema.optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }),
        response: { 200: z.object({ secrets: z.array(summaryOut), next: z.string().nullable() }) },
      },
    },
    async (request) => {
      const { ws: w } = request.params;
      const { prefix, after, limit } = request.query;
      const page = await vault.list(db, w, prefix, after, limit);
      // Per-secret rules (workspace policies) may hide entries; tags never carry values.
      const secrets = page.secrets.filter((s) => deps.authorize(request.actor, 'vault.secret.list', wanted(w, s.path, s.tags)).allowed);
      await audit.recordAlone(request, { action: 'vault.secret.list', resource: { type: 'workspace', id: w, workspace: w }, details: { prefix, count: secrets.length } });
      return { secrets, next: page.next };
    },
  );

  r.put(
    `${base}/data/*`,
    {
      config: access('vault.secret.update'),
      schema: { params: pathParams, body: typedValueVariants({ cas: cas.optional(), metadata: metadataInputSchema.optional() }), response: { 200: writeOut, 201: writeOut } },
    },
    async (request, reply) => {
      const { ws: w, '*': path } = request.params;
      const b = request.body;
      const prior = await vault.resourceOf(db, w, path);
      const action = prior ? 'vault.secret.update' : 'vault.secret.create';
      const res = wanted(w, path, [...new Set([...(prior?.tags ?? []), ...(b.metadata?.tags ?? [])])]);
      await authorizeSecret(request, action, res);
      const out = await inTx(request, action, res, async (trx) => {
        const result = await vault.write(trx, request.actor, w, path, { type: b.type, value: b.value as Record<string, unknown>, cas: b.cas, metadata: b.metadata });
        return { result, details: { type: b.type, version: result.version, created: result.created, ...(result.pruned.length ? { pruned: result.pruned } : {}) } };
      });
      return reply.code(out.created ? 201 : 200).send({ path, ...out });
    },
  );

  r.get(
    `${base}/data/*`,
    { config: access('vault.secret.read'), schema: { params: pathParams, querystring: versionQuery, response: { 200: versionOut.extend({ path: z.string(), type: z.enum(SECRET_TYPES), currentVersion: z.number() }) } } },
    async (request) => {
      const { ws: w, '*': path } = request.params;
      const res = await existing(w, path, 'vault.secret.read', request);
      await authorizeSecret(request, 'vault.secret.read', res);
      const v = await vault.versionMetadata(db, w, path, request.query.version);
      await audit.recordAlone(request, { action: 'vault.secret.read', resource: auditResource(res), details: { version: v.version } });
      return v;
    },
  );

  r.post(
    `${base}/reveal/*`,
    { config: access('vault.secret.reveal'), schema: { params: pathParams, querystring: versionQuery, response: { 200: revealOut } } },
    async (request, reply) => {
      const { ws: w, '*': path } = request.params;
      await recentAuth(request, 'vault.secret.reveal', wanted(w, path));
      // One read; decide with the secret's tags before anything is opened.
      let found;
      try {
        found = await vault.findForReveal(db, w, path, request.query.version);
      } catch (err) {
        await audit.recordAlone(request, { action: 'vault.secret.reveal', outcome: 'failure', resource: auditResource(wanted(w, path)), details: { error: isAppError(err) ? err.code : 'INTERNAL' } });
        throw err;
      }
      await authorizeSecret(request, 'vault.secret.reveal', found.resource);
      let out;
      try {
        out = vault.open(w, path, found);
      } catch (err) {
        await audit.recordAlone(request, { action: 'vault.secret.reveal', outcome: 'failure', resource: auditResource(found.resource), details: { version: found.version, error: isAppError(err) ? err.code : 'INTERNAL' } });
        throw err;
      }
      // Fail-closed: the value is returned only once its event is recorded (AUDIT_UNAVAILABLE otherwise).
      await audit.recordAlone(request, { action: 'vault.secret.reveal', resource: auditResource(found.resource), details: { version: out.version } });
      void reply.header('cache-control', 'no-store');
      return out;
    },
  );

  r.get(
    `${base}/metadata/*`,
    { config: access('vault.secret.read'), schema: { params: pathParams, response: { 200: metadataOut } } },
    async (request) => {
      const { ws: w, '*': path } = request.params;
      const res = await existing(w, path, 'vault.secret.read', request);
      await authorizeSecret(request, 'vault.secret.read', res);
      const m = await vault.metadata(db, w, path);
      await audit.recordAlone(request, { action: 'vault.secret.read', resource: auditResource(res), details: { metadata: true } });
      return m;
    },
  );

  r.patch(
    `${base}/metadata/*`,
    { config: access('vault.secret.update'), schema: { params: pathParams, body: metadataInputSchema, response: { 200: z.object({ path: z.string(), pruned: z.array(z.number()) }) } } },
    async (request) => {
      const { ws: w, '*': path } = request.params;
      const prior = await existing(w, path, 'vault.secret.update', request);
      const res = { ...prior, tags: [...new Set([...prior.tags, ...(request.body.tags ?? [])])] };
      await authorizeSecret(request, 'vault.secret.update', res);
      const fields = Object.keys(request.body);
      const out = await inTx(request, 'vault.secret.update', res, async (trx) => {
        const result = await vault.updateMetadata(trx, request.actor, w, path, request.body);
        return { result, details: { metadata: fields, ...(result.pruned.length ? { pruned: result.pruned } : {}) } };
      });
      return { path, pruned: out.pruned };
    },
  );

  r.delete(
    `${base}/metadata/*`,
    { config: access('vault.secret.destroy'), schema: { params: pathParams, response: { 200: z.object({ path: z.string(), destroyed: z.literal(true), versions: z.number() }) } } },
    async (request) => {
      const { ws: w, '*': path } = request.params;
      const res = await existing(w, path, 'vault.secret.destroy', request);
      await recentAuth(request, 'vault.secret.destroy', res);
      await authorizeSecret(request, 'vault.secret.destroy', res);
      const versions = await inTx(request, 'vault.secret.destroy', res, async (trx) => {
        const result = await vault.destroySecret(trx, w, path);
        return { result, details: { all: true, currentVersion: result } };
      });
      return { path, destroyed: true as const, versions };
    },
  );

  const versionsChange = (
    verb: 'delete' | 'undelete' | 'destroy',
    action: string,
    body: z.ZodType<{ versions?: number[] | undefined }>,
    run: (trx: Transaction<Database>, actor: Actor, w: string, path: string, versions: number[] | undefined) => Promise<number[]>,
  ) =>
    r.post(`${base}/${verb}/*`, { config: access(action), schema: { params: pathParams, body, response: { 200: changedOut } } }, async (request) => {
      const { ws: w, '*': path } = request.params;
      const res = await existing(w, path, action, request);
      if (verb === 'destroy') await recentAuth(request, action, res);
      await authorizeSecret(request, action, res);
      const versions = await inTx(request, action, res, async (trx) => {
        const result = await run(trx, request.actor, w, path, (request.body as { versions?: number[] }).versions);
        return { result, details: { versions: result } };
      });
      return { path, versions };
    });

  versionsChange('delete', 'vault.secret.delete', z.strictObject({ versions: versionList.optional() }), (trx, a, w, p, v) => vault.deleteVersions(trx, a, w, p, v));
  versionsChange('undelete', 'vault.secret.undelete', z.strictObject({ versions: versionList }), (trx, a, w, p, v) => vault.undeleteVersions(trx, a, w, p, v!));
  versionsChange('destroy', 'vault.secret.destroy', z.strictObject({ versions: versionList }), (trx, a, w, p, v) => vault.destroyVersions(trx, a, w, p, v!));

  r.post(
    `${base}/rollback/*`,
    { config: access('vault.secret.update'), schema: { params: pathParams, body: z.strictObject({ version: versionNo, cas: cas.optional() }), response: { 200: writeOut } } },
    async (request) => {
      const { ws: w, '*': path } = request.params;
      const res = await existing(w, path, 'vault.secret.update', request);
      await authorizeSecret(request, 'vault.secret.update', res);
      const out = await inTx(request, 'vault.secret.update', res, async (trx) => {
        const result = await vault.rollback(trx, request.actor, w, path, request.body.version, request.body.cas);
        return { result, details: { rollbackFrom: request.body.version, version: result.version } };
      });
      return { path, ...out };
    },
  );

  r.get(
    '/api/v1/workspaces/:ws/secrets-due',
    { config: access('vault.secret.list'), schema: { params: z.object({ ws }), querystring: z.strictObject({ withinDays: z.coerce.number().int().min(0).max(3650).default(0) }), response: { 200: dueOut } } },
    async (request) => {
      const { ws: w } = request.params;
      const all = await vault.due(db, w, request.query.withinDays * 86_400);
      const secrets = all.filter((s) => deps.authorize(request.actor, 'vault.secret.list', wanted(w, s.path, s.tags)).allowed);
      await audit.recordAlone(request, { action: 'vault.secret.list', resource: { type: 'workspace', id: w, workspace: w }, details: { due: secrets.length, withinDays: request.query.withinDays } });
      return { secrets };
    },
  );
}
