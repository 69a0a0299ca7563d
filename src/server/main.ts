/**
 * Wiring: from a parsed config to a running server — data directory, TLS material, database and
 * migrations, the HTTPS app, the redirect and metrics listeners. Returns a handle that reloads TLS
 * and shuts everything down in order.
 */
import { DEFAULT_CONSOLE_DIR, consoleBuilt } from './console.ts';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server as HttpsServer } from 'node:https';
import type { DestinationStream, Logger } from 'pino';
import type { Config } from '../core/config.ts';
import { openDatabase, type DatabaseHandle } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { createBarrier } from '../core/crypto/barrier.ts';
import { createAccessControl, reload as reloadAccessPolicies } from '../modules/access/index.ts';
import { createVaultService, type VaultService } from '../modules/vault/index.ts';
import { createDrivesService, type DrivesService } from '../modules/drives/index.ts';
import { createDatasetsService, createLeaseHolder, createUploadSessions, type DatasetsService, type UploadSessions } from '../modules/datasets/index.ts';
import { instanceId } from '../installation/instance-id.ts';
import { createEgressGuardFromConfig } from '../adapters/net/egress-guard.ts';
import { createAuditModule, type AuditModule } from '../modules/audit/index.ts';
import { createIdentityModule, type IdentityModule } from '../modules/identity/index.ts';
import { createKeysService, createWorkspaceKeys, type KeysService, type WorkspaceKeys } from '../modules/keys/index.ts';
import { createApp, type App, type AppDeps } from './app.ts';
import { createAuditContext } from './audit-context.ts';
import { ensureOperatorToken, operatorTokenVerifier, readOperatorToken } from '../installation/operator-token.ts';
import { recoverRootKeyRotation } from '../modules/keys/index.ts';
import { rootKeyProviderFor } from '../installation/root-key.ts';
import { createLogger } from './logger.ts';
import { createMetrics, startMetricsServer, type MetricsServer } from './metrics.ts';
import { startRedirectServer, type RedirectServer } from './redirect.ts';
import { ensureSelfSignedCert, loadTlsMaterial, secureContextOptions, type TlsFiles, type TlsMaterial } from '../installation/tls.ts';
import { databaseSpec, prepareHome, tlsFilesFor } from '../installation/home.ts';

