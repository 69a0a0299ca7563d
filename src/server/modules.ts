/**
 * Builds every module from the configuration and an open, migrated database, in dependency order:
 * keys (unsealed at start when the provider allows) → audit → identity, vault, access → drives →
 * datasets. Starts nothing that listens; background work is `jobs.ts`'s.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import { createBarrier, type Barrier } from '../core/crypto/barrier.ts';
import type { DatabaseHandle } from '../db/database.ts';
import { createEgressGuardFromConfig } from '../adapters/net/egress-guard.ts';
import { instanceId } from '../installation/instance-id.ts';
import { ensureOperatorToken, operatorTokenVerifier, readOperatorToken } from '../installation/operator-token.ts';
import { rootKeyProviderFor } from '../installation/root-key.ts';
import { removeSetupTokenFile, writeSetupTokenFile } from '../installation/setup-token.ts';
import {
  CEDAR_CACHE_FILE,
  createAccessControl,
  reload as reloadAccessPolicies,
  type AccessControl,
} from '../modules/access/index.ts';
import { createAuditModule, type AuditModule } from '../modules/audit/index.ts';
import {
  createDatasetsService,
  createLeaseHolder,
  createUploadSessions,
  type DatasetsService,
  type LeaseHolder,
  type UploadSessions,
} from '../modules/datasets/index.ts';
import { createDrivesService, type DrivesService } from '../modules/drives/index.ts';
import {
  createIdentityModule,
  createSessionCache,
  wireSessionCache,
  type IdentityModule,
} from '../modules/identity/index.ts';
import {
  createKeysService,
  createWorkspaceKeys,
  recoverRootKeyRotation,
  type KeysService,
  type WorkspaceKeys,
} from '../modules/keys/index.ts';
import { createVaultService, type VaultService } from '../modules/vault/index.ts';
import { createQueryModule, openParser, type QueryService } from '../modules/query/index.ts';
import { createPoliciesService, type PoliciesService } from '../modules/policies/index.ts';
import { createBackupsService, type BackupsService } from '../modules/backups/index.ts';
import { createSsoModule, type SsoModule } from '../modules/sso/index.ts';
import { createRetentionService, type RetentionService } from '../modules/retention/index.ts';
import { createAuditContext, type AuditContext } from './audit-context.ts';
import { buildPosture, type PostureWiring } from './posture-wiring.ts';
import { buildTaskLogs } from './system-drive.ts';
import type { TaskLogs } from '../modules/tasks/index.ts';
import { createProfilingService, type ProfilingService } from '../modules/profiling/index.ts';

export interface Modules {
  barrier: Barrier;
  keys: KeysService;
  workspaceKeys: WorkspaceKeys;
  /** The audit module (chain, search, verify). */
  auditTrail: AuditModule;
  /** Fail-closed recording for requests, over `auditTrail`. */
  audit: AuditContext;
  identity: IdentityModule;
  vault: VaultService;
  accessControl: AccessControl;
  drives: DrivesService;
  datasets: DatasetsService;
  uploads: UploadSessions;
  query: QueryService;
  policies: PoliciesService;
  leases: LeaseHolder;
  backups: BackupsService;
  sso: SsoModule;
  retention: RetentionService;
  verifyOperatorToken: (presented: string) => boolean;
  /** The one-time setup token issued at this start (no users yet), and the 0600 file holding it. */
  setup?: { token: string; file: string };
  /** Security posture (controls, evidence) and the audit streamer (SIEM sinks). */
  posture: PostureWiring;
  /** Task runs and their encrypted logs on the system drive. */
  tasks: TaskLogs;
  /** Stored profiles (background job), column tags, profiles through the reader's view. */
  profiling: ProfilingService;
}

export interface BuildOptions {
  /** Injected clock for identity and vault (tests move time). */
  now?: () => Date;
  /** Where the one-time setup token is printed at a first start without users (default stderr). */
  setupTokenOut?: (line: string) => void;
}

/**
 * First start of a file-provider installation creates the root key and keyring; HSM and Shamir
 * installations must be prepared with `strongroom init`. Shamir stays sealed until unsealed.
 */
