/**
 * Authentication and authorization for every route that declares an action:
 * authenticate → one `actor` → `authorize(actor, action)` → denied attempts are audited (and the
 * request refused even if that audit write fails: 503) → handler. Public routes get the
 * anonymous actor and no decision. While Strongroom is sealed every route that is not explicitly
 * allowed to run sealed answers 503 SEALED.
 *
 * Credentials, in order: the operator token (`Bearer sro_…`), an API token (`Bearer srt_…`), the
 * session cookie `__Host-sr_session`. For a route with a `:ws` parameter (or a token, which is
 * bound to one workspace) the actor's roles are its memberships there; a user or service that is
 * not a member gets 404, so ids of other workspaces are not even confirmed to exist.
 * A route that names no workspace gives every user, service account and token no roles at all
 * (only the actions on their own account, `identity.self.*`): those routes are the operator's.
 * Cookie-authenticated state changes must carry `x-csrf-token` (the per-session token from
 * login and `GET /api/v1/auth/me`, compared in constant time); bearer requests are exempt.
 * A session still waiting for its second factor may only finish it or log out; an owner/admin
 * without MFA may only enrol, read `me` and log out (403 MFA_REQUIRED).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import { ANONYMOUS, type Actor } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import { WORKSPACE_ID } from '../../contracts/common.ts';
import type { Decision } from '../../modules/access/index.ts';
import {
  API_TOKEN_PREFIX,
  PENDING_MFA,
  SESSION_COOKIE,
  csrfTokenFor,
  safeEqual,
  scopeAllows,
  type IdentityModule,
  type Principal,
} from '../../modules/identity/index.ts';
import { OPERATOR_TOKEN_PREFIX } from '../../installation/operator-token.ts';
import { workspaceOfRequest, type AuditContext } from '../audit-context.ts';

/** What a request authenticated with, beyond the actor (for re-authentication checks and logout). */
export interface RequestAuth {
  principal?: Principal;
  /** Raw session id from the cookie (cookie-authenticated requests only). */
  sessionId?: string;
  at: Date;
  reauthMaxAgeSeconds: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor;
    auth: RequestAuth | null;
  }
}

export interface AuthDeps {
  verifyOperatorToken: (presented: string) => boolean;
  isSealed: () => Promise<boolean>;
  audit: AuditContext;
  identity: IdentityModule;
  /** Route-level decision: the actor's workspace as the resource (services re-check with the real one). */
  authorize: (actor: Actor, action: string) => Decision;
}

/** Actions a session waiting for its second factor may use. */
const PENDING_MFA_ACTIONS = new Set(['identity.self.mfa-verify', 'identity.self.logout']);
/** Actions an owner/admin without MFA may use (to enrol). */
const MFA_ENROLMENT_ACTIONS = new Set([
  'identity.self.read',
  'identity.self.logout',
  'identity.self.mfa-enrol',
  'identity.self.mfa-activate',
]);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Session strengths that include a second factor (local TOTP/recovery code, or one the IdP asserted). */
const MFA_STRENGTHS = new Set<string>([
  'password+totp',
  'password+recovery-code',
  'sso+mfa',
  'sso+totp',
  'sso+recovery-code',
]);

function bearer(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer ([A-Za-z0-9_\-.]{8,512})$/.exec(h);
  return m?.[1];
}

const OPERATOR: Actor = Object.freeze({
  id: 'operator',
  kind: 'operator',
  authMethod: 'operator-token',
  roles: ['operator'],
  attributes: {},
});
const bad = (detail = 'The credential is not valid.') => new AppError('UNAUTHENTICATED', { detail });

/** Who is calling: operator, token or session principal, or nobody. Throws 401 for a bad credential. */
async function identify(
  request: FastifyRequest,
  deps: AuthDeps,
): Promise<{ operator: true } | { principal: Principal; sessionId?: string } | undefined> {
  const token = bearer(request);
  if (token?.startsWith(OPERATOR_TOKEN_PREFIX) && deps.verifyOperatorToken(token)) return { operator: true };
  if (token?.startsWith(API_TOKEN_PREFIX)) {
    const principal = await deps.identity.principalForToken(token);
    if (!principal) throw bad('The API token is not valid, expired or revoked.');
    return { principal };
  }
  if (request.headers.authorization !== undefined) throw bad();
  const sessionId = request.cookies?.[SESSION_COOKIE];
  if (sessionId) {
    // The route's workspace is passed so the user's roles there come with the session (one query).
    const principal = await deps.identity.principalForSession(sessionId, routeWorkspace(request));
    if (!principal) throw bad('The session has ended; sign in again.');
    return { principal, sessionId };
  }
  return undefined;
}

function routeWorkspace(request: FastifyRequest): string | undefined {
  const ws = (request.params as Record<string, unknown> | undefined)?.ws;
  return typeof ws === 'string' ? ws : undefined;
}

/** The actor for a principal in the route's workspace; undefined when it is not a member there (→ 404). */
async function actorFor(p: Principal, request: FastifyRequest, deps: AuthDeps): Promise<Actor | undefined> {
  const routeWs = routeWorkspace(request);
  if (p.token && routeWs !== undefined && routeWs !== p.token.workspace) return undefined;
  // Workspace roles apply only on a route that names that workspace. A route without `:ws` is the
  // caller's own account or the operator's: a token bound to a workspace brings no roles there.
  const workspaceId = routeWs;
  const roles = workspaceId === undefined ? [] : await deps.identity.rolesFor(p, workspaceId);
  if (routeWs !== undefined && roles.length === 0) return undefined;
  const strength = p.session?.strength;
  return {
    id: p.id,
    kind: p.kind,
    authMethod: p.token ? 'api-token' : strength,
    ...(workspaceId !== undefined ? { workspace: workspaceId } : {}),
    roles,
    attributes: { ...p.attributes, mfa: strength !== undefined && MFA_STRENGTHS.has(strength) },
    credentialId: p.token ? p.token.id : p.session?.idHash,
  };
}

