/**
 * Single sign-on: the public routes.
 *
 * Public (no actor before the IdP has answered): the provider list of the sign-in page, start,
 * the OIDC callback, the SAML ACS and the SP metadata. The callbacks record their own events
 * (`identity.session.create`, success or failure with the precise reason; `sso.identity.link`,
 * `sso.user.provision`, `sso.membership.sync`) like password sign-in does. Each is rate limited
 * per address by its declaration; the ACS takes an HTML form post (`body: 'form'`, ≤ 512 KiB).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import { z } from 'zod';

import { type PublicRouteDef, type Schemas } from '../../http/route.ts';

import { extraEventsOf } from '../../http/extra-events.ts';
import { csrfTokenFor, SESSION_COOKIE, type User } from '../identity/index.ts';

import { SESSION_COOKIE_OPTS, SSO_COOKIE, SSO_COOKIE_OPTS, type SsoRoutesDeps } from './sso.routes-common.ts';

import {
  cliChallenge,
  cliCodeOut,
  cliRedeemBody,
  providerParams,
  publicProviderOut,
  returnTo,
  signedInOut,
} from '../../contracts/sso.ts';

const publicRoute = <S extends Schemas>(def: PublicRouteDef<S>): PublicRouteDef => def as unknown as PublicRouteDef;

const wantsJson = (request: FastifyRequest) => String(request.headers.accept ?? '').includes('application/json');

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page a browser sees at the end of a CLI sign-in: the one-time code, nothing else (no script, no style). */
const cliPage = (code: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Strongroom sign-in</title></head>` +
  `<body><h1>Signed in</h1>` +
  `<p>Paste this code into the terminal where you ran <code>strongroom login --sso</code>:</p>` +
  `<p><code id="code">${esc(code)}</code></p>` +
  `<p>It works once, for five minutes, and only for that terminal. You may close this page.</p></body></html>`;

function signedIn(
  request: FastifyRequest,
  reply: FastifyReply,
  out: { user: User; sessionId: string; strength: string; returnTo: string; cliCode?: string },
) {
  if (out.cliCode !== undefined) {
    // A CLI sign-in: this browser gets no session, only the code for the terminal.
    void reply.clearCookie(SSO_COOKIE, SSO_COOKIE_OPTS);
    if (wantsJson(request)) return { cliCode: out.cliCode };
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(cliPage(out.cliCode));
  }
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

/** Public routes, each rate limited per source address. */
const LIMIT = { max: 300, timeWindow: '1 minute' };

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
      rateLimit: LIMIT,
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
      rateLimit: LIMIT,
      schema: {
        params: providerParams,
        querystring: z.strictObject({
          returnTo,
          /** `strongroom login --sso`: base64url SHA-256 of the CLI's secret verifier. */
          cli: cliChallenge.optional(),
        }),
      },
      handler: async ({ request, reply, input }) =>
        started(
          request,
          reply,
          await sso.start(input.params.provider, { returnTo: input.query.returnTo, cliChallenge: input.query.cli }),
        ),
    }),
    publicRoute({
      method: 'GET',
      url: '/api/v1/auth/sso/:provider/oidc/callback',
      public: 'OpenID Connect callback: the authorization code is the credential; records its own events',
      rateLimit: LIMIT,
      schema: {
        params: providerParams,
        querystring: z.record(z.string(), z.string().max(4096)),
        response: { 200: z.union([signedInOut, cliCodeOut]) },
      },
      handler: async ({ request, reply, input }) => {
        const url = new URL(sso.publicUrl() + request.url);
        const out = await sso.finishOidc(
          input.params.provider,
          url,
          request.cookies[SSO_COOKIE],
          request.ip,
          extraEventsOf(audit, request),
        );
        if (!('cliCode' in out)) await replacePresented(request);
        return signedIn(request, reply, out);
      },
    }),
    publicRoute({
      method: 'POST',
      url: '/api/v1/auth/sso/:provider/saml/acs',
      public: 'SAML assertion consumer: the signed response is the credential; records its own events',
      rateLimit: LIMIT,
      body: 'form',
      bodyLimit: 512 * 1024,
      schema: {
        params: providerParams,
        body: z.object({ SAMLResponse: z.string().min(1).max(400_000), RelayState: z.string().max(200).optional() }),
        response: { 200: z.union([signedInOut, cliCodeOut]) },
      },
      handler: async ({ request, reply, input }) => {
        const out = await sso.finishSaml(
          input.params.provider,
          input.body,
          request.cookies[SSO_COOKIE],
          request.ip,
          extraEventsOf(audit, request),
        );
        if (!('cliCode' in out)) await replacePresented(request);
        return signedIn(request, reply, out);
      },
    }),
    publicRoute({
      method: 'POST',
      url: '/api/v1/auth/sso/cli/redeem',
      public: 'strongroom login --sso: the one-time code and the verifier are the credential',
      rateLimit: { max: 20, timeWindow: '1 minute' },
      audit: { action: 'sso.cli.redeem', resource: { type: 'user' } },
      schema: {
        body: cliRedeemBody,
        response: { 200: signedInOut },
      },
      handler: async ({ reply, input, event }) => {
        const out = await sso.redeemCli(input.body.code, input.body.verifier);
        event.actor({ id: out.user.id, kind: 'user', roles: [], attributes: {}, authMethod: out.strength });
        event.resource({ type: 'user', id: out.user.id });
        void reply.setCookie(SESSION_COOKIE, out.sessionId, SESSION_COOKIE_OPTS);
        return {
          user: { id: out.user.id, email: out.user.email, displayName: out.user.displayName },
          csrfToken: csrfTokenFor(out.sessionId),
          strength: out.strength,
          mfaRequired: out.strength === 'sso-pending-mfa',
          returnTo: '/',
        };
      },
    }),
    publicRoute({
      method: 'GET',
      url: '/api/v1/auth/sso/:provider/saml/metadata',
      public: 'SAML service-provider metadata, for the IdP administrator',
      rateLimit: LIMIT,
      schema: { params: providerParams },
      handler: async ({ reply, input }) =>
        reply.type('application/samlmetadata+xml').send(await sso.providers.metadata(input.params.provider)),
    }),
  ];
}
