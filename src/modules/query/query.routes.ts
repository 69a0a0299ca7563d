/**
 * Governed reads over HTTPS (C9 part 1): preview of a version, SQL over the workspace's datasets,
 * export of a version. Declarations only; the work is `query.service.ts`.
 *
 * Events: `dataset.data.preview`, `dataset.data.query`, `dataset.data.export`, each naming the
 * datasets and versions read, the rows returned and — for SQL — the statement with its literals
 * replaced by '?' and its fingerprint (never the raw text). Query and export record their event
 * before the first byte leaves; a closed connection cancels the running statement.
 *
 * Saving a result (`POST …/datasets/:name/versions/from-query`) is a version creation: the one
 * decision is `dataset.version.create` on the target dataset, each dataset the SQL reads needs
 * `dataset.data.export` (a source the caller may not export answers like a missing one), and the
 * result goes through the datasets module's upload (encrypted, checked, committed with the event
 * `dataset.version.create`, whose details name what was read, the rows and the statement).
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { workspaceParams } from '../../contracts/common.ts';
import { route, type RouteDef } from '../../http/route.ts';
import type { Actor } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import { datasetParams } from '../../contracts/datasets.ts';
import type { DatasetsService } from '../datasets/index.ts';

import { MAX_SQL_LENGTH } from './query.sql-check.ts';
import type { QueryService, ResultFormat } from './query.service.ts';
import type { ReadWhy } from './query.relation.ts';
import type { JsonValue } from '../../core/audit/event.ts';
import { savedQueryAnswer, previewQuery, queryBody, saveBody, versionParams } from '../../contracts/query.ts';

export interface QueryRoutesDeps {
  query: QueryService;
  datasets: Pick<DatasetsService, 'find' | 'upload'>;
  maxRows: number;
  /** A member of the workspace as a reader (roles there, attributes), for `as: "user:<id>"`; undefined: not a member. */
  readerOf: (workspaceId: string, userId: string) => Promise<Actor | undefined>;
}

const MEDIA: Record<Exclude<ResultFormat, 'json'>, string> = {
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/x-ndjson',
  parquet: 'application/vnd.apache.parquet',
};
const NO_SUCH_DATASET = 'No such dataset in this workspace.';

/** Which data policies shaped a read (names only), as an audit detail. */
const whyJson = (why: Record<string, ReadWhy> | undefined): JsonValue =>
  JSON.parse(JSON.stringify(why ?? {})) as JsonValue;

