/**
 * The database handle: Kysely over PostgreSQL (`pg`) or the embedded PGlite. Both run the same
 * migrations and the same queries; nothing above this file knows which one it has.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import type { Database } from './schema.ts';
import { DatabaseUrlError, planPgConnection } from './connection-options.ts';
import { acquireDirLock, type DirLock } from './dir-lock.ts';
import { withPreparedStatements } from './pg-prepared.ts';
import { CommitWatch } from './commit-watch.ts';
import { pgliteDialect } from './pglite-dialect.ts';

export type DatabaseSpec =
  | { kind: 'pglite'; dataDir: string }
  | { kind: 'pglite-memory'; loadDataDir?: Blob }
  | {
      kind: 'postgres';
      url: string;
      caFile?: string | undefined;
      allowWeakTls: boolean;
      poolSize?: number;
      /** PEM client certificate and key for servers that authenticate clients by certificate. */
      clientCertFile?: string | undefined;
      clientKeyFile?: string | undefined;
    };

export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: 'pglite' | 'postgres';
  /** Safe description for logs and doctor (no credentials). */
  summary: string;
  /** PostgreSQL with a client certificate: its subject and expiry (for doctor and the posture). */
  clientCertificate?: { subject: string; notAfter: Date };
  /** Re-reads the client certificate files; new connections use them (SIGHUP). */
  reloadClientCertificate?(): void;
  /** PGlite only: the client, for dumps in tests and backups. */
  pglite?: PGlite;
  /** In-process commit notifications (src/db/commit-watch.ts). */
  commits: CommitWatch;
  /**
   * `LISTEN channel`: `onMessage(payload)` for each notification; `onState(false)` when the
   * listening connection is lost (notifications may be missed until `onState(true)`, called once
   * it listens again). Reconnects by itself until the returned stop function is called.
   */
  listen(channel: string, onMessage: (payload: string) => void, onState: (up: boolean) => void): () => Promise<void>;
  close(): Promise<void>;
}

/** PGlite's `shared_buffers` (see openDatabase). */
export const PGLITE_SHARED_BUFFERS = '32MB';

