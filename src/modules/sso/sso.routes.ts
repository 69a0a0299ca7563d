/**
 * Single sign-on: the declared routes (see `sso.signin.routes.ts` for the public ones).
 *
 * Public (no actor before the IdP has answered): the provider list of the sign-in page, start,
 * the OIDC callback, the SAML ACS and the SP metadata. The callbacks record their own events
 * (`identity.session.create`, success or failure with the precise reason; `sso.identity.link`,
 * `sso.user.provision`, `sso.membership.sync`) like password sign-in does. Start and callbacks are
 * rate limited per address by their declarations (`ssoPublicRoutes`).
 *
 * Declared: providers (`operator.sso-provider.*`, the operator token), a workspace's mappings and
 * enforcement (`sso.*`, owners and admins; no one maps a group to a role above their own), and
 * linking SSO to one's own account (`identity.self.sso-link`, after a recent password proof).
 */
import type {} from '@fastify/cookie';
import { z } from 'zod';

import { AppError } from '../../core/errors.ts';

import { route, type RouteDef } from '../../http/route.ts';

import { refuseGrant, type Role } from '../identity/index.ts';

import { type Provider } from './sso.providers.ts';

import { SSO_COOKIE, SSO_COOKIE_OPTS, type SsoRoutesDeps } from './sso.routes-common.ts';

import type { SsoModule } from './sso.service.ts';
import {
  mappingsBody,
  providerId,
  providerInput,
  providerOut,
  providerParams,
  returnTo,
  providerWriteBody,
  scimTokenBody,
  scimTokenOut,
  ssoSettingsOut,
  wsParams,
} from '../../contracts/sso.ts';

const base = '/api/v1/workspaces/:ws/sso';

const view = (p: Provider) => ({ ...p, settings: p.settings as unknown as Record<string, unknown> });

