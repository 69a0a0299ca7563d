/**
 * Authentication and authorization for every route that declares an action:
 * authenticate → one `actor` → `authorize(actor, action)` → denied attempts are audited (and the
 * request refused even if that audit write fails: 503) → handler. Public routes get the
 * anonymous actor and no decision. While Strongroom is sealed every route that is not explicitly
 * allowed to run sealed answers 503 SEALED.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ANONYMOUS, type Actor } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import { authorize } from '../../modules/access/index.ts';
import { OPERATOR_TOKEN_PREFIX } from '../operator-token.ts';
import type { AuditContext } from '../audit-context.ts';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor;
  }
}

export interface AuthDeps {
  verifyOperatorToken: (presented: string) => boolean;
  isSealed: () => Promise<boolean>;
  audit: AuditContext;
}

function bearer(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer ([A-Za-z0-9_\-.]{8,512})$/.exec(h);
  return m?.[1];
}

export function authenticate(request: FastifyRequest, deps: AuthDeps): Actor {
  const token = bearer(request);
  if (token?.startsWith(OPERATOR_TOKEN_PREFIX) && deps.verifyOperatorToken(token)) {
    return { id: 'operator', kind: 'operator', authMethod: 'operator-token', roles: ['operator'], attributes: {} };
  }
  if (request.headers.authorization !== undefined) {
    throw new AppError('UNAUTHENTICATED', { detail: 'The credential is not valid.' });
  }
  return ANONYMOUS;
}

export function registerAuth(app: FastifyInstance, deps: AuthDeps): void {
  app.decorateRequest('actor', null as unknown as Actor);
  // An authorized request that still failed (bad input, conflict, sealed…) is evidence too.
  app.addHook('onResponse', async (request, reply) => {
    const access = request.routeOptions.config.access;
    if (!access || 'public' in access || request.auditRecorded || reply.statusCode < 400) return;
    await deps.audit
      .recordAlone(request, { action: access.audit, outcome: reply.statusCode === 401 || reply.statusCode === 403 ? 'denied' : 'failure', details: { status: reply.statusCode } })
      .catch((err: unknown) => request.log.error({ err }, 'could not audit a failed request'));
  });
  app.addHook('onRequest', async (request) => {
    request.actor = ANONYMOUS;
    const access = request.routeOptions.config.access;
    if (!access) return; // unmatched routes answer 404 from the not-found handler
    if (!access.allowSealed && (await deps.isSealed())) {
      throw new AppError('SEALED', { detail: 'Unseal it (strongroom operator unseal) to continue.' });
    }
    if ('public' in access) return;
    let actor: Actor;
    try {
      actor = authenticate(request, deps);
    } catch (err) {
      await deps.audit.recordAlone(request, { action: access.audit, outcome: 'denied', details: { reason: 'bad credential' } }, ANONYMOUS);
      throw err;
    }
    request.actor = actor;
    const decision = authorize(actor, access.action);
    if (!decision.allowed) {
      await deps.audit.recordAlone(request, { action: access.audit, outcome: 'denied', details: { reason: decision.reason } });
      throw new AppError(actor.kind === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN');
    }
  });
}
