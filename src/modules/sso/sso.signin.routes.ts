/**
 * Single sign-on: the public routes.
 *
 * Public (no actor before the IdP has answered): the provider list of the sign-in page, start,
 * the OIDC callback, the SAML ACS and the SP metadata. The callbacks record their own events
 * (`identity.session.create`, success or failure with the precise reason; `sso.identity.link`,
 * `sso.user.provision`, `sso.membership.sync`) like password sign-in does. Start and callbacks are
 * rate limited per address by the scope they are registered in (`ssoPublicRoutes`).
 *
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import { z } from 'zod';

import { type PublicRouteDef, type Schemas } from '../../http/route.ts';

import { csrfTokenFor, eventsOf, SESSION_COOKIE, type User } from '../identity/index.ts';

import { SESSION_COOKIE_OPTS, SSO_COOKIE, SSO_COOKIE_OPTS, type SsoRoutesDeps } from './sso.routes-common.ts';

import { providerParams, publicProviderOut, returnTo, signedInOut } from '../../contracts/sso.ts';

const publicRoute = <S extends Schemas>(def: PublicRouteDef<S>): PublicRouteDef => def as unknown as PublicRouteDef;

const wantsJson = (request: FastifyRequest) => String(request.headers.accept ?? '').includes('application/json');

function signedIn(
  request: FastifyRequest,
  reply: FastifyReply,
  out: { user: User; sessionId: string; strength: string; returnTo: string },
) {
  void reply.setCookie(SESSION_COOKIE, out.sessionId, SESSION_COOKIE_OPTS);
  void reply.clearCookie(SSO_COOKIE, SSO_COOKIE_OPTS);
  if (!wantsJson(request)) return reply.redirect(out.returnTo, 303);
  return {
    user: { id: out.user.id, email: out.user.email, displayName: out.user.displayName },
    csrfToken: csrfTokenFor(out.sessionId),
    strength: out.strength,
    mfaRequired: out.strength === 'sso-pending-mfa',
    returnTo: out.returnTo,
  };
}

function started(request: FastifyRequest, reply: FastifyReply, s: { url: string; state: string }) {
  void reply.setCookie(SSO_COOKIE, s.state, SSO_COOKIE_OPTS);
  if (!wantsJson(request)) return reply.redirect(s.url, 303);
  return { redirectUrl: s.url };
}

/** Public routes; register them in a rate-limited scope with the form-body parser (see app.ts). */
export function ssoPublicRoutes({ sso, audit }: SsoRoutesDeps): PublicRouteDef[] {
  /** Session fixation: whatever session the browser presented is revoked; the new id replaces it. */
  const replacePresented = async (request: FastifyRequest) => {
    const presented = request.cookies[SESSION_COOKIE];
    if (presented) await sso.revokeSessionId(presented);
  };
  return [
    publicRoute({
      method: 'GET',
      url: '/api/v1/auth/sso/providers',
      public: 'the sign-in page lists the enabled providers (names only)',
      schema: { response: { 200: z.object({ providers: z.array(publicProviderOut) }) } },
      handler: async () => ({
        providers: (await sso.providers.list())
          .filter((p) => p.enabled)
          .map((p) => ({ id: p.id, kind: p.kind, displayName: p.displayName })),
      }),
    }),
    publicRoute({
      method: 'GET',
      url: '/api/v1/auth/sso/:provider/start',
      public: 'single sign-on starts before anyone is known; the IdP is the credential',
      schema: { params: providerParams, querystring: z.strictObject({ returnTo }) },
      handler: async ({ request, reply, input }) =>
        started(request, reply, await sso.start(input.params.provider, { returnTo: input.query.returnTo })),
    }),
    publicRoute({
      method: 'GET',
      url: '/api/v1/auth/sso/:provider/oidc/callback',
      public: 'OpenID Connect callback: the authorization code is the credential; records its own events',
      schema: {
        params: providerParams,
        querystring: z.record(z.string(), z.string().max(4096)),
        response: { 200: signedInOut },
      },
      handler: async ({ request, reply, input }) => {
        const url = new URL(sso.publicUrl() + request.url);
        const out = await sso.finishOidc(
          input.params.provider,
          url,
          request.cookies[SSO_COOKIE],
          request.ip,
          eventsOf(audit, request),
        );
        await replacePresented(request);
        return signedIn(request, reply, out);
      },
    }),
    publicRoute({
      method: 'POST',
      url: '/api/v1/auth/sso/:provider/saml/acs',
      public: 'SAML assertion consumer: the signed response is the credential; records its own events',
      body: 'form',
      schema: {
        params: providerParams,
        body: z.object({ SAMLResponse: z.string().min(1).max(400_000), RelayState: z.string().max(200).optional() }),
        response: { 200: signedInOut },
      },
      handler: async ({ request, reply, input }) => {
        const out = await sso.finishSaml(
          input.params.provider,
          input.body,
          request.cookies[SSO_COOKIE],
          request.ip,
          eventsOf(audit, request),
        );
        await replacePresented(request);
        return signedIn(request, reply, out);
      },
    }),
    publicRoute({
      method: 'GET',
      url: '/api/v1/auth/sso/:provider/saml/metadata',
      public: 'SAML service-provider metadata, for the IdP administrator',
      schema: { params: providerParams },
      handler: async ({ reply, input }) =>
        reply.type('application/samlmetadata+xml').send(await sso.providers.metadata(input.params.provider)),
    }),
  ];
}
