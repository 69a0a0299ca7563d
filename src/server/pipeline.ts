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
 *   is committed; `stream` routes record before the first byte or commit with their event.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Actor } from '../core/actor.ts';
import type { JsonValue } from '../core/audit/event.ts';
import { AppError, isAppError } from '../core/errors.ts';
import { auditRef, type ResourceRef } from '../core/resource.ts';
import type { Database } from '../db/schema.ts';
import type { Input, PublicRouteDef, RouteDef } from '../http/route.ts';
import { refusalText, type Decision } from '../modules/access/index.ts';
import { workspaceOfRequest, type AuditContext, type EventSpec } from './audit-context.ts';
import { requireRecentAuth } from './plugins/auth.ts';
import { toAppError } from './plugins/problem.ts';

/** The event of a route that asked its caller to re-authenticate first (the action was not attempted). */
export const REAUTH_REQUIRED = 'identity.session.reauth-required';

export interface PipelineDeps {
  audit: AuditContext;
  db: Kysely<Database>;
  /** The one access control (built-in + workspace policies). */
  authorize: (actor: Actor, action: string, resource?: ResourceRef) => Decision;
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

/**
 * A route's `consumes`: a body of another media type is refused (415) before it is parsed — a
 * JSON body on an upload route is never buffered, whatever the upload size limit.
 */
function refuseOtherMediaTypes(consumes: readonly string[]) {
  return async (request: FastifyRequest): Promise<void> => {
    const type = bodyType(request);
    if (type === undefined || consumes.includes(type)) return;
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', {
      detail: consumes.length === 0 ? 'This request takes no body.' : `Send the body as ${consumes.join(' or ')}.`,
    });
  };
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
 * Registers the pipeline's own hook: a request to an audited route that failed before or outside
 * its handler (bad input, sealed, a thrown error) is evidence too. `onError` runs before the
 * problem response is sent, so the event exists when the caller sees the failure.
 */
export function registerPipeline(app: FastifyInstance, deps: Pick<PipelineDeps, 'audit'>): void {
  app.addHook('onError', async (request, _reply, error) => {
    const access = request.routeOptions.config.access;
    if (!access || 'public' in access || request.auditRecorded) return;
    const status = toAppError(error).status;
    await deps.audit
      .recordAlone(request, {
        action: access.audit,
        outcome: status === 401 || status === 403 ? 'denied' : 'failure',
        ...workspaceOfRequest(request),
        details: { status },
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
    if ('public' in def) {
      app.route({
        method: def.method,
        url: def.url,
        schema: def.schema,
        ...(def.consumes ? { preParsing: refuseOtherMediaTypes(def.consumes) } : {}),
        config: {
          access: { public: def.public, ...(def.allowSealed ? { allowSealed: true } : {}) },
          ...(def.consumes ? { consumes: def.consumes } : {}),
        },
        handler: (request, reply) => def.handler({ request, reply, input: inputOf(request) }) as Promise<unknown>,
      });
      continue;
    }
    const loader = typeof def.resource === 'function' ? def.resource : undefined;
    app.route({
      method: def.method,
      url: def.url,
      schema: def.schema,
      ...(def.consumes ? { preParsing: refuseOtherMediaTypes(def.consumes) } : {}),
      ...(def.bodyLimit !== undefined ? { bodyLimit: def.bodyLimit } : {}),
      config: {
        access: {
          action: def.action,
          audit: def.audit ?? def.action,
          resource: loader ? 'loaded' : (def.resource as 'workspace' | 'self' | 'system'),
          ...(def.allowSealed ? { allowSealed: true } : {}),
        },
        ...(def.consumes ? { consumes: def.consumes } : {}),
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
  const { audit } = deps;
  const actor = request.actor;
  const input = inputOf(request);
  let action = def.action;
  let event = def.audit ?? def.action;
  let resource: ResourceRef;
  let row: unknown;
  const spec: EventSpec & { details: Record<string, JsonValue> } = { action: event, details: {} };
  const failed = async (
    err: unknown,
    outcome: 'failure' | 'denied' = 'failure',
    extra: Record<string, JsonValue> = {},
  ): Promise<never> => {
    if (!request.auditRecorded) {
      await audit.recordAlone(request, {
        ...spec,
        outcome,
        details: {
          ...spec.details,
          ...extra,
          ...(outcome === 'failure' ? { error: isAppError(err) ? err.code : 'INTERNAL' } : {}),
        },
      });
    }
    throw err;
  };

  if (loader) {
    let loaded;
    try {
      loaded = await loader(input as never, actor);
    } catch (err) {
      spec.resource = implicitResource('workspace', request);
      return failed(err);
    }
    resource = loaded.ref;
    row = loaded.row;
    if (loaded.action) action = event = loaded.action;
    spec.action = event;
    spec.resource = auditRef(resource);
    const decision = deps.authorize(actor, action, resource);
    if (!decision.allowed) {
      return failed(
        new AppError(actor.kind === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN', {
          detail:
            refusalText(decision.policies) ??
            `You are not allowed to do this with this ${resource.type.replace(/-/g, ' ')}.`,
        }),
        'denied',
        { reason: decision.reason },
      );
    }
    if (def.mustExist !== undefined && row === undefined)
      return failed(new AppError('NOT_FOUND', { detail: def.mustExist }));
  } else {
    resource = implicitResource(def.resource as 'workspace' | 'self' | 'system', request);
    spec.resource = auditRef(resource);
  }
  if (def.reauth) {
    try {
      requireRecentAuth(request);
    } catch (err) {
      // A prompt to confirm the password, not a refusal of the action: recorded as what it is.
      await audit.recordAlone(request, {
        action: REAUTH_REQUIRED,
        resource: spec.resource,
        details: { for: spec.action },
      });
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
    event: {
      details: (d: Record<string, JsonValue>) => void Object.assign(spec.details, d),
      resource: (ref: ResourceRef) => void (spec.resource = auditRef(ref)),
    },
  };

  if (def.run === 'write') {
    // audit.run records a failure (with its code) itself, and maps an audit write failure to 503.
    return audit.run(request, spec, (trx) => def.handler({ ...base, trx } as never));
  }
  if (def.run === 'read') {
    let result: unknown;
    try {
      result = await def.handler(base as never);
    } catch (err) {
      return failed(err);
    }
    await audit.recordAlone(request, spec); // fail-closed: nothing is answered unrecorded
    return result;
  }
  try {
    return await def.handler({
      ...base,
      record: () => audit.recordAlone(request, spec),
      commit: <R>(work: (trx: never) => Promise<R>) => audit.run(request, spec, work as never),
    } as never);
  } catch (err) {
    return failed(err);
  }
}