/**
 * Throws REAUTH_REQUIRED unless the request comes from a session whose last password/MFA proof
 * is at most STRONGROOM_REAUTH_MAX_AGE_SECONDS old (or from the operator credential). Call it at
 * the start of sensitive handlers: password or MFA change, token creation, secret reveal, key
 * destruction. API tokens can never satisfy it.
 */
export function requireRecentAuth(request: FastifyRequest): void {
  if (request.actor.kind === 'operator') return;
  const session = request.auth?.principal?.session;
  const maxAge = (request.auth?.reauthMaxAgeSeconds ?? 300) * 1000;
  if (!session || !request.auth || request.auth.at.getTime() - session.authenticatedAt.getTime() > maxAge) {
    throw new AppError('REAUTH_REQUIRED', {
      detail: 'Confirm your password (and MFA code) with POST /api/v1/auth/reauth, then retry within 5 minutes.',
      meta: { reauth: '/api/v1/auth/reauth' },
    });
  }
}

export function registerAuth(app: FastifyInstance, deps: AuthDeps): void {
  app.decorateRequest('actor', null as unknown as Actor);
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request) => {
    request.actor = ANONYMOUS;
    const access = request.routeOptions.config.access;
    if (!access) return; // unmatched routes answer 404 from the not-found handler
    // The path's workspace is used (session roles, the denial's audit event) before the route's
    // schema runs: a value that cannot be a workspace id is refused as the schema would refuse it.
    const workspaceId = routeWorkspace(request);
    if (workspaceId !== undefined && !WORKSPACE_ID.test(workspaceId)) {
      throw new AppError('VALIDATION_FAILED', {
        detail: 'One or more fields are invalid.',
        meta: { issues: [{ location: 'params', path: '/ws', message: 'not a workspace id' }] },
      });
    }
    if (!access.allowSealed && (await deps.isSealed())) {
      throw new AppError('SEALED', { detail: 'Unseal it (strongroom operator unseal) to continue.' });
    }
    if ('public' in access) return;
    const deny = async (err: AppError, reason: string, actor?: Actor) => {
      await deps.audit.recordAlone(
        request,
        { action: access.audit, outcome: 'denied', ...workspaceOfRequest(request, actor), details: { reason } },
        actor,
      );
      throw err;
    };

    let who: Awaited<ReturnType<typeof identify>>;
    try {
      who = await identify(request, deps);
    } catch (err) {
      return deny(err as AppError, 'bad credential', ANONYMOUS);
    }
    request.auth = {
      at: deps.identity.now(),
      reauthMaxAgeSeconds: deps.identity.config.STRONGROOM_REAUTH_MAX_AGE_SECONDS,
    };
    let actor: Actor = ANONYMOUS;
    if (who && 'operator' in who) {
      const ws = routeWorkspace(request);
      actor = ws === undefined ? OPERATOR : { ...OPERATOR, workspace: ws };
    } else if (who) {
      const p = who.principal;
      request.auth.principal = p;
      if (who.sessionId) request.auth.sessionId = who.sessionId;
      const built = await actorFor(p, request, deps);
      const self: Actor = { id: p.id, kind: p.kind, roles: [], attributes: {} };
      if (!built)
        return deny(new AppError('NOT_FOUND', { detail: 'Not found.' }), 'not a member of the workspace', self);
      actor = built;
      request.actor = actor;
      if (who.sessionId && !SAFE_METHODS.has(request.method)) {
        const presented = request.headers['x-csrf-token'];
        if (typeof presented !== 'string' || !safeEqual(presented, csrfTokenFor(who.sessionId))) {
          return deny(
            new AppError('FORBIDDEN', {
              detail: 'Missing or wrong CSRF token: send the x-csrf-token header from sign-in or GET /api/v1/auth/me.',
            }),
            'csrf',
          );
        }
      }
      if (p.session && PENDING_MFA.includes(p.session.strength) && !PENDING_MFA_ACTIONS.has(access.action)) {
        return deny(
          new AppError('UNAUTHENTICATED', {
            detail: 'Finish signing in with your second factor: POST /api/v1/auth/mfa.',
          }),
          'mfa pending',
        );
      }
      const idpMfa = p.session?.strength === 'sso+mfa'; // the IdP asserted a second factor (amr/acr)
      if (p.privileged && !p.mfaEnrolled && !idpMfa && !MFA_ENROLMENT_ACTIONS.has(access.action)) {
        return deny(
          new AppError('MFA_REQUIRED', {
            detail: 'Owners and admins must enrol multi-factor authentication first: POST /api/v1/auth/mfa/enrol.',
          }),
          'mfa required',
        );
      }
      if (p.token && !scopeAllows(p.token.scopes, access.action)) {
        return deny(
          new AppError('FORBIDDEN', { detail: 'The API token is not scoped for this action.' }),
          'outside token scope',
        );
      }
    }
    request.actor = actor;
    // A route that loads its resource is decided once, on that resource, by the pipeline.
    if (access.resource === 'loaded') {
      if (actor.kind === 'anonymous') return deny(new AppError('UNAUTHENTICATED'), 'not authenticated');
      return;
    }
    const decision = deps.authorize(actor, access.action);
    if (!decision.allowed)
      return deny(new AppError(actor.kind === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN'), decision.reason);
  });
}