/** Aborts when the client goes away before the answer is complete. */
function abortOnClose(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

export function queryRoutes({ query, datasets, maxRows, readerOf }: QueryRoutesDeps): RouteDef[] {
  const loadDataset = async ({ params }: { params: { ws: string; name: string } }) => {
    const row = await datasets.find(params.ws, params.name);
    return { ref: { type: 'dataset', id: params.name, workspace: params.ws, tags: row?.tags ?? [] }, row };
  };
  const fileFormat = z.enum(['csv', 'jsonl', 'parquet']);

  return [
    route({
      method: 'GET',
      url: '/api/v1/workspaces/:ws/datasets/:name/versions/:v/preview',
      action: 'dataset.data.preview',
      run: 'read',
      resource: loadDataset,
      mustExist: NO_SUCH_DATASET,
      schema: {
        params: versionParams,
        querystring: previewQuery,
      },
      handler: async ({ input, actor, reply, event }) => {
        const { ws: workspaceId, name, v } = input.params;
        event.details({ version: v });
        const p = await query.preview(actor, workspaceId, name, v, { ...input.query, signal: abortOnClose(reply) });
        event.details({ datasets: [`${name}@v${p.version}`], rows: p.rows.length });
        if (p.why) event.details({ policies: whyJson({ [`${name}@v${p.version}`]: p.why }) });
        return p;
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/workspaces/:ws/query',
      action: 'dataset.data.query',
      run: 'explicit',
      resource: 'workspace',
      bodyLimit: MAX_SQL_LENGTH * 4 + 1024,
      schema: {
        params: workspaceParams,
        body: queryBody(maxRows),
      },
      handler: async ({ input, actor, reply, event, record, allowed }) => {
        const { sql, format } = input.body;
        const limit = input.body.limit ?? Math.min(1000, maxRows);
        const signal = abortOnClose(reply);
        event.details({ format });
        const as = input.body.as;
        if (as) {
          if (format !== 'json' || !allowed('policy.rule.create', { type: 'data-policy', workspace: input.params.ws }))
            throw new AppError('FORBIDDEN', {
              detail: 'Simulating a reader needs the right to write data policies, and a JSON answer.',
            });
          event.details({
            simulatedAs:
              typeof as === 'string'
                ? { user: as.slice(5) }
                : { roles: as.roles, attributes: Object.keys(as.attributes) },
          });
        }
        const simulated: Actor | undefined =
          as === undefined
            ? undefined
            : typeof as === 'string'
              ? await readerOf(input.params.ws, as.slice(5)).then((r) => {
                  if (!r)
                    throw new AppError('NOT_FOUND', {
                      detail: 'No active member with that user id in this workspace.',
                    });
                  return r;
                })
              : {
                  id: `simulated:${actor.id}`,
                  kind: 'user' as const,
                  roles: as.roles,
                  attributes: { ...as.attributes, ...(as.mfa ? { mfa: true } : {}) },
                  workspace: input.params.ws,
                };
        if (format === 'json') {
          const r = await query.queryJson(actor, input.params.ws, sql, {
            limit,
            allowed,
            signal,
            ...(simulated ? { as: simulated } : {}),
          });
          event.details({
            datasets: r.datasets,
            rows: r.rows,
            truncated: r.truncated,
            fingerprint: r.fingerprint ?? '',
            statement: r.statement ?? '',
            policies: whyJson(r.why),
          });
          await record();
          return { columns: r.columns, rows: r.rows_, rowCount: r.rows, truncated: r.truncated, policies: r.why ?? {} };
        }
        const r = await query.queryFile(actor, input.params.ws, sql, format, {
          limit,
          allowed,
          signal,
          action: 'dataset.data.query',
        });
        return sendFile(reply, r, format, 'query', async () => {
          event.details({
            datasets: r.datasets,
            rows: r.rows,
            truncated: r.truncated,
            fingerprint: r.fingerprint ?? '',
            statement: r.statement ?? '',
            policies: whyJson(r.why),
          });
          await record();
        });
      },
    }),

    route({
      method: 'GET',
      url: '/api/v1/workspaces/:ws/datasets/:name/versions/:v/export',
      action: 'dataset.data.export',
      run: 'explicit',
      resource: loadDataset,
      mustExist: NO_SUCH_DATASET,
      schema: { params: versionParams, querystring: z.strictObject({ format: fileFormat.default('csv') }) },
      handler: async ({ input, actor, reply, event, record, allowed }) => {
        const { ws: workspaceId, name, v } = input.params;
        const format = input.query.format;
        event.details({ version: v, format });
        const r = await query.queryFile(actor, workspaceId, `SELECT * FROM "${name}@v${v}"`, format, {
          limit: undefined,
          allowed,
          signal: abortOnClose(reply),
          action: 'dataset.data.export',
        });
        return sendFile(reply, r, format, `${name}-v${v}`, async () => {
          event.details({ datasets: r.datasets, rows: r.rows, policies: whyJson(r.why) });
          await record();
        });
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/workspaces/:ws/datasets/:name/versions/from-query',
      action: 'dataset.version.create',
      run: 'explicit',
      resource: loadDataset,
      status: 201,
      bodyLimit: MAX_SQL_LENGTH * 4 + 16 * 1024,
      schema: {
        params: datasetParams,
        body: saveBody,
        response: {
          201: savedQueryAnswer,
        },
      },
      handler: async ({ input, actor, reply, event, commit, allowed }) => {
        const { ws: workspaceId, name } = input.params;
        const b = input.body;
        event.details({ from: 'query', format: b.format });
        const r = await query.queryFile(actor, workspaceId, b.sql, b.format, {
          limit: undefined,
          allowed,
          signal: abortOnClose(reply),
          action: 'dataset.data.export',
        });
        event.details({
          datasets: r.datasets,
          rows: r.rows,
          fingerprint: r.fingerprint ?? '',
          statement: r.statement ?? '',
        });
        try {
          const version = await datasets.upload(
            actor,
            workspaceId,
            name,
            r.stream,
            {
              drive: b.drive,
              filename: `${name}.${b.format}`,
              mediaType: MEDIA[b.format].split(';')[0],
              description: b.description,
              tags: b.tags,
            },
            { note: (d) => event.details(d), commit },
          );
          return { dataset: name, version, rows: r.rows, read: r.datasets };
        } finally {
          r.stream.destroy();
        }
      },
    }),
  ];
}

/** Records the event (fail-closed: the file is dropped if it cannot be), then streams the file. */
async function sendFile(
  reply: FastifyReply,
  r: { stream: NodeJS.ReadableStream & { destroy(): void }; rows: number; truncated: boolean; why?: unknown },
  format: Exclude<ResultFormat, 'json'>,
  base: string,
  recordEvent: () => Promise<void>,
): Promise<FastifyReply> {
  try {
    await recordEvent();
  } catch (err) {
    r.stream.destroy();
    throw err;
  }
  void reply
    .header('content-type', MEDIA[format])
    .header('cache-control', 'no-store')
    .header('x-row-count', String(r.rows))
    .header('x-result-truncated', String(r.truncated))
    .header('x-data-policies', JSON.stringify(r.why ?? {}))
    .header('content-disposition', `attachment; filename="${base}.${format}"`);
  return reply.send(r.stream);
}
