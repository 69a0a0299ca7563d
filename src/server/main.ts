/**
 * Wiring, nothing else: from a parsed config to a running server — the installation (data
 * directory, TLS material), the database and its migrations, the modules (`modules.ts`), their
 * background jobs (`jobs.ts`), the HTTPS app (`app.ts`) and its listeners (HTTPS, the redirect,
 * metrics). Returns a handle that reloads TLS and shuts everything down in reverse order.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CONSOLE_DIR, consoleBuilt } from './console.ts';
import type { AddressInfo } from 'node:net';
import type { Server as HttpsServer } from 'node:https';
import type { DestinationStream, Logger } from 'pino';
import type { Config } from '../core/config.ts';
import { openDatabase, type DatabaseHandle } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { instanceId } from '../installation/instance-id.ts';
import { backupBeforeMigrating } from './pre-migration.ts';
import { explainPgConnectError } from '../db/connection-options.ts';
import type { VaultService } from '../modules/vault/index.ts';
import type { DrivesService } from '../modules/drives/index.ts';
import type { DatasetsService, UploadSessions } from '../modules/datasets/index.ts';
import type { AuditModule } from '../modules/audit/index.ts';
import type { IdentityModule } from '../modules/identity/index.ts';
import type { ProfilingService } from '../modules/profiling/index.ts';
import type { SsoModule } from '../modules/sso/index.ts';
import type { KeysService, WorkspaceKeys } from '../modules/keys/index.ts';
import type { BackupsService } from '../modules/backups/index.ts';
import type { PoliciesService } from '../modules/policies/index.ts';
import type { RetentionService } from '../modules/retention/index.ts';
import { createApp, type App, type AppDeps } from './app.ts';
import { observePosture } from './posture-metrics.ts';
import type { PostureWiring } from './posture-wiring.ts';
import type { TaskLogs } from '../modules/tasks/index.ts';
import { startJobs } from './jobs.ts';
import { buildModules, type BuildOptions } from './modules.ts';
import { createLogger } from './logger.ts';
import { createMetrics, startMetricsServer, type MetricsServer } from './metrics.ts';
import { startRedirectServer, type RedirectServer } from './redirect.ts';
import {
  ensureSelfSignedCert,
  loadTlsMaterial,
  secureContextOptions,
  type TlsFiles,
  type TlsMaterial,
} from '../installation/tls.ts';
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
  backups: BackupsService;
  posture: PostureWiring;
  tasks: TaskLogs;
  sso: SsoModule;
  retention: RetentionService;
  /** The profile job queue (tests reach its lease through it). */
  profiling: ProfilingService;
  /** Data policies (the read seam's plans); tests reach the seam through it. */
  policies: PoliciesService;
  logger: Logger;
  database: DatabaseHandle;
  httpsPort: number;
  httpPort: number | undefined;
  metricsPort: number | undefined;
  url: string;
  /** The one-time setup token of a first start (no users yet) and the 0600 file that holds it. */
  setup: { token: string; file: string } | undefined;
  tlsFiles: TlsFiles;
  tls: TlsMaterial;
  /** Re-read the certificate files and use them for new handshakes; existing connections stay. */
  reloadTls(): Promise<TlsMaterial>;
  /** Stop accepting, finish in-flight requests (bounded by the shutdown timeout), close the DB. */
  close(): Promise<void>;
}

