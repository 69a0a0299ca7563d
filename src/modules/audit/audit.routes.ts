/**
 * The audit API — declarations only: search (`GET .../audit/events`, `format` json | jsonl |
 * csv, one page, `x-next-cursor` for the next), export (`GET .../audit/export`: the whole
 * filtered range streamed as `audit-events….jsonl` or `.csv`, paged internally with no cap, its
 * event recorded before the first byte) and verification (`GET .../audit/verify`), for
 * the installation (operator) and for one workspace (its members with audit rights: owner, admin,
 * auditor; only events about that workspace's resources are returned).
 *
 * The pipeline decides, and records the read itself (resource `audit_trail`) before any of the
 * trail leaves: if the read cannot be audited, nothing is answered. Denials are recorded by it.
 */
import { z } from 'zod';
import { workspaceParams } from '../../contracts/common.ts';
import { Readable } from 'node:stream';
import { route, type RouteDef } from '../../http/route.ts';
import { exportChunks, toCsv, toJsonLines, type SearchQuery } from './audit.search.ts';
import type { AuditModule } from './audit.service.ts';
import { auditVerifyOut, eventsQuery, exportQuery, trailVerifyOut } from '../../contracts/audit.ts';

export interface AuditRoutesDeps {
  audit: Pick<AuditModule, 'search' | 'verify'>;
  /** Ids of a workspace's members: its auditors also see their sign-in, MFA and session events. */
  membersOf?: (workspaceId: string) => Promise<readonly string[]>;
  /**
   * Emails of users for the CSV export: of the members of `workspaceId` only (a workspace's
   * auditors never learn a stranger's email), or of anyone for the installation's trail.
   */
  emailsOf?: (workspaceId: string | undefined, ids: string[]) => Promise<ReadonlyMap<string, string>>;
}

type EventsQuery = z.output<typeof eventsQuery>;

const TRAIL = { type: 'audit_trail' } as const;

type ExportQuery = z.output<typeof exportQuery>;

export function auditRoutes({ audit, membersOf, emailsOf }: AuditRoutesDeps): RouteDef[] {
  /** The whole filtered range as one streamed file; the event (with the query) is committed first. */
  const exportRoute = (url: string, params: typeof workspaceParams | undefined, querystring: z.ZodType) =>
    route({
      method: 'GET',
      url,
      action: 'audit.event.export',
      resource: params ? 'workspace' : 'system',
      run: 'explicit',
      schema: { ...(params ? { params } : {}), querystring },
      handler: async ({ input, event, reply, record }) => {
        event.resource(TRAIL);
        const workspaceId = (input.params as { ws?: string } | undefined)?.ws;
        const { format, action, ...filters } = input.query as ExportQuery;
        const query = {
          ...filters,
          ...(workspaceId !== undefined ? { workspace: workspaceId } : {}),
          ...(action !== undefined ? { actionPrefix: action } : {}),
        };
        event.details({ query: { ...query, format } });
        // Bad filters fail here, before the event and before any byte.
        await audit.search({ ...query, limit: 1 });
        await record();
        const emails = emailsOf ? (ids: string[]) => emailsOf(workspaceId, ids) : undefined;
        const name = `audit-events${workspaceId !== undefined ? `-${workspaceId}` : ''}.${format}`;
        void reply
          .header('cache-control', 'no-store')
          .header('content-disposition', `attachment; filename="${name}"`)
          .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
        // A workspace's export holds what its search shows: its members' sign-in and session events too.
        const members = workspaceId !== undefined && membersOf ? await membersOf(workspaceId) : undefined;
        const chunks = exportChunks(
          (q: SearchQuery) => audit.search(q, undefined, members ? { members } : {}),
          query,
          format,
          emails,
        );
        return reply.send(Readable.from(chunks));
      },
    });

  /** One page of the search, in the format asked for; the query is the event's detail. */
  const searchRoute = (
    url: string,
    params: typeof workspaceParams | undefined,
    querystring: z.ZodType<Partial<EventsQuery>>,
    csvName: (workspaceId?: string) => string,
  ) =>
    route({
      method: 'GET',
      url,
      action: 'audit.event.list',
      resource: params ? 'workspace' : 'system',
      run: 'read',
      schema: { ...(params ? { params } : {}), querystring },
      handler: async ({ input, event, reply }) => {
        event.resource(TRAIL);
        const workspaceId = (input.params as { ws?: string } | undefined)?.ws;
        const { format = 'json', action, ...filters } = input.query as EventsQuery;
        const query = {
          ...filters,
          ...(workspaceId !== undefined ? { workspace: workspaceId } : {}),
          ...(action !== undefined ? { actionPrefix: action } : {}),
        };
        event.details({ query: { ...query, format } });
        const members = workspaceId !== undefined && membersOf ? await membersOf(workspaceId) : undefined;
        const page = await audit.search(query, undefined, members ? { members } : {});
        if (page.nextCursor !== null) void reply.header('x-next-cursor', page.nextCursor);
        if (format === 'json') return page;
        void reply.header('cache-control', 'no-store');
        if (format === 'jsonl') {
          void reply.type('application/x-ndjson; charset=utf-8');
          return toJsonLines(page.events);
        }
        void reply.header('content-disposition', `attachment; filename="${csvName(workspaceId)}"`);
        void reply.type('text/csv; charset=utf-8');
        return toCsv(page.events);
      },
    });

  return [
    searchRoute('/api/v1/audit/events', undefined, eventsQuery, () => 'audit-events.csv'),
    searchRoute(
      '/api/v1/workspaces/:ws/audit/events',
      workspaceParams,
      eventsQuery.omit({ workspace: true }),
      (workspaceId) => `audit-events-${workspaceId}.csv`,
    ),

    exportRoute('/api/v1/audit/export', undefined, exportQuery),
    exportRoute('/api/v1/workspaces/:ws/audit/export', workspaceParams, exportQuery.omit({ workspace: true })),

    // The chain is one total order for the installation: a workspace's report covers all of it.
    route({
      method: 'GET',
      url: '/api/v1/workspaces/:ws/audit/verify',
      action: 'audit.trail.verify',
      resource: 'workspace',
      run: 'read',
      schema: { params: workspaceParams, response: { 200: auditVerifyOut } },
      handler: async ({ event }) => {
        event.resource(TRAIL);
        return { ...(await audit.verify()), checkedAt: new Date().toISOString() };
      },
    }),

    route({
      method: 'GET',
      url: '/api/v1/audit/verify',
      action: 'audit.trail.verify',
      resource: 'system',
      run: 'read',
      schema: { response: { 200: trailVerifyOut } },
      handler: async ({ event }) => {
        event.resource(TRAIL);
        return audit.verify();
      },
    }),
  ];
}
