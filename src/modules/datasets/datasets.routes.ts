/**
 * Datasets over HTTPS (C8): `/api/v1/workspaces/:ws/datasets…` — list, show, versions, download,
 * delete. Uploads are `datasets.uploads.routes.ts`.
 *
 * Declarations only: every route but the list loads its dataset (tags included, so tag rules
 * apply) and the pipeline decides once on it, then runs the work and records the event. A
 * download is `GET …/versions/:v/content` with single-range `Range` support; its event is
 * recorded before the first byte is sent. A deletion (re-authenticated) marks versions with its
 * event in one transaction, then removes their objects. `PATCH …/:name` sets the description and
 * tags; removing a tag needs the content-read right under the current tags, so nobody lifts a
 * tag rule they are themselves held to.
 */
import { workspaceParams } from '../../contracts/common.ts';
import type { Transaction } from 'kysely';
import type { Actor } from '../../core/actor.ts';
import type { Database } from '../../db/schema.ts';
import { AppError, isAppError } from '../../core/errors.ts';
import { route, type RouteDef } from '../../http/route.ts';
import type { DatasetsService } from './datasets.service.ts';
import { datasetLoader, datasetRef, NO_SUCH_DATASET } from './datasets.resource.ts';
import {
  datasetDetailOut,
  datasetListAnswer,
  datasetListQuery,
  datasetOut,
  datasetParams,
  deletedOut,
  patchBody,
  versionOut,
  versionParams,
} from '../../contracts/datasets.ts';

export interface DatasetsRoutesDeps {
  datasets: DatasetsService;
  /**
   * Data policies (issue 17): refuses the raw object to a reader whom a policy masks, hides or
   * filters on this dataset (they read the policy-applied export instead).
   */
  /**
   * Refuses (409) removing tags that data policies target, unless the caller names every policy
   * the removal lifts (`liftPolicies`); returns the policies lifted (for the audit event).
   */
  tagRemovalGuard: (
    trx: Transaction<Database>,
    ws: string,
    removed: readonly string[],
    lift: readonly string[],
  ) => Promise<string[]>;
  rawReadGuard: (actor: Actor, ws: string, name: string, tags: readonly string[]) => Promise<void>;
  /** Columns a data policy hides from `actor` on the dataset (lower case); empty if none. */
  hiddenColumns: (actor: Actor, ws: string, name: string, tags: readonly string[]) => Promise<string[]>;
}

/** True when `tag` is one of `values` or lies under one (`pii` covers `pii.email`). */
export function tagMatches(tag: string, values: readonly string[]): boolean {
  return values.some((v) => tag === v || tag.startsWith(`${v}.`));
}

