/**
 * Audit API: search/export and verification. Thin: authorize (injected) → record the read in a
 * transaction (fail-closed: if the read cannot be audited, nothing is returned) → work → reply.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Actor } from '../../core/audit/event.ts';
import type { Database } from '../../db/schema.ts';
import type { Kysely } from 'kysely';
import { searchQuerySchema, toCsv, toJsonLines } from './audit.search.ts';
import type { AuditModule, RecordInput } from './audit.service.ts';

export interface AuditRoutesOptions {
  /** Throws (FORBIDDEN, UNAUTHENTICATED…) when the request may not perform `action`. */
  authorize: (request: FastifyRequest, action: string) => Promise<void>;
  /** The database the read event is recorded in (one transaction per request). */
  db: Kysely<Database>;
  /** Who is asking; until the identity module exists, the anonymous actor. */
  actorOf?: (request: FastifyRequest) => Actor;
}

const eventsQuery = searchQuerySchema.omit({ actionPrefix: true }).extend({
  action: z.string().min(1).max(128).optional(),
  format: z.enum(['json', 'jsonl', 'csv']).default('json'),
});

const IP = z.union([z.ipv4(), z.ipv6()]);

/** The audit draft for a request to `action`, with who, where from and the request id. */
function readEvent(request: FastifyRequest, actor: Actor, action: string, details: RecordInput['details']): RecordInput {
  const input: RecordInput = { actor, action, resource: { type: 'audit_trail' }, outcome: 'success', details };
  if (request.id.length >= 1 && request.id.length <= 128) input.requestId = String(request.id);
  if (IP.safeParse(request.ip).success) input.sourceIp = request.ip;
  const ua = request.headers['user-agent'];
  if (typeof ua === 'string' && ua.length > 0) input.userAgent = ua.slice(0, 512);
  return input;
}

/**
 * Runs `authorize`; a denial is itself recorded (outcome `denied`, fail-closed: if it cannot be
 * recorded the caller gets AUDIT_UNAVAILABLE) before the denial is rethrown.
 */
async function authorizeAudited(audit: AuditModule, opts: AuditRoutesOptions, request: FastifyRequest, actor: Actor, action: string): Promise<void> {
  try {
    await opts.authorize(request, action);
  } catch (denial) {
    await opts.db.transaction().execute((trx) => audit.record(trx, { ...readEvent(request, actor, action, {}), outcome: 'denied' }));
    audit.requestChain();
    throw denial;
  }
}

/**
 * Fastify plugin factory: `GET /api/v1/audit/events` (action `audit.event.list`; `format`
 * json | jsonl | csv; `x-next-cursor` header for the next page) and `GET /api/v1/audit/verify`
 * (action `audit.trail.verify`). Each request is authorized first and then audited; denied
 * requests are audited too. Query validation (zod, 4xx) runs before both.
 */
export function auditRoutes(audit: AuditModule, opts: AuditRoutesOptions): FastifyPluginAsync {
  const actorOf = opts.actorOf ?? (() => ({ id: 'anonymous', kind: 'anonymous' as const }));
  return async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    r.get(
      '/api/v1/audit/events',
      { config: { access: { action: 'audit.event.list', audit: 'audit.event.list' } }, schema: { querystring: eventsQuery } },
      async (request, reply) => {
        const actor = actorOf(request);
        await authorizeAudited(audit, opts, request, actor, 'audit.event.list');
        const { format, action, ...filters } = request.query;
        const query = { ...filters, ...(action !== undefined ? { actionPrefix: action } : {}) };
        const page = await opts.db.transaction().execute(async (trx) => {
          await audit.record(trx, readEvent(request, actor, 'audit.event.list', { query: { ...query, format } }));
          return audit.search(query, trx);
        });
        audit.requestChain();
        if (page.nextCursor !== null) void reply.header('x-next-cursor', page.nextCursor);
        if (format === 'json') return page;
        void reply.header('cache-control', 'no-store');
        if (format === 'jsonl') return reply.type('application/x-ndjson; charset=utf-8').send(toJsonLines(page.events));
        void reply.header('content-disposition', 'attachment; filename="audit-events.csv"');
        return reply.type('text/csv; charset=utf-8').send(toCsv(page.events));
      },
    );
    // The same search for one workspace (its members with audit rights: owner, admin, auditor):
    // the route's `:ws` gives the session its roles there, and only events about that
    // workspace's resources are returned.
    const wsParams = z.object({ ws: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a workspace id') });
    r.get(
      '/api/v1/workspaces/:ws/audit/events',
      { config: { access: { action: 'audit.event.list', audit: 'audit.event.list' } }, schema: { params: wsParams, querystring: eventsQuery.omit({ workspace: true }) } },
      async (request, reply) => {
        const actor = actorOf(request);
        await authorizeAudited(audit, opts, request, actor, 'audit.event.list');
        const { format, action, ...filters } = request.query;
        const query = { ...filters, workspace: request.params.ws, ...(action !== undefined ? { actionPrefix: action } : {}) };
        const page = await opts.db.transaction().execute(async (trx) => {
          await audit.record(trx, readEvent(request, actor, 'audit.event.list', { query: { ...query, format } }));
          return audit.search(query, trx);
        });
        audit.requestChain();
        if (page.nextCursor !== null) void reply.header('x-next-cursor', page.nextCursor);
        if (format === 'json') return page;
        void reply.header('cache-control', 'no-store');
        if (format === 'jsonl') return reply.type('application/x-ndjson; charset=utf-8').send(toJsonLines(page.events));
        void reply.header('content-disposition', `attachment; filename="audit-events-${request.params.ws}.csv"`);
        return reply.type('text/csv; charset=utf-8').send(toCsv(page.events));
      },
    );
    r.get(
      '/api/v1/workspaces/:ws/audit/verify',
      { config: { access: { action: 'audit.trail.verify', audit: 'audit.trail.verify' } }, schema: { params: wsParams } },
      async (request) => {
        const actor = actorOf(request);
        await authorizeAudited(audit, opts, request, actor, 'audit.trail.verify');
        await opts.db.transaction().execute((trx) => audit.record(trx, readEvent(request, actor, 'audit.trail.verify', {})));
        audit.requestChain();
        // The chain is one total order for the installation: the report covers all of it.
        return { ...(await audit.verify()), checkedAt: new Date().toISOString() };
      },
    );
    r.get('/api/v1/audit/verify', { config: { access: { action: 'audit.trail.verify', audit: 'audit.trail.verify' } } }, async (request) => {
      const actor = actorOf(request);
      await authorizeAudited(audit, opts, request, actor, 'audit.trail.verify');
      await opts.db.transaction().execute((trx) => audit.record(trx, readEvent(request, actor, 'audit.trail.verify', {})));
      audit.requestChain();
      return audit.verify();
    });
  };
}
