/**
 * The credential vault over HTTPS (C6): `/api/v1/workspaces/:ws/secrets/...`, paths as the
 * wildcard tail (`.../secrets/data/team/warehouse/password`), in the manner of Vault KV v2
 * (`data`, `metadata`, `delete`, `undelete`, `destroy`, `rollback`) plus `reveal`.
 *
 * Declarations only: each route loads its secret (tags included, so tag rules and workspace
 * policies naming a secret apply) and the pipeline decides once on it, runs the work with its
 * event in one transaction, and records denials and failures. A reveal's value leaves only after
 * its event (with the version revealed) is committed. No answer but reveal carries a value (the
 * response schemas filter output).
 */
import type { Transaction } from 'kysely';
import { z } from 'zod';
import type { Actor } from '../../core/actor.ts';
import { isAppError } from '../../core/errors.ts';
import type { ResourceRef } from '../../core/resource.ts';
import type { Database } from '../../db/schema.ts';
import { workspaceParams } from '../../contracts/common.ts';
import {
  cas,
  changedOut,
  dueOut,
  metadataInputSchema,
  metadataOut,
  pathParams,
  revealOut,
  SECRET_TYPES,
  destroyAllAnswer,
  secretListAnswer,
  secretListQuery,
  secretsDueQuery,
  metadataUpdateAnswer,
  rollbackBody,
  typedValueVariants,
  versionList,
  versionOut,
  versionQuery,
  writeOut,
} from '../../contracts/vault.ts';
import { route, type Input, type Loaded, type RouteDef } from '../../http/route.ts';
import type { SealedVersion, VaultService } from './vault.service.ts';
import type { Kysely } from 'kysely';

export interface VaultRoutesDeps {
  vault: VaultService;
  db: Kysely<Database>;
}

const NO_SUCH_SECRET = 'No such secret in this workspace.';
const base = '/api/v1/workspaces/:ws/secrets';
const secretRef = (workspaceId: string, path: string, tags: readonly string[] = []): ResourceRef => ({
  type: 'secret',
  id: path,
  workspace: workspaceId,
  tags,
});