export async function startServer(
  config: Readonly<Config>,
  opts: BuildOptions & {
    logDestination?: DestinationStream;
    database?: DatabaseHandle;
    extraRoutes?: AppDeps['extraRoutes'];
  } = {},
): Promise<RunningServer> {
  const logger = createLogger(config.STRONGROOM_LOG_LEVEL, opts.logDestination);
  // Milliseconds per start phase, logged once at debug level (bench/_start-profile.ts reads it).
  const phases: Record<string, number> = {};
  let phaseStart = performance.now();
  const phase = (name: string) => {
    const t = performance.now();
    phases[name] = Math.round(t - phaseStart);
    phaseStart = t;
  };
  await prepareHome(config.STRONGROOM_HOME);
  if (existsSync(path.join(config.STRONGROOM_HOME, 'RESTORE-IN-PROGRESS')))
    throw new Error(
      `a restore into ${config.STRONGROOM_HOME} did not finish: this data directory is unusable; restore again into a new one`,
    );
  const tlsFiles = tlsFilesFor(config);
  if (tlsFiles.selfSigned && (await ensureSelfSignedCert(config.STRONGROOM_HOME))) {
    logger.info({ certFile: tlsFiles.certFile }, 'generated a self-signed TLS certificate');
  }
  let tls = await loadTlsMaterial(tlsFiles);
  phase('home+tls');

  const database = opts.database ?? (await openDatabase(databaseSpec(config)));
  phase('database-open');
  const closers: (() => Promise<void>)[] = [() => database.close()];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch((err) => logger.error({ err }, 'shutdown step failed'));
  };
  try {
    // A backup first when the schema is about to change (refuses to migrate if it fails).
    const preMigration = await backupBeforeMigrating(
      config,
      database,
      logger,
      `${await instanceId(config.STRONGROOM_HOME)}:${process.pid}:premigration`,
    );
    phase('pre-migration-check');
    const applied = await migrateToLatest(database.db as never);
    if (applied.length > 0) logger.info({ applied }, 'database migrated');
    phase('migrations');

    const m = await buildModules(config, database, logger, opts, closers);
    phase('modules');
    if (preMigration.kind !== 'none')
      await m.auditTrail.recordCommitted({
        actor: { id: 'system:migrations', kind: 'system' },
        action: 'system.migration.backup',
        resource: {
          type: 'backup',
          id: preMigration.kind === 'taken' ? preMigration.backupId : 'none',
        },
        outcome: preMigration.kind === 'taken' ? 'success' : 'failure',
        details: {
          migrations: applied,
          ...(preMigration.kind === 'taken'
            ? { target: preMigration.target }
            : { skipped: preMigration.reason, override: preMigration.override }),
        },
      });
    closers.push(startJobs(m, config, logger));
    phase('jobs');
    const metrics = createMetrics();
    observePosture(metrics, m.posture);
    const consoleReady = consoleBuilt(DEFAULT_CONSOLE_DIR);
    if (!consoleReady)
      logger.warn(
        { dir: DEFAULT_CONSOLE_DIR },
        'the web console is not built (npm run build:console); serving the API only',
      );
    const app = await createApp({
      ...m,
      config,
      logger,
      database,
      tls,
      metrics,
      extraRoutes: opts.extraRoutes,
      consoleDir: consoleReady ? DEFAULT_CONSOLE_DIR : undefined,
    });
    closers.push(() => app.fastify.close());
    phase('app');
    await app.fastify.listen({ host: config.STRONGROOM_BIND, port: config.STRONGROOM_HTTPS_PORT });
    const httpsPort = (app.fastify.server.address() as AddressInfo).port;
    m.sso.setLocalPort(httpsPort);

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

    phase('listen');
    logger.debug({ ms: phases, sinceProcessStart: Math.round(performance.now()) }, 'start phases');
    const host = config.STRONGROOM_BIND.includes(':') ? `[${config.STRONGROOM_BIND}]` : config.STRONGROOM_BIND;
    const displayHost = host === '0.0.0.0' || host === '[::]' ? 'localhost' : host;
    // The posture's transport controls connect to these (loopback when bound to every address).
    const probeHost = ['0.0.0.0', '::'].includes(config.STRONGROOM_BIND) ? '127.0.0.1' : config.STRONGROOM_BIND;
    const servername = config.STRONGROOM_PUBLIC_URL ? new URL(config.STRONGROOM_PUBLIC_URL).hostname : 'localhost';
    m.posture.listeners.https = { host: probeHost, port: httpsPort, servername };
    if (redirect) m.posture.listeners.http = { host: probeHost, port: redirect.port };
    let closing: Promise<void> | undefined;
    return {
      app,
      keys: m.keys,
      workspaceKeys: m.workspaceKeys,
      audit: m.auditTrail,
      identity: m.identity,
      vault: m.vault,
      drives: m.drives,
      datasets: m.datasets,
      uploads: m.uploads,
      backups: m.backups,
      posture: m.posture,
      tasks: m.tasks,
      sso: m.sso,
      retention: m.retention,
      profiling: m.profiling,
      policies: m.policies,
      logger,
      database,
      httpsPort,
      httpPort: redirect?.port,
      metricsPort: metricsServer?.port,
      url: config.STRONGROOM_PUBLIC_URL ?? `https://${displayHost}:${httpsPort}/`,
      setup: m.setup,
      tlsFiles,
      get tls() {
        return tls;
      },
      async reloadTls() {
        database.reloadClientCertificate?.();
        const next = await loadTlsMaterial(tlsFiles);
        (app.fastify.server as HttpsServer).setSecureContext(secureContextOptions(next));
        tls = next;
        logger.info(
          { subject: next.subject, notAfter: next.notAfter, fingerprint256: next.fingerprint256 },
          'TLS certificate reloaded',
        );
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
    const explained = explainPgConnectError(err);
    throw explained ? new Error(explained, { cause: err }) : err;
  }
}
