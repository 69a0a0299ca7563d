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
import { extraEventsOf, type RecordExtraEvent } from '../../http/extra-events.ts';
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
  const rec = (request: FastifyRequest): RecordExtraEvent => extraEventsOf(audit, request);
  /** The work and its event in one transaction; a refusal's `reason` (last owner) goes into the event. */
  async function commit<R>(
    ctx: PublicCtx<Schemas>,
    work: (trx: Trx, record: RecordExtraEvent) => Promise<R>,
  ): Promise<R> {
    try {
      return await ctx.commit((trx) => work(trx, rec(ctx.request)));
    } catch (err) {
      const reason = err instanceof AppError ? err.meta?.reason : undefined;
      if (typeof reason === 'string') ctx.event.details({ reason });
      throw err;
    }
  }
  const PUBLIC = 'SCIM: the workspace SCIM bearer token is the credential, checked by the handler';

  /** What a SCIM resource kind offers; `replace` (PUT) only where it exists (Users). */
  interface ScimResource {
    list(c: ScimCaller, q: Record<string, string | undefined>): Promise<unknown>;
    get(c: ScimCaller, id: string): Promise<unknown>;
    create(
      trx: Trx,
      c: ScimCaller,
      body: unknown,
      record: RecordExtraEvent,
    ): Promise<{ id: string; meta: { location: string } }>;
    replace?(trx: Trx, c: ScimCaller, id: string, body: unknown, record: RecordExtraEvent): Promise<unknown>;
    patch(trx: Trx, c: ScimCaller, id: string, body: unknown, record: RecordExtraEvent): Promise<unknown>;
    remove(trx: Trx, c: ScimCaller, id: string, record: RecordExtraEvent): Promise<void>;
  }

  /** The routes of one resource kind: list, read, create, [replace], patch, delete — each audited as `scim.<noun>.*`. */
  function resourceRoutes(path: string, noun: string, type: string, ops: ScimResource): PublicRouteDef[] {
    const url = `${base}/${path}`;
    const common = { public: PUBLIC, rateLimit: LIMIT };
    const withBody = { body: 'scim' as const, bodyLimit: BODY_LIMIT };
    const audit = (verb: string) => ({ action: `scim.${noun}.${verb}`, resource: { type } });
    /** A change to one resource: the work and its event in one transaction, answered 200. */
    const change = (method: 'PUT' | 'PATCH', run: NonNullable<ScimResource['replace']>) =>
      publicRoute({
        method,
        url: `${url}/:id`,
        ...common,
        audit: audit('update'),
        ...withBody,
        schema: { params: scimIdParams, body: scimBody },
        handler: async (ctx) => {
          const { id } = ctx.input.params;
          const c = await caller(ctx as PublicCtx<Schemas>, { type, id });
          const out = await commit(ctx as PublicCtx<Schemas>, (trx, record) => run(trx, c, id, ctx.input.body, record));
          return send(ctx.reply, 200, out);
        },
      });
    return [
      publicRoute({
        method: 'GET',
        url,
        ...common,
        audit: audit('list'),
        schema: { querystring: scimListQuery },
        handler: async (ctx) => {
          const c = await caller(ctx as PublicCtx<Schemas>, { type });
          return send(ctx.reply, 200, await ops.list(c, ctx.input.query));
        },
      }),
      publicRoute({
        method: 'GET',
        url: `${url}/:id`,
        ...common,
        audit: audit('read'),
        schema: { params: scimIdParams },
        handler: async (ctx) => {
          const c = await caller(ctx as PublicCtx<Schemas>, { type, id: ctx.input.params.id });
          return send(ctx.reply, 200, await ops.get(c, ctx.input.params.id));
        },
      }),
      publicRoute({
        method: 'POST',
        url,
        ...common,
        audit: audit('create'),
        ...withBody,
        schema: { body: scimBody },
        handler: async (ctx) => {
          const c = await caller(ctx as PublicCtx<Schemas>, { type });
          const out = await commit(ctx as PublicCtx<Schemas>, async (trx, record) => {
            const created = await ops.create(trx, c, ctx.input.body, record);
            ctx.event.resource({ type, id: created.id, workspace: c.workspace });
            return created;
          });
          return send(ctx.reply.header('location', out.meta.location), 201, out);
        },
      }),
      ...(ops.replace ? [change('PUT', ops.replace.bind(ops))] : []),
      change('PATCH', ops.patch.bind(ops)),
      publicRoute({
        method: 'DELETE',
        url: `${url}/:id`,
        ...common,
        audit: audit('delete'),
        schema: { params: scimIdParams },
        handler: async (ctx) => {
          const { id } = ctx.input.params;
          const c = await caller(ctx as PublicCtx<Schemas>, { type, id });
          await commit(ctx as PublicCtx<Schemas>, (trx, record) => ops.remove(trx, c, id, record));
          return ctx.reply.code(204).send();
        },
      }),
    ];
  }

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
    ...resourceRoutes('Users', 'user', 'user', scim.users),
    ...resourceRoutes('Groups', 'group', 'scim-group', scim.groups),
  ];
}
