/**
 * SCIM 2.0 (RFC 7644) for identity providers: `/scim/v2/Users` and `/scim/v2/Groups`.
 *
 * Public routes in the pipeline's sense — the caller is no user or session: the handler checks
 * the workspace's SCIM bearer token (`sso.scim.ts`) and from then on the request acts as
 * `scim:<workspace>`. Every call is audited by its declaration (`scim.user.*`, `scim.group.*`,
 * success or failure with the problem code; provisioning and role changes add their own events in
 * the same transaction) and rate limited per source address. Bodies are `application/scim+json`
 * (or `application/json`); answers are `application/scim+json`; errors are problem+json carrying
 * the RFC 7644 error fields (`schemas`, `scimType`).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import type { Actor } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import { scimBody, scimIdParams, scimListQuery } from '../../contracts/sso.ts';
import { publicRoute, type PublicCtx, type PublicRouteDef, type Schemas } from '../../http/route.ts';
import { eventsOf, type RecordEvent } from '../identity/index.ts';
import type { SsoRoutesDeps } from './sso.routes-common.ts';
import type { ScimCaller } from './sso.scim.ts';

type Trx = Transaction<Database>;
const LIMIT = { max: 1200, timeWindow: '1 minute' };
const BODY_LIMIT = 2 * 1024 * 1024;
const base = '/scim/v2';

const scimActor = (c: ScimCaller): Actor => ({
  id: `scim:${c.workspace}`,
  kind: 'service',
  authMethod: 'scim-token',
  workspace: c.workspace,
  roles: [],
  attributes: { provider: c.provider },
});

const send = (reply: FastifyReply, status: number, body: unknown) =>
  reply.code(status).type('application/scim+json; charset=utf-8').header('cache-control', 'no-store').send(body);

export function scimRoutes({ sso, audit }: SsoRoutesDeps): PublicRouteDef[] {
  const scim = sso.scim;
  /** The token's workspace becomes the event's resource and `scim:<workspace>` its actor. */
  async function caller(ctx: PublicCtx<Schemas>, resource: { type: string; id?: string }): Promise<ScimCaller> {
    const c = await scim.authenticate(ctx.request.headers.authorization);
    ctx.event.actor(scimActor(c));
    ctx.event.resource({ ...resource, workspace: c.workspace });
    ctx.event.details({ provider: c.provider });
    return c;
  }
  const rec = (request: FastifyRequest): RecordEvent => eventsOf(audit, request);
  /** The work and its event in one transaction; a refusal's `reason` (last owner) goes into the event. */
  async function commit<R>(ctx: PublicCtx<Schemas>, work: (trx: Trx, record: RecordEvent) => Promise<R>): Promise<R> {
    try {
      return await ctx.commit((trx) => work(trx, rec(ctx.request)));
    } catch (err) {
      const reason = err instanceof AppError ? err.meta?.reason : undefined;
      if (typeof reason === 'string') ctx.event.details({ reason });
      throw err;
    }
  }
  const PUBLIC = 'SCIM: the workspace SCIM bearer token is the credential, checked by the handler';

  return [
    publicRoute({
      method: 'GET',
      url: `${base}/ServiceProviderConfig`,
      public: PUBLIC,
      rateLimit: LIMIT,
      audit: { action: 'scim.config.read', resource: { type: 'workspace' } },
      schema: {},
      handler: async (ctx) => {
        const c = await caller(ctx as PublicCtx<Schemas>, { type: 'workspace' });
        void c;
        return send(ctx.reply, 200, {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
          patch: { supported: true },
          bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
          filter: { supported: true, maxResults: 200 },
          changePassword: { supported: false },
          sort: { supported: false },
          etag: { supported: false },
          authenticationSchemes: [
            { type: 'oauthbearertoken', name: 'Bearer token', description: 'The workspace SCIM token.' },
          ],
        });
      },
    }),
    publicRoute({
      method: 'GET',
      url: `${base}/Users`,
      public: PUBLIC,
      rateLimit: LIMIT,
      audit: { action: 'scim.user.list', resource: { type: 'user' } },
      schema: { querystring: scimListQuery },
      handler: async (ctx) => {
        const c = await caller(ctx as PublicCtx<Schemas>, { type: 'user' });
        return send(ctx.reply, 200, await scim.users.list(c, ctx.input.query));
      },
    }),
    publicRoute({
      method: 'GET',
      url: `${base}/Users/:id`,
      public: PUBLIC,
      rateLimit: LIMIT,
      audit: { action: 'scim.user.read', resource: { type: 'user' } },
      schema: { params: scimIdParams },
      handler: async (ctx) => {
        const c = await caller(ctx as PublicCtx<Schemas>, { type: 'user', id: ctx.input.params.id });
        return send(ctx.reply, 200, await scim.users.get(c, ctx.input.params.id));
      },
    }),
    publicRoute({
      method: 'POST',
      url: `${base}/Users`,
      public: PUBLIC,
      rateLimit: LIMIT,
      audit: { action: 'scim.user.create', resource: { type: 'user' } },
      body: 'scim',
      bodyLimit: BODY_LIMIT,
      schema: { body: scimBody },
      handler: async (ctx) => {
        const c = await caller(ctx as PublicCtx<Schemas>, { type: 'user' });
        const out = await commit(ctx as PublicCtx<Schemas>, async (trx, record) => {
          const u = await scim.users.create(trx, c, ctx.input.body, record);
          ctx.event.resource({ type: 'user', id: u.id, workspace: c.workspace });
          return u;
        });
        return send(ctx.reply.header('location', out.meta.location), 201, out);
      },
    }),
    publicRoute({
      method: 'PUT',
      url: `${base}/Users/:id`,
      public: PUBLIC,
      rateLimit: LIMIT,
      audit: { action: 'scim.user.update', resource: { type: 'user' } },
      body: 'scim',
      bodyLimit: BODY_LIMIT,
      schema: { params: scimIdParams, body: scimBody },
      handler: async (ctx) => {
        const { id } = ctx.input.params;
        const c = await caller(ctx as PublicCtx<Schemas>, { type: 'user', id });
        return send(
          ctx.reply,
          200,
          await commit(ctx as PublicCtx<Schemas>, (trx, record) =>
            scim.users.replace(trx, c, id, ctx.input.body, record),
          ),
        );
      },
    }),
    publicRoute({
      method: 'PATCH',
      url: `${base}/Users/:id`,
      public: PUBLIC,
      rateLimit: LIMIT,
      audit: { action: 'scim.user.update', resource: { type: 'user' } },
      body: 'scim',
      bodyLimit: BODY_LIMIT,
      schema: { params: scimIdParams, body: scimBody },
      handler: async (ctx) => {
        const { id } = ctx.input.params;
        const c = await caller(ctx as PublicCtx<Schemas>, { type: 'user', id });
        return send(
          ctx.reply,
          200,
          await commit(ctx as PublicCtx<Schemas>, (trx, record) =>
            scim.users.patch(trx, c, id, ctx.input.body, record),
          ),
        );
      },
    }),
    publicRoute({
      method: 'DELETE',
      url: `${base}/Users/:id`,
      public: PUBLIC,
      rateLimit: LIMIT,
      audit: { action: 'scim.user.delete', resource: { type: 'user' } },
      schema: { params: scimIdParams },
      handler: async (ctx) => {
        const { id } = ctx.input.params;
        const c = await caller(ctx as PublicCtx<Schemas>, { type: 'user', id });
        await commit(ctx as PublicCtx<Schemas>, (trx, record) => scim.users.remove(trx, c, id, record));
        return ctx.reply.code(204).send();
      },
    }),
    publicRoute({
      method: 'GET',
      url: `${base}/Groups`,
      public: PUBLIC,
      rateLimit: LIMIT,
      audit: { action: 'scim.group.list', resource: { type: 'scim-group' } },
      schema: { querystring: scimListQuery },
      handler: async (ctx) => {
        const c = await caller(ctx as PublicCtx<Schemas>, { type: 'scim-group' });
        return send(ctx.reply, 200, await scim.groups.list(c, ctx.input.query));
      },
    }),
    publicRoute({
      method: 'GET',
      url: `${base}/Groups/:id`,
      public: PUBLIC,
      rateLimit: LIMIT,
      audit: { action: 'scim.group.read', resource: { type: 'scim-group' } },
      schema: { params: scimIdParams },
      handler: async (ctx) => {
        const c = await caller(ctx as PublicCtx<Schemas>, { type: 'scim-group', id: ctx.input.params.id });
        return send(ctx.reply, 200, await scim.groups.get(c, ctx.input.params.id));
      },
    }),
    publicRoute({
      method: 'POST',
      url: `${base}/Groups`,
      public: PUBLIC,
      rateLimit: LIMIT,
      audit: { action: 'scim.group.create', resource: { type: 'scim-group' } },
      body: 'scim',
      bodyLimit: BODY_LIMIT,
      schema: { body: scimBody },
      handler: async (ctx) => {
        const c = await caller(ctx as PublicCtx<Schemas>, { type: 'scim-group' });
        const out = await commit(ctx as PublicCtx<Schemas>, async (trx, record) => {
          const g = await scim.groups.create(trx, c, ctx.input.body, record);
          ctx.event.resource({ type: 'scim-group', id: g.id, workspace: c.workspace });
          return g;
        });
        return send(ctx.reply.header('location', out.meta.location), 201, out);
      },
    }),
    publicRoute({
      method: 'PATCH',
      url: `${base}/Groups/:id`,
      public: PUBLIC,
      rateLimit: LIMIT,
      audit: { action: 'scim.group.update', resource: { type: 'scim-group' } },
      body: 'scim',
      bodyLimit: BODY_LIMIT,
      schema: { params: scimIdParams, body: scimBody },
      handler: async (ctx) => {
        const { id } = ctx.input.params;
        const c = await caller(ctx as PublicCtx<Schemas>, { type: 'scim-group', id });
        return send(
          ctx.reply,
          200,
          await commit(ctx as PublicCtx<Schemas>, (trx, record) =>
            scim.groups.patch(trx, c, id, ctx.input.body, record),
          ),
        );
      },
    }),
    publicRoute({
      method: 'DELETE',
      url: `${base}/Groups/:id`,
      public: PUBLIC,
      rateLimit: LIMIT,
      audit: { action: 'scim.group.delete', resource: { type: 'scim-group' } },
      schema: { params: scimIdParams },
      handler: async (ctx) => {
        const { id } = ctx.input.params;
        const c = await caller(ctx as PublicCtx<Schemas>, { type: 'scim-group', id });
        await commit(ctx as PublicCtx<Schemas>, (trx, record) => scim.groups.remove(trx, c, id, record));
        return ctx.reply.code(204).send();
      },
    }),
  ];
}
