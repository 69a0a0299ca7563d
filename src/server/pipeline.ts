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
import type { Kysely } from 'kysely';
import type { Actor } from '../core/actor.ts';
import { AppError } from '../core/errors.ts';
import { auditRef, type ResourceRef } from '../core/resource.ts';
import type { Database } from '../db/schema.ts';
import { bodyKindOf, type Input, type PublicRouteDef, type RouteDef } from '../http/route.ts';
import { refusalText, type Decision } from '../modules/access/index.ts';
import { workspaceOfRequest, type AuditContext } from './audit-context.ts';
import { bodyOptions } from './pipeline-bodies.ts';
import { failureDetails, noteOf, outcomeOf, recorderFor, Refusal, type Spec } from './pipeline-events.ts';
import { requireRecentAuth } from './plugins/auth.ts';

/** The event of a route that asked its caller to re-authenticate first (the action was not attempted). */
export const REAUTH_REQUIRED = 'identity.session.reauth-required';

export interface PipelineDeps {
  audit: AuditContext;
  db: Kysely<Database>;
  /** The one access control (built-in + workspace policies). */
  authorize: (actor: Actor, action: string, resource?: ResourceRef) => Decision;
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
  // `form`: an HTML form post (the SAML ACS) as a plain object of its fields (own properties only).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  // `scim`: SCIM clients send their JSON as application/scim+json; parsed like application/json.
  app.addContentTypeParser('application/scim+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
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
        ...(def.bodyLimit !== undefined ? { bodyLimit: def.bodyLimit } : {}),
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
      // The detail names the built-in rule that refused, when one did.
      const detail =
        refusalText(decision.policies) ??
        `You are not allowed to do this with this ${resource.type.replace(/-/g, ' ')}.`;
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
      // A prompt to confirm the password, not a refusal of the action: recorded as what it is
      // (that event alone; the request then counts as recorded), then the 401 goes back.
      await recorderFor(
        request,
        { action: REAUTH_REQUIRED, resource: spec.resource, details: { for: spec.action } },
        deps,
      ).alone();
      throw err;
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