export interface RunningServer {
  app: App;
  keys: KeysService;
  workspaceKeys: WorkspaceKeys;
  audit: AuditModule;
  identity: IdentityModule;
  vault: VaultService;
  drives: DrivesService;
  datasets: DatasetsService;
  uploads: UploadSessions;
  logger: Logger;
  database: DatabaseHandle;
  httpsPort: number;
  httpPort: number | undefined;
  metricsPort: number | undefined;
  url: string;
  tlsFiles: TlsFiles;
  tls: TlsMaterial;
  /** Re-read the certificate files and use them for new handshakes; existing connections stay. */
  reloadTls(): Promise<TlsMaterial>;
  /** Stop accepting, finish in-flight requests (bounded by the shutdown timeout), close the DB. */
  close(): Promise<void>;
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

export async function startServer(
  config: Readonly<Config>,
  opts: {
    logDestination?: DestinationStream;
    database?: DatabaseHandle;
    extraRoutes?: AppDeps['extraRoutes'];
    /** Injected clock for the identity module (tests move time to check session expiry). */
    now?: () => Date;
    /** Where the one-time setup token is printed at a first start without users (default stderr). */
    setupTokenOut?: (line: string) => void;
  } = {},
): Promise<RunningServer> {
  const logger = createLogger(config.STRONGROOM_LOG_LEVEL, opts.logDestination);
  await prepareHome(config.STRONGROOM_HOME);
  const tlsFiles = tlsFilesFor(config);
  if (tlsFiles.selfSigned && (await ensureSelfSignedCert(config.STRONGROOM_HOME))) {
    logger.info({ certFile: tlsFiles.certFile }, 'generated a self-signed TLS certificate');
  }
  let tls = await loadTlsMaterial(tlsFiles);

  const database = opts.database ?? (await openDatabase(databaseSpec(config)));
  const closers: (() => Promise<void>)[] = [() => database.close()];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch((err) => logger.error({ err }, 'shutdown step failed'));
  };
  try {
    const applied = await migrateToLatest(database.db as never);
    if (applied.length > 0) logger.info({ applied }, 'database migrated');

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
    const identity = createIdentityModule({ db: database.db, barrier, config, ...(opts.now ? { now: opts.now } : {}) });
    const setupToken = await identity.issueSetupToken();
    if (setupToken) {
      (opts.setupTokenOut ?? ((l) => process.stderr.write(l)))(
        `\nNo users yet. Create the first owner within 1 hour with this one-time setup token:\n  ${setupToken}\nPOST /api/v1/setup {token, email, password, displayName} (or use 'strongroom init --admin-email').\n\n`,
      );
      logger.warn('no users yet: a one-time setup token was printed to standard error');
    }
    const vault = createVaultService({ db: database.db, barrier, ...(opts.now ? { now: opts.now } : {}) });
    // One access control for every decision: built-in policies validated at start + workspace policies.
    const accessControl = createAccessControl();
    const policyLoad = await reloadAccessPolicies(database.db, accessControl);
    if (policyLoad.locked.length > 0) logger.error({ locked: policyLoad.locked.map((l) => l.workspace) }, 'stored workspace policies do not validate; those workspaces are locked');
    const drives = createDrivesService({
      db: database.db,
      vault,
      guard: createEgressGuardFromConfig(config),
      localRoot: config.STRONGROOM_LOCAL_DRIVE_ROOT ?? path.join(config.STRONGROOM_HOME, 'drives'),
      consoleOrigin: new URL(config.STRONGROOM_PUBLIC_URL ?? `https://localhost:${config.STRONGROOM_HTTPS_PORT}`).origin,
      usage: (exec, ws, name) => datasets.usageOfDrive(exec, ws, name),
    });
    await drives.ensureDefaults();
    const leases = createLeaseHolder({ instanceId: await instanceId(config.STRONGROOM_HOME), ttlMs: config.STRONGROOM_UPLOAD_LEASE_SECONDS * 1000 });
    const datasets: DatasetsService = createDatasetsService({ db: database.db, drives, workspaceKeys, maxUploadBytes: config.STRONGROOM_UPLOAD_MAX_BYTES, leases });
    const uploads: UploadSessions = createUploadSessions({ db: database.db, drives, workspaceKeys, datasets, maxUploadBytes: config.STRONGROOM_UPLOAD_MAX_BYTES, ttlMs: config.STRONGROOM_UPLOAD_SESSION_SECONDS * 1000 });
    // Uploads whose lease is free (a crash, kill -9: at start, our predecessor's at once) and
    // unfinished deletions: at start and then every lease period.
    const orphanMs = config.STRONGROOM_UPLOAD_ORPHAN_SECONDS * 1000;
    const sweep = () => {
      if (barrier.isSealed) return;
      uploads.cleanup().then(
        (r) => r.removed + r.failed > 0 && logger.info(r, 'dataset cleanup removed expired upload sessions'),
        (err: unknown) => logger.error({ err }, 'upload session cleanup failed'),
      );
      datasets.cleanup(orphanMs).then(
        (r) => r.removed + r.failed > 0 && logger.info(r, 'dataset cleanup removed leftovers of unfinished uploads and deletions'),
        (err: unknown) => logger.error({ err }, 'dataset cleanup failed'),
      );
    };
    sweep();
    const sweeper = setInterval(sweep, Math.min(Math.max(15_000, leases.ttlMs), 3_600_000));
    sweeper.unref();
    closers.push(async () => clearInterval(sweeper));
    if (config.STRONGROOM_DRIVE_HEALTH_SECONDS > 0) {
      let running = false;
      const timer = setInterval(() => {
        if (running || barrier.isSealed) return;
        running = true;
        drives
          .refreshHealth()
          .then((r) => logger.info(r, 'drive health refreshed'), (err: unknown) => logger.error({ err }, 'drive health check failed'))
          .finally(() => (running = false));
      }, config.STRONGROOM_DRIVE_HEALTH_SECONDS * 1000);
      timer.unref();
      closers.push(async () => clearInterval(timer));
    }
    const metrics = createMetrics();
    const consoleReady = consoleBuilt(DEFAULT_CONSOLE_DIR);
    if (!consoleReady) logger.warn({ dir: DEFAULT_CONSOLE_DIR }, 'the web console is not built (npm run build:console); serving the API only');
    const app = await createApp({
      config,
      logger,
      database,
      tls,
      metrics,
      keys,
      workspaceKeys,
      audit,
      auditTrail: auditModule,
      identity,
      vault,
      drives,
      datasets,
      uploads,
      accessControl,
      verifyOperatorToken,
      extraRoutes: opts.extraRoutes,
      consoleDir: consoleReady ? DEFAULT_CONSOLE_DIR : undefined,
    });
    closers.push(() => app.fastify.close());
    await app.fastify.listen({ host: config.STRONGROOM_BIND, port: config.STRONGROOM_HTTPS_PORT });
    const httpsPort = (app.fastify.server.address() as AddressInfo).port;

    let redirect: RedirectServer | undefined;
    if (config.STRONGROOM_HTTP_PORT !== 'off') {
      redirect = await startRedirectServer({
        host: config.STRONGROOM_BIND,
        port: config.STRONGROOM_HTTP_PORT,
        httpsPort,
        publicUrl: config.STRONGROOM_PUBLIC_URL,
        hostnames: config.STRONGROOM_HOSTNAMES,
      });
      closers.push(redirect.close);
    }
    let metricsServer: MetricsServer | undefined;
    if (config.STRONGROOM_METRICS_PORT !== 'off') {
      metricsServer = await startMetricsServer(metrics, config.STRONGROOM_METRICS_BIND, config.STRONGROOM_METRICS_PORT);
      closers.push(metricsServer.close);
    }

    const host = config.STRONGROOM_BIND.includes(':') ? `[${config.STRONGROOM_BIND}]` : config.STRONGROOM_BIND;
    const displayHost = host === '0.0.0.0' || host === '[::]' ? 'localhost' : host;
    let closing: Promise<void> | undefined;
    return {
      app,
      keys,
      workspaceKeys,
      audit: auditModule,
      identity,
      vault,
      drives,
      datasets,
      uploads,
      logger,
      database,
      httpsPort,
      httpPort: redirect?.port,
      metricsPort: metricsServer?.port,
      url: config.STRONGROOM_PUBLIC_URL ?? `https://${displayHost}:${httpsPort}/`,
      tlsFiles,
      get tls() {
        return tls;
      },
      async reloadTls() {
        const next = await loadTlsMaterial(tlsFiles);
        (app.fastify.server as HttpsServer).setSecureContext(secureContextOptions(next));
        tls = next;
        logger.info({ subject: next.subject, notAfter: next.notAfter, fingerprint256: next.fingerprint256 }, 'TLS certificate reloaded');
        return next;
      },
      close() {
        closing ??= (async () => {
          const timer = setTimeout(() => {
            logger.warn('shutdown timeout reached; closing remaining connections');
            app.fastify.server.closeAllConnections();
          }, config.STRONGROOM_SHUTDOWN_TIMEOUT_MS);
          timer.unref();
          await closeAll();
          clearTimeout(timer);
        })();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
