/**
 * Profiles and column tags over HTTPS (C10).
 * - `GET …/versions/:v/profile` (`dataset.profile.read`): the profile as the caller sees it — the
 *   stored one when no data policy applies to them, else computed through their relation — with
 *   the job's state and progress, the columns' tags and the drift since the previous profiled
 *   version. Event: version, row and column counts, suggested tags per column — never a value.
 * - `POST …/versions/:v/profile` (`dataset.profile.run`): queues a recomputation (202).
 * - `GET …/columns/:col/tags` (`dataset.profile.read`) and `PUT …/columns/:col/tags`
 *   (`policy.tag.assign`, stewards): a steward's confirmed and rejected tags for one column;
 *   the event names the column and the tags before and after.
 * - `POST …/published-profiles` (`dataset.version.create`): a profile computed by the CLI
 *   (metadata-only mode) stored as the next version of a metadata-only dataset; `GET` lists them.
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { route, type RouteDef } from '../../http/route.ts';
import type { DatasetsService } from '../datasets/index.ts';
import type { ProfilingService } from './profiling.service.ts';
import {
  columnParams,
  columnTagsAnswer,
  columnTagsBody,
  datasetParams,
  publishAnswer,
  publishBody,
  publishedProfilesAnswer,
  recomputeAnswer,
  versionParams,
} from '../../contracts/profiling.ts';

export interface ProfilingRoutesDeps {
  profiling: ProfilingService;
  datasets: Pick<DatasetsService, 'find'>;
}

function abortOnClose(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

export function profilingRoutes({ profiling, datasets }: ProfilingRoutesDeps): RouteDef[] {
  const dataset = async ({ params }: { params: { ws: string; name: string } }) => {
    const row = await datasets.find(params.ws, params.name);
    return { ref: { type: 'dataset', id: params.name, workspace: params.ws, tags: row?.tags ?? [] }, row };
  };
  const base = '/api/v1/workspaces/:ws/datasets/:name';
  return [
    route({
      method: 'GET',
      url: `${base}/versions/:v/profile`,
      action: 'dataset.profile.read',
      run: 'read',
      resource: dataset,
      mustExist: 'No such dataset in this workspace.',
      schema: { params: versionParams, querystring: z.strictObject({}) },
      handler: async ({ input, actor, reply, event, allowed, resource }) => {
        const { ws: workspaceId, name, v } = input.params;
        event.details({ version: v });
        const includeValues = allowed('dataset.data.preview', resource);
        const p = await profiling.profile(actor, workspaceId, name, v, { includeValues, signal: abortOnClose(reply) });
        const findings: Record<string, string[]> = {};
        for (const c of p.columns) if (c.findings.length > 0) findings[c.name] = c.findings.map((f) => f.tag);
        event.details({
          datasets: [`${name}@v${p.version}`],
          rows: p.rowCount,
          columns: p.columnCount,
          findings,
          source: p.source,
          state: p.state,
        });
        void reply.header('cache-control', 'no-store');
        return p;
      },
    }),
    route({
      method: 'POST',
      url: `${base}/versions/:v/profile`,
      action: 'dataset.profile.run',
      run: 'explicit',
      body: 'none',
      status: 202,
      resource: dataset,
      mustExist: 'No such dataset in this workspace.',
      schema: { params: versionParams, response: { 202: recomputeAnswer } },
      handler: async ({ input, event, commit }) => {
        const { ws: workspaceId, name, v } = input.params;
        event.details({ datasets: [`${name}@v${v}`] });
        await profiling.mustBeTabular(workspaceId, name, v);
        const out = await commit((trx) => profiling.recompute(trx, workspaceId, name, v));
        profiling.kick();
        return out;
      },
    }),
    route({
      method: 'GET',
      url: `${base}/columns/:col/tags`,
      action: 'dataset.profile.read',
      run: 'read',
      resource: dataset,
      mustExist: 'No such dataset in this workspace.',
      schema: { params: columnParams, response: { 200: columnTagsAnswer } },
      handler: async ({ actor, input, event }) => {
        const { ws: workspaceId, name, col } = input.params;
        event.details({ column: col });
        return { column: col, tags: await profiling.columnTags(actor, workspaceId, name, col) };
      },
    }),
    route({
      method: 'PUT',
      url: `${base}/columns/:col/tags`,
      action: 'policy.tag.assign',
      run: 'write',
      resource: dataset,
      mustExist: 'No such dataset in this workspace.',
      schema: { params: columnParams, body: columnTagsBody, response: { 200: columnTagsAnswer } },
      handler: async ({ trx, actor, input, event }) => {
        const { ws: workspaceId, name, col } = input.params;
        const body = {
          confirmed: [...new Set(input.body.confirmed)].sort(),
          rejected: [...new Set(input.body.rejected)].sort(),
        };
        event.details({ column: col, confirmed: body.confirmed, rejected: body.rejected });
        const r = await profiling.setColumnTags(trx, actor, workspaceId, name, col, body);
        event.details({
          before: r.before.map((t) => `${t.tag}:${t.status}`),
          after: r.tags.map((t) => `${t.tag}:${t.status}`),
          datasetTagsAdded: r.addedToDataset,
        });
        if (r.piiDefaultPolicy?.changed)
          event.details({
            piiDefaultPolicy: {
              policy: r.piiDefaultPolicy.policy,
              version: r.piiDefaultPolicy.version,
              columns: r.piiDefaultPolicy.columns,
              skipped: r.piiDefaultPolicy.skipped,
            },
          });
        return { column: col, tags: r.tags };
      },
    }),
    route({
      method: 'POST',
      url: `${base}/published-profiles`,
      action: 'dataset.version.create',
      run: 'write',
      status: 201,
      resource: dataset,
      bodyLimit: 8 * 1024 * 1024,
      schema: {
        params: datasetParams,
        body: publishBody,
        response: { 201: publishAnswer },
      },
      handler: async ({ trx, actor, input, event }) => {
        const { ws: workspaceId, name } = input.params;
        const r = await profiling.publish(trx, actor, workspaceId, name, input.body);
        const findings: Record<string, string[]> = {};
        for (const c of r.profile.columns) if (c.findings.length > 0) findings[c.name] = c.findings.map((f) => f.tag);
        event.details({
          metadataOnly: true,
          version: r.version,
          created: r.created,
          rows: r.profile.rowCount,
          columns: r.profile.columnCount,
          format: input.body.source.format,
          findings,
        });
        return { dataset: name, version: r.version, created: r.created };
      },
    }),
    route({
      method: 'GET',
      url: `${base}/published-profiles`,
      action: 'dataset.profile.read',
      run: 'read',
      resource: dataset,
      mustExist: 'No such dataset in this workspace.',
      schema: { params: datasetParams, response: { 200: publishedProfilesAnswer } },
      handler: async ({ input, reply, allowed, resource }) => {
        void reply.header('cache-control', 'no-store');
        const includeValues = allowed('dataset.data.preview', resource);
        const profiles = await profiling.published(input.params.ws, input.params.name, { includeValues });
        return { dataset: input.params.name, profiles };
      },
    }),
  ];
}
