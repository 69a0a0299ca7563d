/**
 * Resumable dataset uploads over HTTPS (C8): `/api/v1/workspaces/:ws/datasets/:name/uploads…`.
 *
 * A client opens a session with the file's size (and optionally its SHA-256), sends numbered parts
 * of exactly `partSize` bytes (the last one: the remainder) in any order, over any number of
 * connections, resends a part whose request failed, asks which parts arrived, and completes. The
 * version appears only when `complete` has joined and verified every byte (see
 * modules/datasets/datasets.uploads.ts). Each step is its own Cedar action
 * (`dataset.upload.open|read|part|cancel`; completing is `dataset.version.create`), decided on
 * the concrete dataset (its tags) and audited under the same name.
 */
import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Actor } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import type { Decision, ResourceRef } from '../../modules/access/index.ts';
import { MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, type DatasetsService, type UploadSessions } from '../../modules/datasets/index.ts';
import { driveNameSchema } from '../../modules/drives/index.ts';
import type { AuditContext } from '../audit-context.ts';
import { datasetGuard } from './dataset-access.ts';
import { datasetNameSchema, descriptionSchema, filenameSchema, mediaTypeSchema, tag, versionOut, ws } from './dataset-schemas.ts';

export interface DatasetUploadRoutesDeps {
  datasets: DatasetsService;
  uploads: UploadSessions;
  audit: AuditContext;
  authorize: (actor: Actor, action: string, resource?: ResourceRef) => Decision;
}

const ACTION = 'dataset.version.create';
const sessionId = z.string().regex(/^up_[0-9a-f]{32}$/, 'an upload id (up_…)');
const sessionOut = z.object({
  id: z.string(), dataset: z.string(), version: z.number(), drive: z.string(), size: z.number(), partSize: z.number(), partCount: z.number(),
  received: z.array(z.number()), expiresAt: z.string(),
});
const params = z.object({ ws, name: datasetNameSchema, id: sessionId });

