/**
 * Dataset uploads over HTTPS (C8). Three ways to create a version, all decided on the concrete
 * dataset (its tags) and all ending in one commit of the version with its audit event:
 *
 * - `PUT …/datasets/:name/versions`: the raw bytes (`application/octet-stream`, streamed, never
 *   buffered), with optional `?drive=` (default: the drive of the dataset's newest version, else
 *   the workspace's default drive), `?size=`,
 *   `?sha256=`, `?filename=`, `?mediaType=`, `?description=`, `?tag=`.
 * - `POST …/datasets/:name/versions`: a browser form (`multipart/form-data`): optional text fields
 *   first (the same names, `tag` repeatable), then exactly one file field named `file`, streamed
 *   like the raw upload. Fields after the file are not read. The file's own name and type are used
 *   when the fields do not give them (a name that is not a plain file name is dropped).
 * - Resumable sessions `…/datasets/:name/uploads…`: open with the size, send numbered parts in any
 *   order and over any number of connections, ask what arrived, complete (or cancel). Each step is
 *   its own action (`dataset.upload.open|read|part|cancel`; completing is `dataset.version.create`).
 *
 * Each route declares its body kind (`octet-stream`, `multipart`, `json`, `none`): the raw and part
 * bodies reach the handlers as streams and the form through @fastify/multipart (the pipeline's
 * parsers), the form's file limited to the largest upload here.
 */
import path from 'node:path';
import { PassThrough, Readable, finished } from 'node:stream';
import type {} from '@fastify/multipart';
import { z } from 'zod';

import { AppError } from '../../core/errors.ts';
import { route, type RouteDef } from '../../http/route.ts';
import type { DatasetsService, VersionView } from './datasets.service.ts';
import { datasetLoader, NO_SUCH_DATASET } from './datasets.resource.ts';
import type { UploadSessions } from './datasets.uploads.ts';
import {
  createdOut,
  datasetParams,
  filenameSchema,
  formFields,
  MAX_PART_SIZE,
  MAX_PARTS,
  mediaTypeSchema,
  rawUploadQuery,
  sessionOut,
  sessionParams,
  uploadPartAnswer,
  uploadSessionBody,
} from '../../contracts/datasets.ts';

export interface DatasetUploadRoutesDeps {
  datasets: DatasetsService;
  uploads: UploadSessions;
  /** Largest accepted upload (STRONGROOM_UPLOAD_MAX_BYTES). */
  maxUploadBytes: number;
}

/**
 * The file field's bytes. A form that breaks off (or overflows) inside the file fails the file
 * stream with the parser's error; that is the sender's fault, so the upload answers 4xx instead
 * of reporting a stream failure as the drive's (502). `finished` also sees a stream the parser
 * destroyed without an 'error' event, which `pipe` alone would miss (a hang).
 */
function fileBytes(file: Readable): Readable {
  const out = new PassThrough();
  out.on('error', () => undefined); // kept in `out.errored` for the upload's pipeline
  finished(file, (err) => {
    if (!err) return;
    const tooLarge = (err as { statusCode?: number }).statusCode === 413;
    out.destroy(
      tooLarge
        ? new AppError('BODY_TOO_LARGE', { detail: 'The file is larger than an upload may be.', cause: err })
        : new AppError('BAD_REQUEST', {
            detail: 'The form ended inside the file: send one complete multipart/form-data form.',
            cause: err,
          }),
    );
  });
  // The upload stopping early (a drive failure) stops reading the file as well.
  out.once('close', () => {
    if (!file.readableEnded) file.destroy();
  });
  return file.pipe(out);
}

const base = '/api/v1/workspaces/:ws/datasets/:name';

