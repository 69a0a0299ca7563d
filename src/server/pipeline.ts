/**
 * The request pipeline: turns the route declarations of the modules (`http/route.ts`) into
 * Fastify routes that all run the same steps in the same order (see that file). The auth plugin
 * (`plugins/auth.ts`) has already authenticated the caller and built `request.actor`; for a route
 * without a resource loader it has also made the one decision (on the workspace, the caller's own
 * account or the system). For a route with a loader, the decision is made here, once, on the
 * concrete resource.
 *
 * Guarantees:
 * - Every route in the table declares its action, resource and audit event, or why it is public;
 *   `collectRoutes` refuses to start a server with a route that does not.
 * - A denial, a missing resource, a validation failure and any error after authentication are
 *   recorded by this file or the auth plugin — never by a handler.
 * - `write` work and its event share one transaction; `read` answers leave only once their event
 *   is committed; `explicit` routes record before the first byte or commit with their event (or,
 *   if they do neither, the pipeline records it before the answer leaves).
 * - A request body of a kind the route does not declare is refused (415) before it is read.
 * - Every refused or failed event has one shape: `details.error` (the problem code), plus
 *   `details.reason` for a denial. A 401/403 a handler raises after the decision is `denied`.
 * - Public routes are rate limited and audited from their declaration (`rateLimit`, `audit`).
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { Actor } from '../core/actor.ts';
import type { JsonValue } from '../core/audit/event.ts';
import { AppError } from '../core/errors.ts';
import { auditRef, type ResourceRef } from '../core/resource.ts';
import type { Database } from '../db/schema.ts';
import {
  BODY_MEDIA_TYPES,
  bodyKindOf,
  type BodyKind,
  type Input,
  type PublicRouteDef,
  type RouteDef,
} from '../http/route.ts';
import type { Decision } from '../modules/access/index.ts';
import { workspaceOfRequest, type AuditContext, type EventSpec } from './audit-context.ts';
import { requireRecentAuth } from './plugins/auth.ts';
import { toAppError } from './plugins/problem.ts';

export interface PipelineDeps {
  audit: AuditContext;
  db: Kysely<Database>;
  /** The one access control (built-in + workspace policies). */
  authorize: (actor: Actor, action: string, resource?: ResourceRef) => Decision;
}

type Spec = EventSpec & { details: Record<string, JsonValue> };
type Outcome = 'failure' | 'denied';

/** The one shape of a refused or failed event's details: the problem code, and why for a denial. */
export function failureDetails(err: unknown, reason?: string): Record<string, JsonValue> {
  return { error: toAppError(err).code, ...(reason !== undefined ? { reason } : {}) };
}

/**
 * A 403 is a refusal (`denied`); anything else a `failure` — a 401 raised by a handler included:
 * a credential in the body that did not verify (a wrong MFA code or password) is a failed attempt.
 */
const outcomeOf = (err: unknown): Outcome => (toAppError(err).status === 403 ? 'denied' : 'failure');

/** Thrown by `deny(reason)`: a refusal after the route's decision. */
class Refusal extends AppError {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super('FORBIDDEN', { detail });
  }
}

