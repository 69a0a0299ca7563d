/**
 * The posture API — declarations only. The installation's posture is the operator's
 * (`/api/v1/posture…`, resource `system`); a workspace's posture (installation controls plus that
 * workspace's) is for its owners, admins and auditors (`/api/v1/workspaces/:ws/posture…`).
 *
 * Reads are `read` routes: the event is committed before anything is answered. A run and an
 * evidence export record their event first (`stream` + `record()`), then work: a run writes
 * results, and an export hands out a signed document.
 */
import { z } from 'zod';
import { workspaceParams } from '../../contracts/common.ts';
import { route, type RouteDef } from '../../http/route.ts';
import type { EvidencePack } from './posture.evidence.ts';
import type { PostureService } from './posture.service.ts';
import { evidenceBundleOut, historyQuery, postureHistoryOut, postureReportOut } from '../../contracts/posture.ts';

export interface PostureRoutesDeps {
  posture: Pick<PostureService, 'run' | 'latest' | 'history'>;
  evidence(scope: string): Promise<{ pack: EvidencePack; html: string; publicKeyPem: string }>;
}

const POSTURE = (workspaceId?: string) => ({ type: 'posture', ...(workspaceId ? { workspace: workspaceId } : {}) });

export function postureRoutes({ posture, evidence }: PostureRoutesDeps): RouteDef[] {
  const routesFor = (prefix: string, params: typeof workspaceParams | undefined): RouteDef[] => {
    const scopeOf = (input: { params: unknown }) => (params ? (input.params as { ws: string }).ws : '');
    const resource = params ? ('workspace' as const) : ('system' as const);
    const p = params ? { params } : {};
    return [
      route({
        method: 'GET',
        url: prefix,
        action: 'posture.control.read',
        resource,
        run: 'read',
        schema: { ...p, response: { 200: postureReportOut } },
        handler: async ({ input, event }) => {
          const scope = scopeOf(input);
          event.resource(POSTURE(scope));
          return posture.latest(scope);
        },
      }),
      route({
        method: 'POST',
        url: `${prefix}/run`,
        action: 'posture.control.run',
        resource,
        run: 'explicit',
        schema: { ...p, response: { 200: postureReportOut } },
        handler: async ({ input, event, record }) => {
          const scope = scopeOf(input);
          event.resource(POSTURE(scope));
          await record();
          return posture.run(scope);
        },
      }),
      route({
        method: 'GET',
        url: `${prefix}/history`,
        action: 'posture.control.read',
        resource,
        run: 'read',
        schema: { ...p, querystring: historyQuery, response: { 200: postureHistoryOut } },
        handler: async ({ input, event }) => {
          const scope = scopeOf(input);
          event.resource(POSTURE(scope));
          const q = input.query as z.output<typeof historyQuery>;
          return { results: await posture.history(scope, q.control, q.limit) };
        },
      }),
      route({
        method: 'POST',
        url: `${prefix}/evidence`,
        action: 'posture.evidence.export',
        resource,
        run: 'explicit',
        schema: { ...p, response: { 200: evidenceBundleOut } },
        handler: async ({ input, event, record, reply }) => {
          const scope = scopeOf(input);
          event.resource(POSTURE(scope));
          await record();
          void reply.header('cache-control', 'no-store');
          return evidence(scope);
        },
      }),
    ];
  };
  return [...routesFor('/api/v1/posture', undefined), ...routesFor('/api/v1/workspaces/:ws/posture', workspaceParams)];
}