export function vaultRoutes({ vault, db }: VaultRoutesDeps): RouteDef[] {
  /** The secret named by the path, with its tags; absent → decided on the path alone, then 404. */
  const secret = async ({ params }: Input<{ params: typeof pathParams }>): Promise<Loaded<true>> => {
    const found = await vault.resourceOf(db, params.ws, params['*']);
    return { ref: found ?? secretRef(params.ws, params['*']), row: found ? true : undefined };
  };

  const versionsChange = (
    verb: 'delete' | 'undelete' | 'destroy',
    action: string,
    body: z.ZodType<{ versions?: number[] | undefined }>,
    work: (
      trx: Transaction<Database>,
      actor: Actor,
      workspaceId: string,
      path: string,
      versions: number[] | undefined,
    ) => Promise<number[]>,
  ) =>
    route({
      method: 'POST',
      url: `${base}/${verb}/*`,
      action,
      run: 'write',
      resource: secret,
      mustExist: NO_SUCH_SECRET,
      reauth: verb === 'destroy',
      schema: { params: pathParams, body, response: { 200: changedOut } },
      handler: async ({ trx, actor, input, event }) => {
        const versions = await work(trx, actor, input.params.ws, input.params['*'], input.body.versions);
        event.details({ versions });
        return { path: input.params['*'], versions };
      },
    });

  return [
    route({
      method: 'GET',
      url: base,
      action: 'vault.secret.list',
      run: 'read',
      resource: 'workspace',
      schema: {
        params: workspaceParams,
        querystring: secretListQuery,
        response: { 200: secretListAnswer },
      },
      handler: async ({ input, allowed, event }) => {
        const { ws: workspaceId } = input.params;
        const { prefix, after, limit } = input.query;
        const page = await vault.list(db, workspaceId, prefix, after, limit);
        // Per-secret rules (workspace policies) may hide entries; tags never carry values.
        const secrets = page.secrets.filter((s) =>
          allowed('vault.secret.list', secretRef(workspaceId, s.path, s.tags)),
        );
        event.details({ prefix, count: secrets.length });
        return { secrets, next: page.next };
      },
    }),

    route({
      method: 'PUT',
      url: `${base}/data/*`,
      action: 'vault.secret.update',
      run: 'write',
      schema: {
        params: pathParams,
        body: typedValueVariants({ cas: cas.optional(), metadata: metadataInputSchema.optional() }),
        response: { 200: writeOut, 201: writeOut },
      },
      // Create or update, decided with the tags it has and the tags it is being given.
      resource: async ({ params, body }) => {
        const prior = await vault.resourceOf(db, params.ws, params['*']);
        const tags = [...new Set([...(prior?.tags ?? []), ...(body.metadata?.tags ?? [])])];
        return {
          ref: secretRef(params.ws, params['*'], tags),
          row: prior,
          action: prior ? 'vault.secret.update' : 'vault.secret.create',
        };
      },
      handler: async ({ trx, actor, input, reply, event }) => {
        const { ws: workspaceId, '*': path } = input.params;
        const b = input.body;
        const result = await vault.write(trx, actor, workspaceId, path, {
          type: b.type,
          value: b.value as Record<string, unknown>,
          cas: b.cas,
          metadata: b.metadata,
        });
        event.details({
          type: b.type,
          version: result.version,
          created: result.created,
          ...(result.pruned.length ? { pruned: result.pruned } : {}),
        });
        void reply.code(result.created ? 201 : 200);
        return { path, ...result };
      },
    }),

    route({
      method: 'GET',
      url: `${base}/data/*`,
      action: 'vault.secret.read',
      run: 'read',
      resource: secret,
      mustExist: NO_SUCH_SECRET,
      schema: {
        params: pathParams,
        querystring: versionQuery,
        response: {
          200: versionOut.extend({ path: z.string(), type: z.enum(SECRET_TYPES), currentVersion: z.number() }),
        },
      },
      handler: async ({ input, event }) => {
        const v = await vault.versionMetadata(db, input.params.ws, input.params['*'], input.query.version);
        event.details({ version: v.version });
        return v;
      },
    }),

    route({
      method: 'POST',
      url: `${base}/reveal/*`,
      action: 'vault.secret.reveal',
      run: 'read',
      mustExist: NO_SUCH_SECRET,
      reauth: true,
      schema: { params: pathParams, querystring: versionQuery, response: { 200: revealOut } },
      // One read: the version and its sealed value with the secret's tags; opened only after the decision.
      resource: async ({ params, query }): Promise<Loaded<SealedVersion>> => {
        try {
          const found = await vault.findForReveal(db, params.ws, params['*'], query.version);
          return { ref: found.resource, row: found };
        } catch (err) {
          if (isAppError(err) && err.code === 'NOT_FOUND') return { ref: secretRef(params.ws, params['*']) };
          throw err;
        }
      },
      handler: ({ input, row, reply, event }) => {
        event.details({ version: row.version });
        const out = vault.open(input.params.ws, input.params['*'], row);
        void reply.header('cache-control', 'no-store');
        return out; // the pipeline commits the event before this leaves (AUDIT_UNAVAILABLE otherwise)
      },
    }),

    route({
      method: 'GET',
      url: `${base}/metadata/*`,
      action: 'vault.secret.read',
      run: 'read',
      resource: secret,
      mustExist: NO_SUCH_SECRET,
      schema: { params: pathParams, response: { 200: metadataOut } },
      handler: async ({ input, event }) => {
        event.details({ metadata: true });
        return vault.metadata(db, input.params.ws, input.params['*']);
      },
    }),

    route({
      method: 'PATCH',
      url: `${base}/metadata/*`,
      action: 'vault.secret.update',
      run: 'write',
      mustExist: NO_SUCH_SECRET,
      schema: {
        params: pathParams,
        body: metadataInputSchema,
        response: { 200: metadataUpdateAnswer },
      },
      resource: async ({ params, body }) => {
        const prior = await vault.resourceOf(db, params.ws, params['*']);
        return {
          ref: secretRef(params.ws, params['*'], [...new Set([...(prior?.tags ?? []), ...(body.tags ?? [])])]),
          row: prior,
        };
      },
      handler: async ({ trx, actor, input, event }) => {
        const result = await vault.updateMetadata(trx, actor, input.params.ws, input.params['*'], input.body);
        event.details({
          metadata: Object.keys(input.body),
          ...(result.pruned.length ? { pruned: result.pruned } : {}),
        });
        return { path: input.params['*'], pruned: result.pruned };
      },
    }),

    route({
      method: 'DELETE',
      url: `${base}/metadata/*`,
      action: 'vault.secret.destroy',
      run: 'write',
      resource: secret,
      mustExist: NO_SUCH_SECRET,
      reauth: true,
      schema: {
        params: pathParams,
        response: { 200: destroyAllAnswer },
      },
      handler: async ({ trx, input, event }) => {
        const versions = await vault.destroySecret(trx, input.params.ws, input.params['*']);
        event.details({ all: true, currentVersion: versions });
        return { path: input.params['*'], destroyed: true as const, versions };
      },
    }),

    versionsChange(
      'delete',
      'vault.secret.delete',
      z.strictObject({ versions: versionList.optional() }),
      (trx, a, w, p, v) => vault.deleteVersions(trx, a, w, p, v),
    ),
    versionsChange('undelete', 'vault.secret.undelete', z.strictObject({ versions: versionList }), (trx, a, w, p, v) =>
      vault.undeleteVersions(trx, a, w, p, v!),
    ),
    versionsChange('destroy', 'vault.secret.destroy', z.strictObject({ versions: versionList }), (trx, a, w, p, v) =>
      vault.destroyVersions(trx, a, w, p, v!),
    ),

    route({
      method: 'POST',
      url: `${base}/rollback/*`,
      action: 'vault.secret.update',
      run: 'write',
      resource: secret,
      mustExist: NO_SUCH_SECRET,
      schema: {
        params: pathParams,
        body: rollbackBody,
        response: { 200: writeOut },
      },
      handler: async ({ trx, actor, input, event }) => {
        const result = await vault.rollback(
          trx,
          actor,
          input.params.ws,
          input.params['*'],
          input.body.version,
          input.body.cas,
        );
        event.details({ rollbackFrom: input.body.version, version: result.version });
        return { path: input.params['*'], ...result };
      },
    }),

    route({
      method: 'GET',
      url: '/api/v1/workspaces/:ws/secrets-due',
      action: 'vault.secret.list',
      run: 'read',
      resource: 'workspace',
      schema: {
        params: workspaceParams,
        querystring: secretsDueQuery,
        response: { 200: dueOut },
      },
      handler: async ({ input, allowed, event }) => {
        const { ws: workspaceId } = input.params;
        const all = await vault.due(db, workspaceId, input.query.withinDays * 86_400);
        const secrets = all.filter((s) => allowed('vault.secret.list', secretRef(workspaceId, s.path, s.tags)));
        event.details({ due: secrets.length, withinDays: input.query.withinDays });
        return { secrets };
      },
    }),
  ];
}