export function ssoRoutes({ sso }: SsoRoutesDeps): RouteDef[] {
  /** Inside a write route, reads take its transaction (on PGlite the database handle would wait for it). */
  const mustFind = async (id: string, trx?: Parameters<SsoModule['providers']['find']>[1]) => {
    const p = await sso.providers.find(id, trx);
    if (!p) throw new AppError('NOT_FOUND', { detail: 'No such sign-in provider.' });
    return p;
  };
  const scimStatus = async (workspaceId: string) => {
    const t = await sso.scim.tokenStatus(workspaceId);
    return t
      ? { provider: t.provider, createdAt: t.createdAt.toISOString(), baseUrl: `${sso.publicUrl()}/scim/v2` }
      : null;
  };
  return [
    route({
      method: 'GET',
      url: '/api/v1/sso/providers',
      action: 'operator.sso-provider.list',
      resource: 'system',
      run: 'read',
      schema: { response: { 200: z.object({ providers: z.array(providerOut) }) } },
      handler: async () => ({ providers: (await sso.providers.list()).map(view) }),
    }),
    route({
      method: 'POST',
      url: '/api/v1/sso/providers',
      action: 'operator.sso-provider.create',
      resource: 'system',
      run: 'write',
      status: 201,
      schema: {
        body: providerWriteBody,
        response: { 201: providerOut },
      },
      handler: async ({ input, trx, event }) => {
        const { id, ...rest } = input.body;
        const created = await sso.providers.create(trx, id, rest as z.output<typeof providerInput>);
        event.details({ provider: id, kind: created.kind, issuer: created.issuer });
        return view(created);
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/sso/providers/:provider',
      action: 'operator.sso-provider.read',
      resource: 'system',
      run: 'read',
      schema: { params: providerParams, response: { 200: providerOut } },
      handler: async ({ input }) => view(await mustFind(input.params.provider)),
    }),
    route({
      method: 'PUT',
      url: '/api/v1/sso/providers/:provider',
      action: 'operator.sso-provider.update',
      resource: 'system',
      run: 'write',
      schema: { params: providerParams, body: providerInput, response: { 200: providerOut } },
      handler: async ({ input, trx, event }) => {
        const current = await mustFind(input.params.provider, trx);
        event.details({ provider: current.id, enabled: input.body.enabled });
        return view(await sso.providers.update(trx, current, input.body));
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/sso/providers/:provider',
      action: 'operator.sso-provider.delete',
      resource: 'system',
      run: 'write',
      status: 204,
      schema: { params: providerParams },
      handler: async ({ input, trx, event, reply }) => {
        await mustFind(input.params.provider, trx);
        event.details({ provider: input.params.provider });
        await sso.providers.remove(trx, input.params.provider);
        return reply.code(204).send();
      },
    }),

    route({
      method: 'GET',
      url: base,
      action: 'sso.settings.read',
      resource: 'workspace',
      run: 'read',
      schema: { params: wsParams, response: { 200: ssoSettingsOut } },
      handler: async ({ input }) => ({
        enforce: await sso.enforcement.get(input.params.ws),
        scim: await scimStatus(input.params.ws),
        mappings: await sso.mappings.list(input.params.ws),
        providers: (await sso.providers.list()).map((p) => ({ id: p.id, kind: p.kind, displayName: p.displayName })),
      }),
    }),
    route({
      method: 'PUT',
      url: `${base}/mappings/:provider`,
      action: 'sso.mapping.update',
      resource: 'workspace',
      run: 'explicit',
      schema: { params: wsParams.extend({ provider: providerId }), body: mappingsBody },
      handler: async ({ input, actor, event, commit, deny }) => {
        const roles = [...new Set(input.body.mappings.map((m) => m.role))] as Role[];
        const why = refuseGrant(actor.roles as Role[], roles);
        if (why) deny(why);
        await mustFind(input.params.provider);
        event.details({ provider: input.params.provider, mappings: input.body.mappings.length, roles });
        await commit((trx) => sso.mappings.replace(trx, input.params.ws, input.params.provider, input.body.mappings));
        return { mappings: await sso.mappings.list(input.params.ws) };
      },
    }),
    route({
      method: 'PUT',
      url: `${base}/enforcement`,
      action: 'sso.enforcement.update',
      resource: 'workspace',
      run: 'write',
      schema: { params: wsParams, body: z.strictObject({ enforce: z.boolean() }) },
      handler: async ({ input, trx, event }) => {
        event.details({ enforce: input.body.enforce });
        await sso.enforcement.set(trx, input.params.ws, input.body.enforce);
        return { enforce: input.body.enforce };
      },
    }),
    route({
      method: 'POST',
      url: `${base}/scim-token`,
      action: 'sso.scim-token.rotate',
      resource: 'workspace',
      reauth: true,
      run: 'write',
      status: 201,
      schema: {
        params: wsParams,
        body: scimTokenBody,
        response: { 201: scimTokenOut },
      },
      handler: async ({ input, trx, actor, event }) => {
        await mustFind(input.body.provider, trx);
        const replaced = (await sso.scim.tokenStatus(input.params.ws, trx)) !== undefined;
        event.details({ provider: input.body.provider, replaced });
        const token = await sso.scim.rotateToken(trx, input.params.ws, input.body.provider, actor.id);
        return { token, provider: input.body.provider, baseUrl: `${sso.publicUrl()}/scim/v2` };
      },
    }),
    route({
      method: 'DELETE',
      url: `${base}/scim-token`,
      action: 'sso.scim-token.revoke',
      resource: 'workspace',
      run: 'write',
      status: 204,
      schema: { params: wsParams },
      handler: async ({ input, trx, reply }) => {
        if (!(await sso.scim.revokeToken(trx, input.params.ws)))
          throw new AppError('NOT_FOUND', { detail: 'This workspace has no SCIM token.' });
        return reply.code(204).send();
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/auth/sso/:provider/link',
      action: 'identity.self.sso-link',
      resource: 'self',
      reauth: true,
      run: 'read',
      schema: { params: providerParams, body: z.strictObject({ returnTo }).optional() },
      handler: async ({ request, reply, input, actor, event }) => {
        event.details({ provider: input.params.provider });
        const s = await sso.start(input.params.provider, {
          returnTo: input.body?.returnTo ?? '/',
          linkUserId: actor.id,
        });
        void reply.setCookie(SSO_COOKIE, s.state, SSO_COOKIE_OPTS);
        void request;
        return { redirectUrl: s.url };
      },
    }),
  ];
}
