/**
 * Builds the posture module with the controls of every module that exists today, and the audit
 * streamer with the sinks the operator configured. Modules that land later (SSO …) register
 * their controls here: `registry.register('<module>', <module>Controls(...))`. Backups and
 * retention are built after the posture module: their controls reach them through `later`,
 * which is filled in before any posture run.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import type { DatabaseHandle } from '../db/database.ts';
import type { EgressGuard } from '../adapters/net/egress-guard.ts';
import { tlsFilesFor } from '../installation/home.ts';
import { parseClientNetwork } from '../core/net/client-allowlist.ts';
import { ssoControls } from '../modules/sso/index.ts';
import {
  createAuditStreamer,
  syslogSink,
  webhookSink,
  type AuditModule,
  type AuditSink,
  type AuditStreamer,
} from '../modules/audit/index.ts';
import { backupsControls, type BackupsStatus } from '../modules/backups/index.ts';
import type { DrivesService } from '../modules/drives/index.ts';
import { retentionControls, type RetentionPostureDeps } from '../modules/retention/index.ts';
import type { KeysService } from '../modules/keys/index.ts';
import type { VaultService } from '../modules/vault/index.ts';
import {
  accessControls,
  auditControls,
  createEvidenceExporter,
  createPostureRegistry,
  createPostureService,
  keysControls,
  networkControls,
  platformControls,
  transportControls,
  type PostureService,
  type TlsTarget,
} from '../modules/posture/index.ts';

/** Where the live listeners are; filled in by main.ts once they listen. */
export interface ListenerTargets {
  https?: TlsTarget;
  http?: { host: string; port: number };
}

export interface PostureWiring {
  posture: PostureService;
  evidence: ReturnType<typeof createEvidenceExporter>;
  streamer: AuditStreamer | undefined;
  listeners: ListenerTargets;
}

function sinksFrom(config: Readonly<Config>, guard: EgressGuard): AuditSink[] {
  const sinks: AuditSink[] = [];
  const ca = (file: string | undefined) => (file ? readFileSync(file, 'utf8') : undefined);
  if (config.STRONGROOM_AUDIT_SYSLOG_URL)
    sinks.push(
      syslogSink({
        url: new URL(config.STRONGROOM_AUDIT_SYSLOG_URL),
        ca: ca(config.STRONGROOM_AUDIT_SYSLOG_CA_FILE),
        guard,
      }),
    );
  if (config.STRONGROOM_AUDIT_WEBHOOK_URL && config.STRONGROOM_AUDIT_WEBHOOK_SECRET)
    sinks.push(
      webhookSink({
        url: new URL(config.STRONGROOM_AUDIT_WEBHOOK_URL),
        secret: config.STRONGROOM_AUDIT_WEBHOOK_SECRET,
        ca: ca(config.STRONGROOM_AUDIT_WEBHOOK_CA_FILE),
        guard,
      }),
    );
  return sinks;
}

export function buildPosture(
  config: Readonly<Config>,
  d: {
    database: DatabaseHandle;
    logger: Logger;
    guard: EgressGuard;
    keys: KeysService;
    audit: AuditModule;
    vault: VaultService;
    drives: DrivesService;
    /** Modules built after this one (resolved when a control runs). */
    later: () => {
      backups: { status(at: Date): Promise<BackupsStatus> };
      retention: RetentionPostureDeps;
    };
    installationId: string;
    now?: () => Date;
  },
): PostureWiring {
  const db = d.database.db;
  const sinks = sinksFrom(config, d.guard);
  const streamer =
    sinks.length > 0
      ? createAuditStreamer({
          db,
          sinks,
          onError: (err, sink) =>
            d.logger.warn({ sink, code: (err as { code?: string }).code }, 'audit sink delivery failed; retrying'),
        })
      : undefined;
  const listeners: ListenerTargets = {};
  const registry = createPostureRegistry();
  registry.register(
    'installation',
    transportControls({
      listener: () => listeners.https,
      redirect: () => listeners.http,
      certFile: () => tlsFilesFor(config).certFile,
    }),
  );
  registry.register(
    'installation',
    platformControls({ db, home: config.STRONGROOM_HOME, database: d.database, nodeVersion: process.versions.node }),
  );
  registry.register(
    'keys',
    keysControls({ status: () => d.keys.status(), rotationDays: config.STRONGROOM_KEY_ROTATION_DAYS }),
  );
  registry.register(
    'audit',
    auditControls({
      verify: () => d.audit.verify(),
      headSeq: async () => (await d.audit.tail(1))[0]?.seq ?? 0,
      logDir: path.join(config.STRONGROOM_HOME, 'logs'),
      sinkLag: async () => (streamer ? streamer.lag() : []),
    }),
  );
  registry.register(
    'identity',
    accessControls({
      db,
      secretsDue: (workspaceId, within) => d.vault.due(db, workspaceId, within),
      openDrive: (workspaceId, name) => d.drives.open(workspaceId, name),
    }),
  );
  // Issue 21: single sign-on (read from the sso store) and the client network allowlist.
  registry.register('sso', ssoControls({ db }));
  registry.register(
    'installation',
    networkControls({
      network: parseClientNetwork(config.STRONGROOM_ALLOWED_CLIENT_CIDRS, config.STRONGROOM_TRUSTED_PROXIES),
    }),
  );
  registry.register('backups', backupsControls({ status: (at) => d.later().backups.status(at) }));
  registry.register('retention', retentionControls({ show: () => d.later().retention.show() }));
  const posture = createPostureService({
    db,
    registry,
    recordEvent: (input) => d.audit.recordCommitted(input),
    ...(d.now ? { clock: d.now } : {}),
  });
  const evidence = createEvidenceExporter({
    posture,
    signingKey: () => d.audit.ensureKeys(),
    auditHead: async () => {
      await d.audit.chainPending();
      const [e] = await d.audit.tail(1);
      return e ? { seq: e.seq, hash: e.hash } : { seq: 0, hash: '0'.repeat(64) };
    },
    installationId: d.installationId,
    ...(d.now ? { clock: d.now } : {}),
  });
  return { posture, evidence, streamer, listeners };
}