export async function openDatabase(spec: DatabaseSpec): Promise<DatabaseHandle> {
  if (spec.kind === 'postgres') {
    const withCert = Boolean(spec.clientCertFile && spec.clientKeyFile);
    const plan = planPgConnection(spec.url, {
      caPem: spec.caFile ? readFileSync(spec.caFile, 'utf8') : undefined,
      allowWeakTls: spec.allowWeakTls,
      clientCertificate: withCert,
    });
    let clientCertificate: { subject: string; notAfter: Date } | undefined;
    const loadClientCert = () => {
      if (!withCert) return;
      if (plan.ssl === false)
        throw new DatabaseUrlError('a client certificate is only sent over TLS: remove sslmode=disable');
      const cert = readFileSync(spec.clientCertFile!, 'utf8');
      const key = readFileSync(spec.clientKeyFile!, 'utf8');
      const x = new X509Certificate(cert);
      // The ssl object is read for every new connection: updating it is the reload.
      Object.assign(plan.ssl, { cert, key });
      clientCertificate = { subject: x.subject.replace(/\n/g, ', '), notAfter: new Date(x.validTo) };
    };
    loadClientCert();
    const pool = new pg.Pool({
      connectionString: plan.connectionString,
      ssl: plan.ssl,
      max: spec.poolSize ?? 10,
      connectionTimeoutMillis: 10_000,
      application_name: 'strongroom',
    });
    // An idle client that loses its connection must not crash the process.
    pool.on('error', () => undefined);
    const commits = new CommitWatch();
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: withPreparedStatements(pool, undefined, commits) }),
    });
    const listeners = new Set<() => Promise<void>>();
    return {
      db,
      kind: 'postgres',
      commits,
      listen(channel, onMessage, onState) {
        const stop = listenPg(
          { connectionString: plan.connectionString, ssl: plan.ssl, application_name: 'strongroom-listen' },
          channel,
          onMessage,
          onState,
        );
        listeners.add(stop);
        return () => {
          listeners.delete(stop);
          return stop();
        };
      },
      summary: `PostgreSQL ${plan.summary}${withCert ? ', client certificate' : ''}`,
      get clientCertificate() {
        return clientCertificate;
      },
      ...(withCert ? { reloadClientCertificate: loadClientCert } : {}),
      async close() {
        await Promise.all([...listeners].map((stop) => stop()));
        await db.destroy();
      },
    };
  }

  // Postgres's buffer pool lives inside PGlite's WebAssembly memory and is touched whole at start,
  // so its size is resident from the first second: the default 128 MB made an idle server's RSS
  // ~110 MiB larger than 32 MB does (measured: PGlite alone 251 -> 141 MiB over node's own).
  // Pages beyond it are read from the data directory through the OS page cache.
  const options = { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`] };
  let lock: DirLock | undefined;
  let client: PGlite;
  if (spec.kind === 'pglite') {
    await mkdir(spec.dataDir, { recursive: true, mode: 0o700 });
    lock = await acquireDirLock(path.join(spec.dataDir, '..', 'db.lock'), spec.dataDir);
    try {
      client = await PGlite.create(spec.dataDir, options);
    } catch (err) {
      await lock.release();
      throw err;
    }
  } else {
    client = await PGlite.create(spec.loadDataDir ? { ...options, loadDataDir: spec.loadDataDir } : options);
  }
  const commits = new CommitWatch();
  const db = new Kysely<Database>({ dialect: pgliteDialect(client, { watch: commits }) });
  let closed = false;
  return {
    db,
    kind: 'pglite',
    summary: spec.kind === 'pglite' ? `embedded PGlite at ${spec.dataDir}` : 'embedded PGlite (memory)',
    pglite: client,
    commits,
    listen(channel, onMessage, onState) {
      // One session in this process: nothing is missed while it is open. LISTEN goes through the
      // dialect's queue (never into another caller's open transaction, where a rollback would
      // undo it); notifications are taken from the client's global feed.
      const off = client.onNotification((ch, payload) => {
        if (ch === channel) onMessage(payload);
      });
      const quoted = sql.id(channel);
      const ready = sql`listen ${quoted}`.execute(db).then(
        () => onState(true),
        () => onState(false),
      );
      return async () => {
        off();
        await ready;
        if (!closed) await sql`unlisten ${quoted}`.execute(db).catch(() => undefined);
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
      if (!client.closed) await client.close();
      await lock?.release();
    },
  };
}

/** Cheap liveness query used by /readyz and doctor. */
export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}

/**
 * A dedicated connection that LISTENs on `channel`, reconnecting (1 s, then up to 10 s apart)
 * whenever it is lost; `onState` reports each loss and each recovery.
 */
function listenPg(
  config: pg.ClientConfig,
  channel: string,
  onMessage: (payload: string) => void,
  onState: (up: boolean) => void,
): () => Promise<void> {
  let stopped = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delay = 1000;
  const quoted = '"' + channel.replace(/"/g, '""') + '"';
  const lost = (c: pg.Client) => {
    if (client !== c) return;
    client = undefined;
    onState(false);
    void c.end().catch(() => undefined);
    if (!stopped) {
      timer = setTimeout(connect, delay);
      timer.unref();
      delay = Math.min(delay * 2, 10_000);
    }
  };
  const connect = () => {
    if (stopped) return;
    const c = new pg.Client(config);
    client = c;
    c.on('error', () => lost(c));
    c.on('end', () => lost(c));
    c.on('notification', (n) => {
      if (n.channel === channel) onMessage(n.payload ?? '');
    });
    c.connect()
      .then(() => c.query(`listen ${quoted}`))
      .then(() => {
        if (client !== c) return;
        delay = 1000;
        onState(true);
      })
      .catch(() => lost(c));
  };
  connect();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    const c = client;
    client = undefined;
    await c?.end().catch(() => undefined);
  };
}