const base = '/api/v1/workspaces/:ws/datasets';

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` against `size`; undefined = no range; throws 416. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  const unsatisfiable = () =>
    new AppError('RANGE_NOT_SATISFIABLE', {
      detail: `Give one range within 0–${Math.max(size - 1, 0)} (bytes=start-end).`,
      meta: { size },
    });
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

export function datasetsRoutes({
  datasets,
  rawReadGuard,
  tagRemovalGuard,
  hiddenColumns,
}: DatasetsRoutesDeps): RouteDef[] {
  const dataset = datasetLoader(datasets.find);

  return [
    route({
      method: 'GET',
      url: base,
      action: 'dataset.dataset.list',
      run: 'read',
      resource: 'workspace',
      schema: {
        params: workspaceParams,
        querystring: datasetListQuery,
        response: {
          200: datasetListAnswer,
        },
      },
      handler: async ({ input, actor, allowed, event }) => {
        const workspaceId = input.params.ws;
        const q = input.query;
        const wanted = q.tag ?? [];
        const rows = await datasets.list(workspaceId, {
          search: q.search,
          tags: wanted,
          after: q.after,
          limit: q.limit,
        });
        const listable = rows.filter((d) => allowed('dataset.dataset.list', datasetRef(workspaceId, d.name, d.tags)));
        const colTags = await datasets.columnTags(
          workspaceId,
          listable.map((d) => d.name),
        );
        // Column tags count (for the summary and the filter) only on columns no policy hides
        // from the caller: a hidden column's tags are never revealed, not even by a match.
        const summarised = await Promise.all(
          listable.map(async (d) => {
            const mine = colTags.filter((c) => c.dataset === d.name);
            const hidden = mine.length ? new Set(await hiddenColumns(actor, workspaceId, d.name, d.tags)) : new Set();
            const sensitiveTags = [
              ...new Set(mine.filter((c) => !hidden.has(c.column_name.toLowerCase())).map((c) => c.tag)),
            ].sort();
            return { d, sensitiveTags };
          }),
        );
        const visible = summarised.filter(
          ({ d, sensitiveTags }) =>
            wanted.length === 0 || [...d.tags, ...sensitiveTags].some((t) => tagMatches(t, wanted)),
        );
        event.details({ count: visible.length, ...(wanted.length ? { tag: wanted } : {}) });
        return {
          datasets: visible.map(({ d, sensitiveTags }) => ({
            name: d.name,
            description: d.description,
            tags: d.tags,
            owner: d.owner,
            createdBy: d.created_by,
            createdAt: d.created_at.toISOString(),
            updatedAt: d.updated_at.toISOString(),
            latestVersion: d.latest === null ? null : Number(d.latest),
            versions: Number(d.versions ?? 0),
            bytes: Number(d.bytes ?? 0),
            sensitiveTags,
          })),
          next: rows.length === q.limit ? rows[rows.length - 1]!.name : null,
        };
      },
    }),

    route({
      method: 'GET',
      url: `${base}/:name`,
      action: 'dataset.dataset.read',
      run: 'read',
      resource: dataset,
      mustExist: NO_SUCH_DATASET,
      schema: { params: datasetParams, response: { 200: datasetDetailOut } },
      handler: async ({ input, row }) => ({
        name: row.name,
        description: row.description,
        tags: row.tags,
        owner: row.owner,
        createdBy: row.created_by,
        createdAt: row.created_at.toISOString(),
        updatedAt: row.updated_at.toISOString(),
        metadataOnly: row.metadata_only,
        versions: await datasets.versions(input.params.ws, input.params.name),
      }),
    }),

    route({
      method: 'PATCH',
      url: `${base}/:name`,
      action: 'dataset.dataset.update',
      run: 'write',
      resource: dataset,
      mustExist: NO_SUCH_DATASET,
      schema: { params: datasetParams, body: patchBody, response: { 200: datasetOut } },
      handler: async ({ trx, input, row, event, allowed }) => {
        const { ws: workspaceId, name } = input.params;
        const tags = input.body.tags === undefined ? undefined : [...new Set(input.body.tags)].sort();
        const removed = tags === undefined ? [] : row.tags.filter((t) => !tags.includes(t));
        if (removed.length > 0 && !allowed('dataset.version.read', datasetRef(workspaceId, name, row.tags))) {
          event.details({ reason: 'may not read the content under its current tags', removed });
          throw new AppError('FORBIDDEN', {
            detail: `Removing ${removed.join(', ')} needs the right to read this dataset under its current tags, which you do not have: ask an admin who meets the tag rules.`,
          });
        }
        if (removed.length > 0) {
          const lifted = await tagRemovalGuard(trx, workspaceId, removed, input.body.liftPolicies ?? []);
          if (lifted.length > 0) event.details({ liftedPolicies: lifted });
        }
        if (tags !== undefined) event.details({ tags, previousTags: row.tags });
        if (input.body.description !== undefined) event.details({ description: 'changed' });
        const d = (await datasets.update(trx, workspaceId, name, { description: input.body.description, tags }))!;
        return {
          name: d.name,
          description: d.description,
          tags: d.tags,
          owner: d.owner,
          createdBy: d.created_by,
          createdAt: d.created_at.toISOString(),
          updatedAt: d.updated_at.toISOString(),
        };
      },
    }),

    route({
      method: 'GET',
      url: `${base}/:name/versions/:v`,
      action: 'dataset.dataset.read',
      run: 'read',
      resource: dataset,
      mustExist: NO_SUCH_DATASET,
      schema: { params: versionParams, response: { 200: versionOut } },
      handler: ({ input, event }) => {
        event.details({ version: input.params.v });
        return datasets.version(input.params.ws, input.params.name, input.params.v);
      },
    }),

    route({
      method: 'GET',
      url: `${base}/:name/versions/:v/content`,
      action: 'dataset.version.read',
      run: 'explicit',
      resource: dataset,
      mustExist: NO_SUCH_DATASET,
      schema: { params: versionParams },
      handler: async ({ input, request, reply, event, record, actor }) => {
        const { ws: workspaceId, name, v } = input.params;
        event.details({ version: v });
        await rawReadGuard(actor, workspaceId, name, (await datasets.find(workspaceId, name))?.tags ?? []);
        let opened;
        let range;
        try {
          const meta = await datasets.version(workspaceId, name, v);
          range = parseRange(typeof request.headers.range === 'string' ? request.headers.range : undefined, meta.size);
          opened = await datasets.open(workspaceId, name, v, range);
        } catch (err) {
          if (isAppError(err) && err.code === 'RANGE_NOT_SATISFIABLE')
            void reply.header('content-range', `bytes */${String(err.meta?.size ?? '*')}`);
          throw err;
        }
        if (range) event.details({ range: `${range.start}-${range.end}` });
        try {
          await record(); // fail-closed: no byte leaves before the event is committed
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
    }),

    // Deletions: the versions are marked with the event in one transaction; their objects go after it.
    route({
      method: 'DELETE',
      url: `${base}/:name/versions/:v`,
      action: 'dataset.version.delete',
      run: 'explicit',
      resource: dataset,
      mustExist: NO_SUCH_DATASET,
      reauth: true,
      schema: { params: versionParams, response: { 200: deletedOut } },
      handler: async ({ input, event, commit }) => {
        const { ws: workspaceId, name, v } = input.params;
        event.details({ version: v });
        const rows = await commit((trx) => datasets.markVersionDeleted(trx, workspaceId, name, v));
        await datasets.purgeVersions(rows);
        return { dataset: name, deleted: rows.map((x) => x.version) };
      },
    }),

    route({
      method: 'DELETE',
      url: `${base}/:name`,
      action: 'dataset.dataset.delete',
      run: 'explicit',
      resource: dataset,
      mustExist: NO_SUCH_DATASET,
      reauth: true,
      schema: { params: datasetParams, response: { 200: deletedOut } },
      handler: async ({ input, commit }) => {
        const { ws: workspaceId, name } = input.params;
        const rows = await commit((trx) => datasets.markDatasetDeleted(trx, workspaceId, name));
        await datasets.purgeDataset(workspaceId, name, rows);
        return { dataset: name, deleted: rows.map((x) => x.version) };
      },
    }),
  ];
}