const mediaTypeOf = (contentType: string | undefined) =>
  String(contentType ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();

export function datasetUploadRoutes({ datasets, uploads, maxUploadBytes }: DatasetUploadRoutesDeps): RouteDef[] {
  const dataset = datasetLoader(datasets.find);
  /** The answer to a stored version, pointing out an identical re-upload. */
  const created = async (workspaceId: string, name: string, version: VersionView) => {
    const same = await datasets.identicalPredecessor(workspaceId, name, version.version, version.sha256);
    return { dataset: name, version, ...(same !== undefined ? { identicalTo: same } : {}) };
  };

  return [
    route({
      method: 'PUT',
      url: `${base}/versions`,
      body: 'octet-stream',
      action: 'dataset.version.create',
      run: 'explicit',
      resource: dataset,
      status: 201,
      bodyLimit: maxUploadBytes,
      schema: {
        params: datasetParams,
        querystring: rawUploadQuery,
        response: { 201: createdOut },
      },
      handler: async ({ request, actor, input, event, commit }) => {
        const body = request.body as Readable | undefined;
        if (
          mediaTypeOf(request.headers['content-type']) !== 'application/octet-stream' ||
          typeof body?.pipe !== 'function'
        ) {
          throw new AppError('UNSUPPORTED_MEDIA_TYPE', { detail: 'Send the file bytes as application/octet-stream.' });
        }
        if (request.headers['content-length'] !== undefined && Number(request.headers['content-length']) === 0) {
          throw new AppError('VALIDATION_FAILED', {
            detail: 'The upload is empty: send the file bytes as application/octet-stream.',
          });
        }
        const { ws: workspaceId, name } = input.params;
        const q = input.query;
        const meta = {
          drive: q.drive,
          size: q.size,
          sha256: q.sha256,
          filename: q.filename,
          mediaType: q.mediaType,
          description: q.description,
          tags: q.tag === undefined ? undefined : [q.tag].flat(),
        };
        const version = await datasets.upload(actor, workspaceId, name, body, meta, {
          note: (d) => event.details(d),
          commit,
        });
        return created(workspaceId, name, version);
      },
    }),

    route({
      method: 'POST',
      url: `${base}/versions`,
      body: 'multipart',
      action: 'dataset.version.create',
      run: 'explicit',
      resource: dataset,
      status: 201,
      schema: { params: datasetParams, response: { 201: createdOut } },
      handler: async ({ request, actor, input, event, commit }) => {
        const { ws: workspaceId, name } = input.params;
        if (!request.isMultipart())
          throw new AppError('UNSUPPORTED_MEDIA_TYPE', {
            detail:
              'Send a multipart/form-data form with the file in a field named "file" (or PUT the raw bytes as application/octet-stream).',
          });
        const fields: Record<string, string[]> = {};
        try {
          for await (const part of request.parts({ limits: { fileSize: maxUploadBytes + 1 } })) {
            if (part.type === 'field') {
              if (typeof part.value === 'string') (fields[part.fieldname] ??= []).push(part.value);
              continue;
            }
            if (part.fieldname !== 'file') {
              part.file.resume();
              throw new AppError('VALIDATION_FAILED', {
                detail: `Put the file in a field named "file" (got "${part.fieldname.slice(0, 64).replace(/[^\w.-]/g, '?')}").`,
              });
            }
            const parsed = formFields.safeParse(fields);
            if (!parsed.success) {
              part.file.resume();
              const issue = parsed.error.issues[0]!;
              throw new AppError('VALIDATION_FAILED', {
                detail: `Form field "${String(issue.path[0] ?? '?')}": ${issue.message}.`,
              });
            }
            const f = parsed.data;
            const ownName = filenameSchema.safeParse(path.basename(part.filename ?? ''));
            const ownType = mediaTypeSchema.safeParse(part.mimetype);
            const meta = {
              drive: f.drive,
              size: f.size,
              sha256: f.sha256,
              description: f.description,
              tags: f.tag,
              filename: f.filename ?? (ownName.success ? ownName.data : undefined),
              mediaType: f.mediaType ?? (ownType.success ? ownType.data : undefined),
            };
            const version = await datasets.upload(actor, workspaceId, name, fileBytes(part.file), meta, {
              note: (d) => event.details(d),
              commit,
            });
            return created(workspaceId, name, version);
          }
        } catch (err) {
          if (err instanceof AppError) throw err;
          // Malformed multipart, too many parts or fields: the parser's own errors carry a 4xx status.
          const status = (err as { statusCode?: number }).statusCode;
          throw new AppError(status === 413 ? 'BODY_TOO_LARGE' : 'BAD_REQUEST', {
            detail: 'The form could not be read: send one multipart/form-data form with a "file" field.',
          });
        }
        throw new AppError('VALIDATION_FAILED', { detail: 'The form has no file: put it in a field named "file".' });
      },
    }),

    route({
      method: 'POST',
      url: `${base}/uploads`,
      body: 'json',
      action: 'dataset.upload.open',
      run: 'explicit',
      resource: dataset,
      status: 201,
      schema: {
        params: datasetParams,
        body: uploadSessionBody,
        response: { 201: sessionOut },
      },
      handler: async ({ actor, input, event, commit }) => {
        const { ws: workspaceId, name } = input.params;
        const b = input.body;
        const drive = b.drive ?? (await datasets.driveFor(workspaceId, name));
        event.details({ drive, size: b.size });
        const o = {
          size: b.size,
          partSize: b.partSize,
          sha256: b.sha256,
          drive,
          mediaType: b.mediaType ?? 'application/octet-stream',
          filename: b.filename,
          description: b.description,
          tags: b.tags,
        };
        return uploads.open(actor, workspaceId, name, o, commit);
      },
    }),

    route({
      method: 'GET',
      url: `${base}/uploads/:id`,
      action: 'dataset.upload.read',
      run: 'read',
      resource: dataset,
      mustExist: NO_SUCH_DATASET,
      schema: { params: sessionParams, response: { 200: sessionOut } },
      handler: ({ actor, input, event }) => {
        event.details({ upload: input.params.id });
        return uploads.status(actor, input.params.ws, input.params.name, input.params.id);
      },
    }),

    route({
      method: 'PUT',
      url: `${base}/uploads/:id/parts/:n`,
      body: 'octet-stream',
      action: 'dataset.upload.part',
      run: 'explicit',
      resource: dataset,
      mustExist: NO_SUCH_DATASET,
      bodyLimit: MAX_PART_SIZE,
      schema: {
        params: sessionParams.extend({ n: z.coerce.number().int().min(1).max(MAX_PARTS) }),
        response: { 200: uploadPartAnswer },
      },
      handler: async ({ request, actor, input, event, commit }) => {
        const { ws: workspaceId, name, id, n } = input.params;
        event.details({ upload: id, part: n });
        const type = mediaTypeOf(request.headers['content-type']);
        const raw = request.body as Readable | undefined;
        if (
          (raw !== undefined && typeof raw.pipe !== 'function') ||
          (type !== 'application/octet-stream' && type !== '')
        ) {
          throw new AppError('UNSUPPORTED_MEDIA_TYPE', { detail: 'Send the part bytes as application/octet-stream.' });
        }
        const body = raw ?? Readable.from([]);
        try {
          const stored = await uploads.putPart(actor, workspaceId, name, id, n, body);
          event.details({ size: stored.size, ...(stored.alreadyStored ? { repeat: 1 } : {}) });
          await commit(stored.commit);
          return { part: n, size: stored.size, alreadyStored: stored.alreadyStored };
        } catch (err) {
          body.resume();
          throw err;
        }
      },
    }),

    route({
      method: 'POST',
      url: `${base}/uploads/:id/complete`,
      body: 'json',
      action: 'dataset.version.create',
      run: 'explicit',
      resource: dataset,
      mustExist: NO_SUCH_DATASET,
      status: 201,
      schema: { params: sessionParams, response: { 201: createdOut } },
      handler: async ({ actor, input, event, commit }) => {
        const { ws: workspaceId, name, id } = input.params;
        event.details({ upload: id });
        const { handle, result, finish } = await uploads.assemble(actor, workspaceId, name, id);
        event.details({ version: handle.version, drive: handle.drive, size: result.plainSize, sha256: result.sha256 });
        const version = await commit((trx) => datasets.commit(trx, handle, result));
        await finish();
        return created(workspaceId, name, version);
      },
    }),

    route({
      method: 'DELETE',
      url: `${base}/uploads/:id`,
      body: 'none',
      action: 'dataset.upload.cancel',
      run: 'explicit',
      resource: dataset,
      mustExist: NO_SUCH_DATASET,
      schema: { params: sessionParams },
      handler: async ({ actor, input, event, record, reply }) => {
        const { ws: workspaceId, name, id } = input.params;
        event.details({ upload: id });
        await uploads.status(actor, workspaceId, name, id); // NOT_FOUND unless it is the caller's open session
        await record();
        await uploads.cancel(actor, workspaceId, name, id);
        return reply.code(204).send();
      },
    }),
  ];
}
