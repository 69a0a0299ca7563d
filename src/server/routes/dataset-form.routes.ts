/**
 * Writing a dataset version from a request body, shared by the raw `PUT …/versions` upload and the
 * browser form upload `POST …/versions` (`multipart/form-data`, this file).
 *
 * The form: optional text fields first (`drive`, `size`, `sha256`, `filename`, `mediaType`,
 * `description`, `tag` repeatable), then exactly one file field named `file`, streamed straight
 * into encryption like the raw upload (never buffered, never on disk). Fields after the file are
 * not read. The file's own name and type are used when the fields do not give them (a name that
 * is not a plain file name is dropped, not trusted). Cookie-authenticated forms need the CSRF
 * header like every other write, so a cross-site HTML form cannot post one.
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import type { DatasetsService } from '../../modules/datasets/index.ts';
import { driveNameSchema } from '../../modules/drives/index.ts';
import type { AuditContext } from '../audit-context.ts';
import type { datasetGuard } from './dataset-access.ts';
import { datasetNameSchema, descriptionSchema, filenameSchema, mediaTypeSchema, tag, versionOut, ws } from './dataset-schemas.ts';

type Guard = ReturnType<typeof datasetGuard>;

export interface VersionMeta {
  drive?: string | undefined;
  size?: number | undefined;
  sha256?: string | undefined;
  filename?: string | undefined;
  mediaType?: string | undefined;
  description?: string | undefined;
  tags?: string[] | undefined;
}

/**
 * Reserves the next version, streams `body` through encryption into the drive, and commits the
 * version with its audit event; any failure removes what was written and answers 4xx/5xx.
 */
export function versionWriter(deps: { datasets: DatasetsService; audit: AuditContext; failed: Guard['failed']; auditRes: Guard['auditRes'] }) {
  const { datasets, audit, failed, auditRes } = deps;
  const action = 'dataset.version.create';
  return async function writeVersion(request: FastifyRequest, reply: FastifyReply, w: string, name: string, body: Readable, m: VersionMeta) {
    const drive = m.drive ?? (await datasets.defaultDrive(w));
    let handle;
    try {
      handle = await datasets.begin(request.actor, w, name, { drive, mediaType: m.mediaType ?? 'application/octet-stream', filename: m.filename, description: m.description, tags: m.tags });
    } catch (err) {
      body.resume();
      return failed(request, action, w, name, err, { drive });
    }
    let result;
    try {
      result = await datasets.receive(handle, body, { declaredSize: m.size, expectedSha256: m.sha256, filename: m.filename });
      if (result.plainSize === 0) throw new AppError('VALIDATION_FAILED', { detail: 'The upload is empty.' });
    } catch (err) {
      await datasets.abandon(handle);
      return failed(request, action, w, name, err, { drive, version: handle.version });
    }
    try {
      const version = await audit.run(request, { action, resource: auditRes(w, name), details: { version: handle.version, drive, size: result.plainSize, sha256: result.sha256 } }, (trx) => datasets.commit(trx, handle, result));
      return await reply.code(201).send({ dataset: name, version });
    } catch (err) {
      await datasets.abandon(handle);
      throw err;
    }
  };
}

const one = <T extends z.ZodTypeAny>(s: T) => z.array(s).max(1).transform((a) => a[0]);
const formFields = z.strictObject({
  drive: one(driveNameSchema).optional(),
  size: one(z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER)).optional(),
  sha256: one(z.string().regex(/^[0-9a-f]{64}$/, 'a hex SHA-256')).optional(),
  filename: one(filenameSchema).optional(),
  mediaType: one(mediaTypeSchema).optional(),
  description: one(descriptionSchema).optional(),
  tag: z.array(tag).max(32).optional(),
});

export function registerDatasetFormRoute(
  app: FastifyInstance,
  deps: { maxUploadBytes: number; authorizeDataset: Guard['authorizeDataset']; failed: Guard['failed']; writeVersion: ReturnType<typeof versionWriter> },
): void {
  const action = 'dataset.version.create';
  void app.register(async (scope) => {
    // The file's size is enforced by the upload stream itself (413 past STRONGROOM_UPLOAD_MAX_BYTES).
    await scope.register(multipart, { limits: { fields: 40, fieldSize: 8192, fieldNameSize: 64, files: 1, parts: 41, headerPairs: 20, fileSize: deps.maxUploadBytes + 1 } });
    scope.withTypeProvider<ZodTypeProvider>().post(
      '/api/v1/workspaces/:ws/datasets/:name/versions',
      {
        config: { access: { action, audit: action } },
        schema: { params: z.object({ ws, name: datasetNameSchema }), response: { 201: z.object({ dataset: z.string(), version: versionOut }) } },
      },
      async (request, reply) => {
        const { ws: w, name } = request.params;
        await deps.authorizeDataset(request, action, w, name, false);
        const refuse = (err: AppError) => deps.failed(request, action, w, name, err);
        if (!request.isMultipart()) return refuse(new AppError('UNSUPPORTED_MEDIA_TYPE', { detail: 'Send a multipart/form-data form with the file in a field named "file" (or PUT the raw bytes as application/octet-stream).' }));
        const fields: Record<string, string[]> = {};
        try {
          for await (const part of request.parts()) {
            if (part.type === 'field') {
              if (typeof part.value !== 'string') continue;
              (fields[part.fieldname] ??= []).push(part.value);
              continue;
            }
            if (part.fieldname !== 'file') {
              part.file.resume();
              return await refuse(new AppError('VALIDATION_FAILED', { detail: `Put the file in a field named "file" (got "${part.fieldname.slice(0, 64).replace(/[^\w.-]/g, '?')}").` }));
            }
            const parsed = formFields.safeParse(fields);
            if (!parsed.success) {
              part.file.resume();
              const issue = parsed.error.issues[0]!;
              return await refuse(new AppError('VALIDATION_FAILED', { detail: `Form field "${String(issue.path[0] ?? '?')}": ${issue.message}.` }));
            }
            const f = parsed.data;
            const ownName = filenameSchema.safeParse(path.basename(part.filename ?? ''));
            const ownType = mediaTypeSchema.safeParse(part.mimetype);
            return await deps.writeVersion(request, reply, w, name, part.file, {
              drive: f.drive, size: f.size, sha256: f.sha256, description: f.description, tags: f.tag,
              filename: f.filename ?? (ownName.success ? ownName.data : undefined),
              mediaType: f.mediaType ?? (ownType.success ? ownType.data : undefined),
            });
          }
        } catch (err) {
          if (err instanceof AppError) throw err;
          // Malformed multipart, too many parts or fields: the parser's own errors carry a 4xx status.
          const status = (err as { statusCode?: number }).statusCode;
          return refuse(new AppError(status === 413 ? 'BODY_TOO_LARGE' : 'BAD_REQUEST', { detail: 'The form could not be read: send one multipart/form-data form with a "file" field.' }));
        }
        return refuse(new AppError('VALIDATION_FAILED', { detail: 'The form has no file: put it in a field named "file".' }));
      },
    );
  });
}