export function registerDatasetUploadRoutes(app: FastifyInstance, deps: DatasetUploadRoutesDeps): void {
  const { datasets, uploads, audit } = deps;
  const { auditRes, authorizeDataset, failed } = datasetGuard(deps);
  const base = '/api/v1/workspaces/:ws/datasets/:name/uploads';
  const access = (action: string) => ({ access: { action, audit: action } });

  void app.register(async (scope) => {
    // Parts arrive as raw bytes, handed over as a stream and read into one bounded buffer.
    scope.addContentTypeParser('application/octet-stream', { bodyLimit: MAX_PART_SIZE }, (_req, payload, done) => done(null, payload));
    const r = scope.withTypeProvider<ZodTypeProvider>();

    r.post(
      base,
      {
        config: access('dataset.upload.open'),
        schema: {
          params: z.object({ ws, name: datasetNameSchema }),
          body: z.strictObject({
            size: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
            partSize: z.number().int().min(MIN_PART_SIZE).max(MAX_PART_SIZE).multipleOf(MIN_PART_SIZE).optional(),
            sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a hex SHA-256').optional(),
            drive: driveNameSchema.optional(),
            filename: filenameSchema.optional(),
            mediaType: mediaTypeSchema.optional(),
            description: descriptionSchema.optional(),
            tags: z.array(tag).max(32).optional(),
          }),
          response: { 201: sessionOut },
        },
      },
      async (request, reply) => {
        const { ws: w, name } = request.params;
        const b = request.body;
        await authorizeDataset(request, 'dataset.upload.open', w, name, false);
        const drive = b.drive ?? (await datasets.defaultDrive(w));
        try {
          const out = await uploads.open(
            request.actor, w, name,
            { size: b.size, partSize: b.partSize, sha256: b.sha256, drive, mediaType: b.mediaType ?? 'application/octet-stream', filename: b.filename, description: b.description, tags: b.tags },
            (work) => audit.run(request, { action: 'dataset.upload.open', resource: auditRes(w, name), details: { drive, size: b.size } }, work),
          );
          return await reply.code(201).send(out);
        } catch (err) {
          return failed(request, 'dataset.upload.open', w, name, err, { drive, size: b.size });
        }
      },
    );

    r.get(base + '/:id', { config: access('dataset.upload.read'), schema: { params, response: { 200: sessionOut } } }, async (request) => {
      const { ws: w, name, id } = request.params;
      await authorizeDataset(request, 'dataset.upload.read', w, name, true);
      try {
        const out = await uploads.status(request.actor, w, name, id);
        await audit.recordAlone(request, { action: 'dataset.upload.read', resource: auditRes(w, name), details: { upload: id } });
        return out;
      } catch (err) {
        return failed(request, 'dataset.upload.read', w, name, err, { upload: id });
      }
    });

    r.put(
      base + '/:id/parts/:n',
      {
        bodyLimit: MAX_PART_SIZE,
        config: access('dataset.upload.part'),
        schema: { params: params.extend({ n: z.coerce.number().int().min(1).max(MAX_PARTS) }), response: { 200: z.object({ part: z.number(), size: z.number(), alreadyStored: z.boolean() }) } },
      },
      async (request) => {
        const { ws: w, name, id, n } = request.params;
        const event = { action: 'dataset.upload.part', resource: auditRes(w, name), details: { upload: id, part: n } };
        const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        const raw = request.body as Readable | undefined;
        if ((raw !== undefined && typeof raw.pipe !== 'function') || (type !== 'application/octet-stream' && type !== '')) {
          return failed(request, event.action, w, name, new AppError('UNSUPPORTED_MEDIA_TYPE', { detail: 'Send the part bytes as application/octet-stream.' }), event.details);
        }
        const body = raw ?? Readable.from([]);
        try {
          await authorizeDataset(request, event.action, w, name, true);
          const stored = await uploads.putPart(request.actor, w, name, id, n, body);
          await audit.run(request, { ...event, details: { ...event.details, size: stored.size, ...(stored.alreadyStored ? { repeat: 1 } : {}) } }, stored.commit);
          return { part: n, size: stored.size, alreadyStored: stored.alreadyStored };
        } catch (err) {
          body.resume();
          return failed(request, event.action, w, name, err, event.details);
        }
      },
    );

    r.post(
      base + '/:id/complete',
      { config: access(ACTION), schema: { params, response: { 201: z.object({ dataset: z.string(), version: versionOut }) } } },
      async (request, reply) => {
        const { ws: w, name, id } = request.params;
        await authorizeDataset(request, ACTION, w, name, true);
        let done;
        try {
          done = await uploads.assemble(request.actor, w, name, id);
        } catch (err) {
          return failed(request, ACTION, w, name, err, { upload: id });
        }
        const { handle, result, finish } = done;
        const version = await audit.run(
          request,
          { action: ACTION, resource: auditRes(w, name), details: { version: handle.version, drive: handle.drive, size: result.plainSize, sha256: result.sha256, upload: id } },
          (trx) => datasets.commit(trx, handle, result),
        );
        await finish();
        return reply.code(201).send({ dataset: name, version });
      },
    );

    r.delete(base + '/:id', { config: access('dataset.upload.cancel'), schema: { params } }, async (request, reply) => {
      const { ws: w, name, id } = request.params;
      await authorizeDataset(request, 'dataset.upload.cancel', w, name, true);
      try {
        await uploads.status(request.actor, w, name, id); // NOT_FOUND unless it is the caller's open session
        await audit.run(request, { action: 'dataset.upload.cancel', resource: auditRes(w, name), details: { upload: id } }, async () => undefined);
        await uploads.cancel(request.actor, w, name, id);
      } catch (err) {
        return failed(request, 'dataset.upload.cancel', w, name, err, { upload: id });
      }
      return reply.code(204).send();
    });
  });
}
