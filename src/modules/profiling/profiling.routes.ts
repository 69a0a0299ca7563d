/**
 * Profiles over HTTPS (C10, first slice): the profile of one tabular version, computed on demand
 * through the caller's relation. Event `dataset.profile.read` names the version, the row and
 * column counts and the suggested tags per column — never a value.
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';

import { route, type RouteDef } from '../../http/route.ts';
import type { DatasetsService } from '../datasets/index.ts';
import type { ProfilingService } from './profiling.service.ts';
import { versionParams } from '../../contracts/profiling.ts';

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
  return [
    route({
      method: 'GET',
      url: '/api/v1/workspaces/:ws/datasets/:name/versions/:v/profile',
      action: 'dataset.profile.read',
      run: 'read',
      resource: async ({ params }: { params: { ws: string; name: string } }) => {
        const row = await datasets.find(params.ws, params.name);
        return { ref: { type: 'dataset', id: params.name, workspace: params.ws, tags: row?.tags ?? [] }, row };
      },
      mustExist: 'No such dataset in this workspace.',
      schema: { params: versionParams, querystring: z.strictObject({}) },
      handler: async ({ input, actor, reply, event, allowed, resource }) => {
        const { ws, name, v } = input.params;
        event.details({ version: v });
        const includeValues = allowed('dataset.data.preview', resource);
        const p = await profiling.profile(actor, ws, name, v, { includeValues, signal: abortOnClose(reply) });
        const findings: Record<string, string[]> = {};
        for (const c of p.columns) if (c.findings.length > 0) findings[c.name] = c.findings.map((f) => f.tag);
        event.details({ datasets: [`${name}@v${p.version}`], rows: p.rowCount, columns: p.columnCount, findings });
        void reply.header('cache-control', 'no-store');
        return p;
      },
    }),
  ];
}
