/**
 * Datasets over HTTPS (C8): `/api/v1/workspaces/:ws/datasets…`.
 *
 * Upload is `PUT …/datasets/:name/versions` with the raw bytes (`application/octet-stream`,
 * streamed, never buffered), optional `?drive=` (default: the workspace's default drive),
 * `?size=` (declared size) and `?sha256=` (expected checksum). The version becomes visible only
 * when its commit and audit event land together; a failed or interrupted upload is removed.
 * Download is `GET …/versions/:v/content` with single-range `Range` support; the audit event is
 * recorded before the first byte is sent. Every handler also decides with the concrete dataset
 * (its tags), so tag rules apply.
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Readable } from 'node:stream';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Actor } from '../../core/actor.ts';
import { AppError, isAppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { Decision, ResourceRef } from '../../modules/access/index.ts';
import type { DatasetsService } from '../../modules/datasets/index.ts';
import { driveNameSchema } from '../../modules/drives/index.ts';
import type { AuditContext } from '../audit-context.ts';
import { datasetGuard } from './dataset-access.ts';
import { registerDatasetFormRoute, versionWriter } from './dataset-form.routes.ts';
import { CONTROL, datasetNameSchema, descriptionSchema, filenameSchema, mediaTypeSchema, tag, versionNo, versionOut, ws } from './dataset-schemas.ts';

export interface DatasetsRoutesDeps {
  datasets: DatasetsService;
  db: Kysely<Database>;
  audit: AuditContext;
  authorize: (actor: Actor, action: string, resource?: ResourceRef) => Decision;
  maxUploadBytes: number;
}

export { datasetNameSchema } from './dataset-schemas.ts';

const datasetOut = z.object({ name: z.string(), description: z.string(), tags: z.array(z.string()), owner: z.string().nullable(), createdBy: z.string(), createdAt: z.string(), updatedAt: z.string() });

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` against `size`; undefined = no range; throws 416. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  const unsatisfiable = () => new AppError('RANGE_NOT_SATISFIABLE', { detail: `Give one range within 0–${Math.max(size - 1, 0)} (bytes=start-end).`, meta: { size } });
  if (!m || (m[1] === '' && m[2] === '')) throw unsatisfiable();
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) throw unsatisfiable();
  return { start, end };
}

export function registerDatasetsRoutes(app: FastifyInstance, deps: DatasetsRoutesDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { datasets, audit } = deps;
  const access = (action: string) => ({ access: { action, audit: action } });
  const base = '/api/v1/workspaces/:ws/datasets';
  const { auditRes, authorizeDataset, failed } = datasetGuard(deps);
  const writeVersion = versionWriter({ ...deps, failed, auditRes });

  r.get(
    base,
    {
      config: access('dataset.dataset.list'),
      schema: {
        params: z.object({ ws }),
        querystring: z.strictObject({ search: z.string().max(128).refine((s) => !CONTROL.test(s)).optional(), tag: tag.optional(), after: datasetNameSchema.optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }),
        response: { 200: z.object({ datasets: z.array(datasetOut.extend({ latestVersion: z.number().nullable(), versions: z.number(), bytes: z.number() })), next: z.string().nullable() }) },
      },
    },
    async (request) => {
      const w = request.params.ws;
      const q = request.query;
      const rows = await datasets.list(w, { search: q.search, tag: q.tag, after: q.after, limit: q.limit });
      const visible = rows.filter((d) => deps.authorize(request.actor, 'dataset.dataset.list', { type: 'dataset', id: d.name, workspace: w, tags: d.tags }).allowed);
      await audit.recordAlone(request, { action: 'dataset.dataset.list', resource: { type: 'workspace', id: w, workspace: w }, details: { count: visible.length } });
      return {
        datasets: visible.map((d) => ({
          name: d.name, description: d.description, tags: d.tags, owner: d.owner, createdBy: d.created_by, createdAt: d.created_at.toISOString(), updatedAt: d.updated_at.toISOString(),
          latestVersion: d.latest === null ? null : Number(d.latest), versions: Number(d.versions ?? 0), bytes: Number(d.bytes ?? 0),
        })),
        next: rows.length === q.limit ? rows[rows.length - 1]!.name : null,
      };
    },
  );

  r.get(
    `${base}/:name`,
    { config: access('dataset.dataset.read'), schema: { params: z.object({ ws, name: datasetNameSchema }), response: { 200: datasetOut.extend({ versions: z.array(versionOut) }) } } },
    async (request) => {
      const { ws: w, name } = request.params;
      const row = (await authorizeDataset(request, 'dataset.dataset.read', w, name, true))!;
      const versions = await datasets.versions(w, name);
      await audit.recordAlone(request, { action: 'dataset.dataset.read', resource: auditRes(w, name) });
      return { name, description: row.description, tags: row.tags, owner: row.owner, createdBy: row.created_by, createdAt: row.created_at.toISOString(), updatedAt: row.updated_at.toISOString(), versions };
    },
  );

  r.get(
    `${base}/:name/versions/:v`,
    { config: access('dataset.dataset.read'), schema: { params: z.object({ ws, name: datasetNameSchema, v: versionNo }), response: { 200: versionOut } } },
    async (request) => {
      const { ws: w, name, v } = request.params;
      await authorizeDataset(request, 'dataset.dataset.read', w, name, true);
      try {
        const out = await datasets.version(w, name, v);
        await audit.recordAlone(request, { action: 'dataset.dataset.read', resource: auditRes(w, name), details: { version: v } });
        return out;
      } catch (err) {
        return failed(request, 'dataset.dataset.read', w, name, err, { version: v });
      }
    },
  );

  // Upload: the raw body is handed to the handler as a stream (no parsing, no buffering).
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/octet-stream', { bodyLimit: deps.maxUploadBytes }, (_req, payload, done) => done(null, payload));
    scope.withTypeProvider<ZodTypeProvider>().put(
      `${base}/:name/versions`,
      {
        bodyLimit: deps.maxUploadBytes,
        config: access('dataset.version.create'),
        schema: {
          params: z.object({ ws, name: datasetNameSchema }),
          querystring: z.strictObject({
            drive: driveNameSchema.optional(),
            size: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
            sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a hex SHA-256').optional(),
            filename: filenameSchema.optional(),
            mediaType: mediaTypeSchema.optional(),
            description: descriptionSchema.optional(),
            tag: z.union([tag, z.array(tag).max(32)]).optional(),
          }),
          response: { 201: z.object({ dataset: z.string(), version: versionOut }) },
        },
      },
      async (request, reply) => {
        const { ws: w, name } = request.params;
        const q = request.query;
        const body = request.body as Readable | undefined;
        const action = 'dataset.version.create';
        await authorizeDataset(request, action, w, name, false);
        const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/octet-stream' || typeof (body as Readable | undefined)?.pipe !== 'function') {
          await audit.recordAlone(request, { action, outcome: 'failure', resource: auditRes(w, name), details: { error: 'UNSUPPORTED_MEDIA_TYPE' } });
          throw new AppError('UNSUPPORTED_MEDIA_TYPE', { detail: 'Send the file bytes as application/octet-stream.' });
        }
        if (!body || (request.headers['content-length'] !== undefined && Number(request.headers['content-length']) === 0)) {
          await audit.recordAlone(request, { action, outcome: 'failure', resource: auditRes(w, name), details: { error: 'VALIDATION_FAILED' } });
          throw new AppError('VALIDATION_FAILED', { detail: 'The upload is empty: send the file bytes as application/octet-stream.' });
        }
        return writeVersion(request, reply, w, name, body, { drive: q.drive, size: q.size, sha256: q.sha256, filename: q.filename, mediaType: q.mediaType, description: q.description, tags: q.tag === undefined ? undefined : [q.tag].flat() });
      },
    );
  });

  registerDatasetFormRoute(app, { ...deps, authorizeDataset, failed, writeVersion });

  r.get(
    `${base}/:name/versions/:v/content`,
    { config: access('dataset.version.read'), schema: { params: z.object({ ws, name: datasetNameSchema, v: versionNo }) } },
    async (request, reply) => {
      const { ws: w, name, v } = request.params;
      const action = 'dataset.version.read';
      await authorizeDataset(request, action, w, name, true);
      let opened;
      let range;
      try {
        const meta = await datasets.version(w, name, v);
        range = parseRange(typeof request.headers.range === 'string' ? request.headers.range : undefined, meta.size);
        opened = await datasets.open(w, name, v, range);
      } catch (err) {
        if (isAppError(err) && err.code === 'RANGE_NOT_SATISFIABLE') void reply.header('content-range', `bytes */${String(err.meta?.size ?? '*')}`);
        return failed(request, action, w, name, err, { version: v });
      }
      try {
        // Fail-closed: no byte leaves before the event is recorded.
        await audit.recordAlone(request, { action, resource: auditRes(w, name), details: { version: v, ...(range ? { range: `${range.start}-${range.end}` } : {}) } });
      } catch (err) {
        opened.stream.destroy();
        throw err;
      }
      const filename = opened.row.filename ?? `${name}-v${v}`;
      void reply
        .code(range ? 206 : 200)
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(opened.length))
        .header('accept-ranges', 'bytes')
        .header('cache-control', 'no-store')
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(filename)}`)
        .header('x-content-sha256', opened.row.sha256 ?? '');
      if (range) void reply.header('content-range', `bytes ${range.start}-${range.end}/${opened.size}`);
      return reply.send(opened.stream);
    },
  );

  r.delete(
    `${base}/:name/versions/:v`,
    { config: access('dataset.version.delete'), schema: { params: z.object({ ws, name: datasetNameSchema, v: versionNo }), response: { 200: z.object({ dataset: z.string(), deleted: z.array(z.number()) }) } } },
    async (request) => {
      const { ws: w, name, v } = request.params;
      await authorizeDataset(request, 'dataset.version.delete', w, name, true);
      const rows = await audit.run(request, { action: 'dataset.version.delete', resource: auditRes(w, name), details: { version: v } }, async (trx) => {
        const marked = await datasets.markDeleted(trx, w, name, v);
        if (marked.length === 0) throw new AppError('NOT_FOUND', { detail: 'No such version of this dataset.' });
        return marked;
      });
      await datasets.purge(rows);
      return { dataset: name, deleted: rows.map((x) => x.version) };
    },
  );

  r.delete(
    `${base}/:name`,
    { config: access('dataset.dataset.delete'), schema: { params: z.object({ ws, name: datasetNameSchema }), response: { 200: z.object({ dataset: z.string(), deleted: z.array(z.number()) }) } } },
    async (request) => {
      const { ws: w, name } = request.params;
      await authorizeDataset(request, 'dataset.dataset.delete', w, name, true);
      const rows = await audit.run(request, { action: 'dataset.dataset.delete', resource: auditRes(w, name) }, async (trx) => {
        await datasets.deleteDatasetRow(trx, w, name);
        return datasets.markDeleted(trx, w, name);
      });
      if (rows.length > 0) await datasets.purge(rows, true);
      else await deps.db.deleteFrom('datasets').where('workspace_id', '=', w).where('name', '=', name).execute();
      return { dataset: name, deleted: rows.map((x) => x.version) };
    },
  );
}
