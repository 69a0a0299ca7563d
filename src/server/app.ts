/**
 * `createApp(deps)`: the HTTPS application with every plugin and route, not yet listening.
 * Everything it needs comes in through `deps`; it reads no environment and starts no timers, so
 * tests build the same app the server runs.
 */
import { randomUUID } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from '../core/config.ts';
import type { DatabaseHandle } from '../db/database.ts';
import { keysRoutes, unsealRoutes, type KeysService, type WorkspaceKeys } from '../modules/keys/index.ts';
import { auditRoutes, type AuditModule } from '../modules/audit/index.ts';
import type { AuditContext } from './audit-context.ts';
import { registerConsole } from './console.ts';
import { registerHealthRoutes } from './health.routes.ts';
import { registerOpenApi, registerOpenApiRoute } from './openapi.ts';
import { registerAuth } from './plugins/auth.ts';
import { registerPipeline, registerRoutes } from './pipeline.ts';
import {
  createAccessModule,
  createNetworkAllowlists,
  networkAllowlistRoutes,
  type AccessControl,
} from '../modules/access/index.ts';
import { vaultRoutes } from '../modules/vault/index.ts';
import type { Actor } from '../core/actor.ts';
import type { ResourceRef } from '../core/resource.ts';
import {
  datasetsRoutes,
  datasetUploadRoutes,
  exportDataKeys,
  type DatasetsService,
  type UploadSessions,
} from '../modules/datasets/index.ts';
import { drivesRoutes, type DrivesService } from '../modules/drives/index.ts';
import { queryRoutes, type QueryService } from '../modules/query/index.ts';
import { profilingRoutes, type ProfilingService } from '../modules/profiling/index.ts';
import { policiesRoutes, type PoliciesService } from '../modules/policies/index.ts';
import { backupsRoutes, type BackupsService } from '../modules/backups/index.ts';
import { scimRoutes, ssoPublicRoutes, ssoRoutes, type SsoModule } from '../modules/sso/index.ts';
import { retentionRoutes, type RetentionService } from '../modules/retention/index.ts';
import type { VaultService } from '../modules/vault/index.ts';
import fastifyCookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import {
  accountRoutes,
  identityRoutes,
  memberRoutes,
  sessionRoutes,
  type IdentityModule,
} from '../modules/identity/index.ts';
import { removeSetupTokenFile } from '../installation/setup-token.ts';
import { instrumentApp, type Metrics } from './metrics.ts';
import { readConnectionsThroughStreams } from './plugins/connection-reads.ts';
import {
  MAX_PARAM_LENGTH,
  registerProblemHandler,
  sendClientErrorProblem,
  sendFrameworkErrorProblem,
} from './plugins/problem.ts';
import { registerSecurityHeaders } from './plugins/security-headers.ts';
import { registerClientNetwork, trustProxyFor } from './plugins/client-network.ts';
import { parseClientNetwork } from '../core/net/client-allowlist.ts';
import { collectRoutes, type RouteEntry } from './route-access.ts';
import { serverTlsOptions, type TlsMaterial } from '../installation/tls.ts';
import { postureRoutes } from '../modules/posture/index.ts';
import type { PostureWiring } from './posture-wiring.ts';
import { tasksRoutes, type TaskLogs } from '../modules/tasks/index.ts';

export interface AppDeps {
  config: Readonly<Config>;
  logger: Logger;
  database: DatabaseHandle;
  tls: Pick<TlsMaterial, 'cert' | 'key'>;
  metrics: Metrics;
  keys: KeysService;
  workspaceKeys: WorkspaceKeys;
  audit: AuditContext;
  /** The audit trail itself (search, verify) for the audit routes. */
  auditTrail: Pick<AuditModule, 'search' | 'verify'>;
  identity: IdentityModule;
  vault: VaultService;
  drives: DrivesService;
  datasets: DatasetsService;
  uploads: UploadSessions;
  query: QueryService;
  /** Data policies: always wired (every read path and the raw download go through them). */
  policies: PoliciesService;
  backups: BackupsService;
  sso: SsoModule;
  retention: RetentionService;
  /** Decisions with a concrete resource (tags, workspace policies), used by services' second check. */
  /** The one Cedar access control (built-in + workspace policies) every decision goes through. */
  accessControl: AccessControl;
  /** Extra route plugins registered with the built-in ones (the audit routes, probes in tests). */
  routes?: ((app: FastifyInstance) => void | Promise<void>)[];
  verifyOperatorToken: (presented: string) => boolean;
  /** Security posture and evidence packs. */
  posture: Pick<PostureWiring, 'posture' | 'evidence'>;
  /** Task runs and their logs on the system drive. */
  tasks: TaskLogs;
  profiling: ProfilingService;
  /** Extra route plugins (used by tests to add probes). Registered after the built-in ones. */
  extraRoutes?: (app: FastifyInstance) => void | Promise<void>;
  /** A built console (web/dist) to serve under `/`; none: the API alone. */
  consoleDir?: string | undefined;
}