async function unsealAtStart(keys: KeysService, config: Config, logger: Logger): Promise<void> {
  const state = await keys.state();
  if (state === 'uninitialized') {
    if (keys.provider.kind !== 'file') {
      throw new Error(`no keyring yet for the ${keys.provider.kind} root key provider: run 'strongroom init' first`);
    }
    await keys.initialize();
    logger.info('created the root key and the first keyring term');
    return;
  }
  if (await recoverRootKeyRotation(keys, config)) {
    logger.warn('finished an interrupted root key rotation');
    return;
  }
  if (!(await keys.autoUnseal())) logger.warn('started SEALED: unseal with strongroom operator unseal');
}

/** Every module, built; `closers` undo what needs undoing (in reverse order). */
export async function buildModules(
  config: Readonly<Config>,
  database: DatabaseHandle,
  logger: Logger,
  opts: BuildOptions,
  closers: (() => Promise<void>)[],
): Promise<Modules> {
  const barrier = createBarrier();
  const keys = createKeysService({ db: database.db, barrier, provider: rootKeyProviderFor(config), logger });
  await unsealAtStart(keys, config, logger);
  await ensureOperatorToken(config.STRONGROOM_HOME);
  const verifyOperatorToken = operatorTokenVerifier(await readOperatorToken(config.STRONGROOM_HOME));

  const auditModule = createAuditModule({
    db: database.db,
    barrier,
    logDir: path.join(config.STRONGROOM_HOME, 'logs'),
    onError: (err, what) => logger.error({ err, what }, 'audit background work failed'),
  });
  auditModule.start();
  keys.onSeal(() => auditModule.forgetKeys());
  closers.push(() => auditModule.stop());
  const audit = createAuditContext(database.db, auditModule);

  const workspaceKeys = createWorkspaceKeys(database.db, barrier);
  // Live sessions cached for ≤ 1 s, dropped on every auth-table commit here and on NOTIFY from
  // other servers (modules/identity/identity.session-cache.ts).
  const sessionCache = createSessionCache();
  closers.push(wireSessionCache(sessionCache, database));
  const identity = createIdentityModule({
    db: database.db,
    sessionCache,
    barrier,
    config,
    ...(opts.now ? { now: opts.now } : {}),
    passwordPolicy: (userId) => sso.passwordPolicy(userId), // SSO enforcement (sso is built below)
  });
  const egressGuard = createEgressGuardFromConfig(config);
  const sso: SsoModule = createSsoModule({
    db: database.db,
    barrier,
    identity,
    guard: egressGuard,
    publicUrl: config.STRONGROOM_PUBLIC_URL,
    ...(opts.now ? { now: opts.now } : {}),
  });
  const setupToken = await identity.issueSetupToken();
  let setup: Modules['setup'];
  if (setupToken) {
    setup = { token: setupToken, file: await writeSetupTokenFile(config.STRONGROOM_HOME, setupToken) };
    (opts.setupTokenOut ?? ((l) => process.stderr.write(l)))(
      `\nNo users yet. Create the first owner within 1 hour with this one-time setup token (also in ${setup.file}):\n  ${setupToken}\nOpen the console in a browser, or POST /api/v1/setup {token, email, password, displayName} (or use 'strongroom init --admin-email').\n\n`,
    );
    logger.warn('no users yet: a one-time setup token was printed to standard error');
  } else await removeSetupTokenFile(config.STRONGROOM_HOME);
  const vault = createVaultService({ db: database.db, barrier, ...(opts.now ? { now: opts.now } : {}) });
  // One access control for every decision: built-in policies validated at start (or known to have
  // validated, from the data directory's cache keyed by their hash) + workspace policies.
  const accessControl = createAccessControl({ cacheFile: path.join(config.STRONGROOM_HOME, CEDAR_CACHE_FILE) });
  const policyLoad = await reloadAccessPolicies(database.db, accessControl);
  if (policyLoad.locked.length > 0)
    logger.error(
      { locked: policyLoad.locked.map((l) => l.workspace) },
      'stored workspace policies do not validate; those workspaces are locked',
    );
  const drives = createDrivesService({
    db: database.db,
    vault,
    guard: egressGuard,
    localRoot: config.STRONGROOM_LOCAL_DRIVE_ROOT ?? path.join(config.STRONGROOM_HOME, 'drives'),
    consoleOrigin: config.STRONGROOM_PUBLIC_URL ? new URL(config.STRONGROOM_PUBLIC_URL).origin : undefined,
    usage: (exec, workspaceId, name) => datasets.usageOfDrive(exec, workspaceId, name),
    holders: (exec, workspaceId, name) => datasets.datasetsOnDrive(exec, workspaceId, name),
  });
  await drives.ensureDefaults();
  const posture = buildPosture(config, {
    database,
    logger,
    guard: createEgressGuardFromConfig(config),
    keys,
    audit: auditModule,
    vault,
    drives,
    later: () => ({ backups, retention }),
    installationId: await instanceId(config.STRONGROOM_HOME),
    ...(opts.now ? { now: opts.now } : {}),
  });
  posture.streamer?.start();
  const tasks = buildTaskLogs(config, {
    database,
    barrier,
    drives,
    audit: auditModule,
    ...(opts.now ? { now: opts.now } : {}),
  });
  closers.push(async () => posture.streamer?.stop());
  const leases = createLeaseHolder({
    instanceId: await instanceId(config.STRONGROOM_HOME),
    ttlMs: config.STRONGROOM_UPLOAD_LEASE_SECONDS * 1000,
  });
  const datasets: DatasetsService = createDatasetsService({
    db: database.db,
    drives,
    workspaceKeys,
    maxUploadBytes: config.STRONGROOM_UPLOAD_MAX_BYTES,
    leases,
  });
  const uploads: UploadSessions = createUploadSessions({
    db: database.db,
    drives,
    workspaceKeys,
    datasets,
    maxUploadBytes: config.STRONGROOM_UPLOAD_MAX_BYTES,
    ttlMs: config.STRONGROOM_UPLOAD_SESSION_SECONDS * 1000,
  });
  const policyParser = await openParser();
  closers.push(async () => policyParser.close());
  const policies = createPoliciesService({
    db: database.db,
    barrier,
    authorize: (actor, action, ref) => accessControl.authorize(actor, action, ref).allowed,
    serialize: (sql) => policyParser.serialize(sql),
    tagsOf: async (trx, workspaceId, name) => (await datasets.findIn(trx, workspaceId, name))?.tags ?? [],
  });
  keys.onSeal(() => policies.forgetKeys());
  const query = await createQueryModule({
    datasets,
    scratchDir: config.STRONGROOM_QUERY_SCRATCH_DIR,
    limits: { memoryMb: config.STRONGROOM_QUERY_MEMORY_MB, threads: config.STRONGROOM_QUERY_THREADS },
    timeoutMs: config.STRONGROOM_QUERY_TIMEOUT_MS,
    maxConcurrent: config.STRONGROOM_QUERY_CONCURRENCY,
    cacheBytes: config.STRONGROOM_QUERY_CACHE_MB * 1024 * 1024,
    policies: policies.lookup,
  });
  closers.push(query.close);
  const profiling = createProfilingService({
    db: database.db,
    query: query.service,
    datasets,
    policies: policies.lookup,
    piiDefaults: { apply: policies.applyPiiDefault },
    tasks,
    k: 10,
    onError: (err) => logger.error({ err }, 'the profiling queue failed'),
    lease: {
      owner: leases.owner,
      ms: config.STRONGROOM_PROFILE_LEASE_SECONDS * 1000,
      isDead: (o) => leases.isDead(o),
    },
  });
  datasets.onCommitted((workspaceId, name, v) => profiling.versionCommitted(workspaceId, name, v));
  datasets.onDeleting((trx, d) => profiling.versionsDeleting(trx, d));
  closers.push(() => profiling.stop());
  const backups = createBackupsService({
    db: database.db,
    databaseKind: database.kind,
    barrier,
    keys,
    openDrive: (workspaceId, name) => drives.open(workspaceId, name),
    owner: leases.owner,
    isDeadOwner: (o) => leases.isDead(o),
    openTaskLog: (kind) => tasks.start(kind),
    ...(opts.now ? { now: opts.now } : {}),
  });
  const retention = createRetentionService({
    db: database.db,
    audit: auditModule,
    workspaceKeys,
    taskLogDir: path.join(config.STRONGROOM_HOME, 'logs', 'tasks'),
    ...(opts.now ? { now: opts.now } : {}),
  });
  return {
    barrier,
    keys,
    workspaceKeys,
    auditTrail: auditModule,
    audit,
    identity,
    vault,
    accessControl,
    drives,
    datasets,
    uploads,
    query: query.service,
    policies,
    leases,
    backups,
    sso,
    retention,
    verifyOperatorToken,
    ...(setup ? { setup } : {}),
    posture,
    tasks,
    profiling,
  };
}