/** media type of a request body, lower case, no parameters; undefined without a body. */
function bodyType(request: FastifyRequest): string | undefined {
  const h = request.headers;
  const hasBody =
    h['transfer-encoding'] !== undefined ||
    (h['content-length'] !== undefined && h['content-length'] !== '0') ||
    h['content-type'] !== undefined;
  if (!hasBody) return undefined;
  return String(h['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A route's body kind, enforced before the body is parsed: another media type is refused (415),
 * so a JSON body on an upload route is never buffered and a bodyless route takes no body at all.
 */
function refuseOtherBodies(kind: BodyKind) {
  const accepted = BODY_MEDIA_TYPES[kind];
  return async (request: FastifyRequest): Promise<void> => {
    const type = bodyType(request);
    if (type === undefined || accepted.includes(type)) return;
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', {
      detail: kind === 'none' ? 'This request takes no body.' : `Send the body as ${accepted.join(' or ')}.`,
    });
  };
}

/** Fastify route options for a declared body kind: the refusal hook and the route-table entry. */
function bodyOptions(method: string, kind: BodyKind) {
  if (!BODY_METHODS.has(method)) return { hooks: {}, config: {} };
  return { hooks: { preParsing: refuseOtherBodies(kind) }, config: { body: kind, consumes: BODY_MEDIA_TYPES[kind] } };
}

const inputOf = (request: FastifyRequest) =>
  ({ params: request.params, query: request.query, body: request.body }) as Input<never>;

/** The resource of a route that loads none: its workspace, the caller, or the installation. */
function implicitResource(kind: 'workspace' | 'self' | 'system', request: FastifyRequest): ResourceRef {
  const ws = (request.params as { ws?: unknown } | undefined)?.ws;
  if (kind === 'workspace' && typeof ws === 'string') return { type: 'workspace', id: ws, workspace: ws };
  if (kind === 'self') return { type: 'user', id: request.actor.id };
  return { type: 'system' };
}

/**
 * Registers what every route shares: the body parsers of the declared kinds (raw bytes handed
 * over as the request stream; multipart forms read by the handler, with small default limits it
 * may raise per request), and the hook that records a request to an audited route that failed
 * before or outside its handler (bad input, sealed, a thrown error). `onError` runs before the
 * problem response is sent, so the event exists when the caller sees the failure.
 */
export async function registerPipeline(app: FastifyInstance, deps: Pick<PipelineDeps, 'audit'>): Promise<void> {
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
  await app.register(multipart, {
    limits: { fields: 40, fieldSize: 8192, fieldNameSize: 64, files: 1, parts: 41, headerPairs: 20 },
  });
  app.addHook('onError', async (request, _reply, error) => {
    const access = request.routeOptions.config.access;
    if (!access || request.auditRecorded) return;
    const action = 'public' in access ? access.audit?.action : access.audit;
    if (action === undefined) return;
    const resource = 'public' in access ? { resource: auditRef(access.audit!.resource) } : workspaceOfRequest(request);
    await deps.audit
      .recordAlone(request, {
        action,
        outcome: 'public' in access ? 'failure' : outcomeOf(error),
        ...resource,
        details: failureDetails(error),
      })
      .catch((err: unknown) => request.log.error({ err }, 'could not audit a failed request'));
  });
}

export function registerRoutes(
  app: FastifyInstance,
  defs: readonly (RouteDef | PublicRouteDef)[],
  deps: PipelineDeps,
): void {
  for (const def of defs) {
    const body = bodyOptions(def.method, bodyKindOf(def));
    if ('public' in def) {
      app.route({
        method: def.method,
        url: def.url,
        schema: def.schema,
        ...body.hooks,
        config: {
          access: {
            public: def.public,
            ...(def.audit ? { audit: def.audit } : {}),
            ...(def.allowSealed ? { allowSealed: true } : {}),
          },
          ...body.config,
          ...(def.rateLimit ? { rateLimit: def.rateLimit } : {}),
        },
        handler: (request, reply) => runPublicRoute(def, request, reply, deps),
      });
      continue;
    }
    if (def.unaudited !== undefined && (def.method !== 'GET' || def.resource !== 'self' || def.run !== 'read'))
      throw new Error(
        `${def.method} ${def.url}: only a GET read of the caller's own account may leave success unaudited`,
      );
    const loader = typeof def.resource === 'function' ? def.resource : undefined;
    app.route({
      method: def.method,
      url: def.url,
      schema: def.schema,
      ...body.hooks,
      ...(def.bodyLimit !== undefined ? { bodyLimit: def.bodyLimit } : {}),
      config: {
        access: {
          action: def.action,
          audit: def.audit ?? def.action,
          resource: loader ? 'loaded' : (def.resource as 'workspace' | 'self' | 'system'),
          ...(def.unaudited !== undefined ? { unaudited: def.unaudited } : {}),
          ...(def.allowSealed ? { allowSealed: true } : {}),
        },
        ...body.config,
      },
      handler: (request, reply) => runRoute(def, loader, request, reply, deps),
    });
  }
}

/**
 * The two ways a route's event is recorded: `commit(work)` — the work and the event in one
 * transaction (an event that cannot be written rolls the work back: 503) — and `alone()`, committed
 * on its own before anything else happens. `refused(err)` records a failure or denial once and
 * rethrows.
 */
function recorderFor(request: FastifyRequest, spec: Spec, deps: Pick<PipelineDeps, 'audit' | 'db'>) {
  const { audit } = deps;
  return {
    /** Record the refusal or failure (unless an event of this request already stands) and rethrow. */
    async refused(err: unknown, outcome: Outcome = outcomeOf(err), why?: string): Promise<never> {
      if (!request.auditRecorded) {
        const reason = why ?? (err instanceof Refusal ? err.reason : undefined);
        await audit.recordAlone(request, {
          ...spec,
          outcome,
          details: { ...spec.details, ...failureDetails(err, reason) },
        });
      }
      throw err;
    },
    alone: (): Promise<void> => audit.recordAlone(request, spec),
    async commit<R>(work: (trx: Transaction<Database>) => Promise<R>): Promise<R> {
      let auditFailed = false;
      try {
        return await deps.db.transaction().execute(async (trx) => {
          const result = await work(trx);
          try {
            await audit.recordIn(trx, request, spec);
          } catch (err) {
            auditFailed = true; // 503 AUDIT_UNAVAILABLE; the work is rolled back with it
            throw err;
          }
          return result;
        });
      } catch (err) {
        // The event rolled back with the work (or was never written): the failure is recorded
        // on its own — unless it was the audit write that failed.
        if (!auditFailed) request.auditRecorded = false;
        throw err;
      }
    },
  };
}

/** The event note a handler gets: details merged in, the resource named once known. */
function noteOf(spec: Spec) {
  return {
    details: (d: Record<string, JsonValue>) => void Object.assign(spec.details, d),
    resource: (ref: ResourceRef) => void (spec.resource = auditRef(ref)),
  };
}

async function runRoute(
  def: RouteDef,
  loader: Extract<RouteDef['resource'], (...a: never[]) => unknown> | undefined,
  request: FastifyRequest,
  reply: FastifyReply,
  deps: PipelineDeps,
): Promise<unknown> {
  const actor = request.actor;
  const input = inputOf(request);
  let action = def.action;
  let resource: ResourceRef;
  let row: unknown;
  const spec: Spec = { action: def.audit ?? def.action, details: {} };
  const rec = recorderFor(request, spec, deps);

  if (loader) {
    let loaded;
    try {
      loaded = await loader(input as never, actor);
    } catch (err) {
      spec.resource = implicitResource('workspace', request);
      return rec.refused(err);
    }
    resource = loaded.ref;
    row = loaded.row;
    if (loaded.action) action = spec.action = loaded.action;
    spec.resource = auditRef(resource);
    const decision = deps.authorize(actor, action, resource);
    if (!decision.allowed) {
      const detail = `You are not allowed to do this with this ${resource.type.replace(/-/g, ' ')}.`;
      // An anonymous caller is asked to authenticate rather than told it may not.
      return rec.refused(
        actor.kind === 'anonymous' ? new AppError('UNAUTHENTICATED') : new AppError('FORBIDDEN', { detail }),
        'denied',
        decision.reason,
      );
    }
    if (def.mustExist !== undefined && row === undefined)
      return rec.refused(new AppError('NOT_FOUND', { detail: def.mustExist }));
  } else {
    resource = implicitResource(def.resource as 'workspace' | 'self' | 'system', request);
    spec.resource = auditRef(resource);
  }
  if (def.reauth) {
    try {
      requireRecentAuth(request);
    } catch (err) {
      return rec.refused(err, 'denied', 're-authentication required');
    }
  }
  if (def.status !== undefined) void reply.code(def.status);

  const base = {
    request,
    reply,
    actor,
    input,
    resource,
    row,
    db: deps.db,
    allowed: (a: string, ref: ResourceRef) => deps.authorize(actor, a, ref).allowed,
    deny: (reason: string, detail?: string): never => {
      throw new Refusal(reason, detail ?? reason);
    },
    event: noteOf(spec),
  };

  try {
    if (def.run === 'write') return await rec.commit((trx) => def.handler({ ...base, trx } as never));
    if (def.run === 'read') {
      const result: unknown = await def.handler(base as never);
      // fail-closed: nothing is answered unrecorded (a success of an `unaudited` read excepted)
      if (def.unaudited === undefined) await rec.alone();
      return result;
    }
    const result = await def.handler({ ...base, record: rec.alone, commit: rec.commit } as never);
    if (!request.auditRecorded) await rec.alone();
    return result;
  } catch (err) {
    return rec.refused(err);
  }
}

/** A public route: rate limited by its declaration (config.rateLimit); audited when it declares an event. */
async function runPublicRoute(
  def: PublicRouteDef,
  request: FastifyRequest,
  reply: FastifyReply,
  deps: PipelineDeps,
): Promise<unknown> {
  const input = inputOf(request);
  if (!def.audit) {
    const none = () => Promise.reject(new Error(`${def.method} ${def.url} declares no audit event`));
    const ignore = () => undefined;
    return def.handler({
      request,
      reply,
      input,
      event: { details: ignore, resource: ignore, actor: ignore },
      record: none,
      commit: none,
    });
  }
  const spec: Spec = { action: def.audit.action, resource: auditRef(def.audit.resource), details: {} };
  const rec = recorderFor(request, spec, deps);
  try {
    const result = await def.handler({
      request,
      reply,
      input,
      event: {
        ...noteOf(spec),
        // A sign-in: from here on the request acts as the user who proved it.
        actor: (a: Actor) => void (request.actor = a),
      },
      record: rec.alone,
      commit: rec.commit,
    });
    if (!request.auditRecorded) await rec.alone();
    return result;
  } catch (err) {
    // No decision was made on a public route: a refused credential is a failed attempt.
    return rec.refused(err, 'failure');
  }
}