export interface App {
  fastify: FastifyInstance;
  routes: RouteEntry[];
}

/** Accept a caller's request id only when it is short and plain; otherwise make our own. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

export async function createApp(deps: AppDeps): Promise<App> {
  const network = parseClientNetwork(
    deps.config.STRONGROOM_ALLOWED_CLIENT_CIDRS,
    deps.config.STRONGROOM_TRUSTED_PROXIES,
  );
  const networkLists = createNetworkAllowlists({ db: deps.database.db, network });
  const fastify = Fastify({
    https: serverTlsOptions(deps.tls),
    loggerInstance: deps.logger,
    bodyLimit: deps.config.STRONGROOM_BODY_LIMIT,
    requestIdHeader: false, // genReqId below decides whether to accept the caller's id
    genReqId: (req) => {
      const offered = req.headers['x-request-id'];
      return typeof offered === 'string' && SAFE_REQUEST_ID.test(offered) ? offered : randomUUID();
    },
    return503OnClosing: true,
    // X-Forwarded-For only from STRONGROOM_TRUSTED_PROXIES (request.ip is then the client's).
    trustProxy: trustProxyFor(network),
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    clientErrorHandler: sendClientErrorProblem,
    frameworkErrors: sendFrameworkErrorProblem,
    // Every route validates and serializes with zod (set again just below, as before). Given
    // here too, Fastify never loads its default compilers (Ajv and fast-json-stringify, ~0.4 s
    // of a start's CPU on these machines), which no route would use.
    // (Fastify's option types name only its own Ajv and fast-json-stringify factories.)
    schemaController: {
      compilersFactory: {
        buildValidator: (() => validatorCompiler) as never,
        buildSerializer: (() => serializerCompiler) as never,
      },
    },
  }) as unknown as FastifyInstance; // the https server type is an implementation detail here
  readConnectionsThroughStreams(fastify.server as unknown as HttpsServer);
  const routes = collectRoutes(fastify);
  fastify.setValidatorCompiler(validatorCompiler);
  fastify.setSerializerCompiler(serializerCompiler);
  fastify.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await registerSecurityHeaders(fastify);
  await registerOpenApi(fastify);
  registerProblemHandler(fastify);
  instrumentApp(fastify, deps.metrics);

  await fastify.register(fastifyCookie);
  // Per-address limits for the public routes that declare one (their body is a credential:
  // unseal share, setup token). In-process counters: each instance limits on its own.
  await fastify.register(rateLimit, { global: false });
  await registerPipeline(fastify, { audit: deps.audit });
  // First of the request hooks that decide: a client outside the allowlist gets nothing further.
  registerClientNetwork(fastify, { lists: networkLists, audit: deps.audit });
  registerAuth(fastify, {
    verifyOperatorToken: deps.verifyOperatorToken,
    isSealed: async () => (await deps.keys.state()) !== 'unsealed',
    audit: deps.audit,
    identity: deps.identity,
    authorize: (actor, action) => deps.accessControl.authorize(actor, action),
  });

  registerHealthRoutes(fastify, deps.database.db);
  registerOpenApiRoute(fastify);
  const pipeline = {
    audit: deps.audit,
    db: deps.database.db,
    authorize: (actor: Actor, action: string, resource?: ResourceRef) =>
      deps.accessControl.authorize(actor, action, resource),
  };
  registerRoutes(
    fastify,
    keysRoutes({
      keys: deps.keys,
      workspaceKeys: deps.workspaceKeys,
      config: deps.config,
      exportDataKeys: (workspaceId) => exportDataKeys(deps.database.db, deps.workspaceKeys, workspaceId),
      openTaskLog: (kind, o) => deps.tasks.start(kind, o),
    }),
    pipeline,
  );
  registerRoutes(fastify, unsealRoutes({ keys: deps.keys }), pipeline);
  registerRoutes(
    fastify,
    sessionRoutes({
      identity: deps.identity,
      onSetupComplete: () => removeSetupTokenFile(deps.config.STRONGROOM_HOME),
    }),
    pipeline,
  );
  registerRoutes(fastify, identityRoutes({ identity: deps.identity }), pipeline);
  registerRoutes(fastify, accountRoutes({ identity: deps.identity }), pipeline);
  registerRoutes(fastify, memberRoutes({ identity: deps.identity }), pipeline);
  registerRoutes(fastify, vaultRoutes({ vault: deps.vault, db: deps.database.db }), pipeline);
  registerRoutes(
    fastify,
    createAccessModule({ db: deps.database.db, accessControl: deps.accessControl }).routes,
    pipeline,
  );
  registerRoutes(
    fastify,
    auditRoutes({
      audit: deps.auditTrail,
      membersOf: (workspaceId) => deps.identity.account.memberIds(workspaceId),
      emailsOf: (workspaceId, ids) => emailsOf(deps.identity, workspaceId, ids),
    }),
    pipeline,
  );
  registerRoutes(fastify, backupsRoutes({ backups: deps.backups }), pipeline);
  registerRoutes(
    fastify,
    drivesRoutes({
      drives: deps.drives,
      usageOf: async (workspaceId, name) => ({
        ...(await deps.datasets.bytesOnDrive(workspaceId, name)),
        datasets: await deps.datasets.datasetsOnDrive(deps.database.db, workspaceId, name),
      }),
    }),
    pipeline,
  );
  registerRoutes(fastify, ssoRoutes({ sso: deps.sso, audit: deps.audit }), pipeline);
  registerRoutes(fastify, ssoPublicRoutes({ sso: deps.sso, audit: deps.audit }), pipeline);
  registerRoutes(fastify, scimRoutes({ sso: deps.sso, audit: deps.audit }), pipeline);
  registerRoutes(fastify, retentionRoutes({ retention: deps.retention }), pipeline);
  registerRoutes(fastify, networkAllowlistRoutes(networkLists), pipeline);
  registerRoutes(
    fastify,
    datasetsRoutes({
      datasets: deps.datasets,
      rawReadGuard: deps.policies.rawReadGuard,
      tagRemovalGuard: deps.policies.tagRemovalGuard,
      hiddenColumns: async (actor, ws, name, tags) => {
        const plan = await deps.policies.lookup.planFor(actor, { workspaceId: ws, dataset: name, tags }, 'sr_0_');
        return plan ? [...Object.keys(plan.why.hidden), ...plan.exclude].map((c) => c.toLowerCase()) : [];
      },
    }),
    pipeline,
  );
  registerRoutes(
    fastify,
    queryRoutes({
      query: deps.query,
      datasets: deps.datasets,
      maxRows: deps.config.STRONGROOM_QUERY_MAX_ROWS,
      // Simulation of a named member (`as: "user:<id>"`): who they are in the workspace now.
      readerOf: async (workspaceId, userId) => {
        const u = await deps.identity.users.find(userId);
        if (!u || u.status !== 'active') return undefined;
        const roles = await deps.identity.rolesFor(
          { kind: 'user', id: u.id, attributes: u.attributes, mfaEnrolled: u.mfaEnabled, privileged: false },
          workspaceId,
        );
        if (roles.length === 0) return undefined;
        return {
          id: u.id,
          kind: 'user',
          workspace: workspaceId,
          roles,
          attributes: { ...u.attributes, mfa: u.mfaEnabled },
        };
      },
    }),
    pipeline,
  );
  registerRoutes(fastify, tasksRoutes({ tasks: deps.tasks }), pipeline);
  registerRoutes(fastify, postureRoutes({ posture: deps.posture.posture, evidence: deps.posture.evidence }), pipeline);
  registerRoutes(fastify, profilingRoutes({ profiling: deps.profiling, datasets: deps.datasets }), pipeline);
  registerRoutes(
    fastify,
    datasetUploadRoutes({
      datasets: deps.datasets,
      uploads: deps.uploads,
      maxUploadBytes: deps.config.STRONGROOM_UPLOAD_MAX_BYTES,
    }),
    pipeline,
  );
  registerRoutes(fastify, policiesRoutes({ policies: deps.policies }), pipeline);
  for (const plugin of deps.routes ?? []) await fastify.register(async (scope) => plugin(scope));
  if (deps.consoleDir && !(await registerConsole(fastify, deps.consoleDir)))
    deps.logger.warn({ dir: deps.consoleDir }, 'the web console build could not be read; serving the API only');
  if (deps.extraRoutes) await fastify.register(async (scope) => deps.extraRoutes?.(scope));

  await fastify.ready();
  return { fastify, routes };
}

/** Emails of users for audit exports: members of `workspaceId` only, or anyone for the installation's trail. */
async function emailsOf(
  identity: IdentityModule,
  workspaceId: string | undefined,
  ids: string[],
): Promise<Map<string, string>> {
  if (workspaceId !== undefined) {
    const wanted = new Set(ids);
    return new Map(
      (await identity.users.list(workspaceId)).filter((u) => wanted.has(u.id)).map((u) => [u.id, u.email]),
    );
  }
  const found = await Promise.all(ids.map((id) => identity.users.find(id)));
  return new Map(found.flatMap((u) => (u ? [[u.id, u.email] as [string, string]] : [])));
}
