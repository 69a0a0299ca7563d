/**
 * Start the real app (HTTPS, port 0) on a fresh database of either backend, with a generated
 * certificate and a captured log. Tests talk to it over real TLS.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/core/config.ts';
import { startServer, type RunningServer } from '../../src/server/main.ts';
import type { AppDeps } from '../../src/server/app.ts';
import { generateSelfSigned } from '../../src/installation/tls.ts';
import { readOperatorToken } from '../../src/installation/operator-token.ts';
import type { DatabaseHandle } from '../../src/db/database.ts';
import type { TestContext } from 'node:test';
import { createTestDatabase, postgresAvailable, type Backend } from './db.ts';
import { requirePeer } from './peers.ts';
import { request, type TestRequest, type TestResponse } from './https.ts';

export interface TestApp {
  server: RunningServer;
  config: Readonly<Config>;
  home: string;
  base: string;
  ca: string;
  logs: string[];
  operatorToken: string;
  /** The one-time setup token printed at start (no users yet), if any. */
  setupToken?: string;
  asOperator(pathname: string, opts?: Omit<TestRequest, 'ca'>): Promise<TestResponse>;
  req(pathname: string, opts?: Omit<TestRequest, 'ca'>): Promise<TestResponse>;
  close(): Promise<void>;
}

export async function startTestApp(
  backend: Backend,
  opts: {
    env?: Record<string, string>;
    extraRoutes?: AppDeps['extraRoutes'];
    /** Runs against the fresh database and data directory before the server starts. */
    prepare?: (database: DatabaseHandle, config: Readonly<Config>) => Promise<void>;
    /** Injected clock for sessions, tokens and throttling. */
    now?: () => Date;
    /** A database to use instead of a fresh one (e.g. a second server on the same PostgreSQL). */
    database?: DatabaseHandle;
    /** TLS material to serve instead of a new self-signed certificate (PEM). */
    tls?: { cert: string; key: string };
  } = {},
): Promise<TestApp> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'strongroom-test-'));
  const { cert, key } = opts.tls ?? (await generateSelfSigned());
  await writeFile(path.join(home, 'cert.pem'), cert);
  await writeFile(path.join(home, 'key.pem'), key, { mode: 0o600 });
  const config = loadConfig({
    STRONGROOM_HOME: home,
    STRONGROOM_HTTPS_PORT: '0',
    STRONGROOM_HTTP_PORT: '0',
    STRONGROOM_METRICS_PORT: '0',
    STRONGROOM_TLS_CERT_FILE: path.join(home, 'cert.pem'),
    STRONGROOM_TLS_KEY_FILE: path.join(home, 'key.pem'),
    STRONGROOM_LOG_LEVEL: 'info',
    ...opts.env,
  });
  const logs: string[] = [];
  const logDestination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const database = opts.database ?? (await createTestDatabase(backend));
  await opts.prepare?.(database, config);
  let setupToken: string | undefined;
  const server = await startServer(config, {
    logDestination,
    database,
    extraRoutes: opts.extraRoutes,
    ...(opts.now ? { now: opts.now } : {}),
    setupTokenOut: (line) => (setupToken = /srs_[A-Za-z0-9_-]+/.exec(line)?.[0]),
  });
  const base = `https://localhost:${server.httpsPort}`;
  const operatorToken = await readOperatorToken(home);
  return {
    server,
    config,
    home,
    base,
    ca: cert,
    logs,
    operatorToken,
    setupToken,
    asOperator: (pathname, o = {}) =>
      request(`${base}${pathname}`, {
        ...o,
        ca: cert,
        headers: { authorization: `Bearer ${operatorToken}`, ...o.headers },
      }),
    req: (pathname, o = {}) => request(`${base}${pathname}`, { ...o, ca: cert }),
    async close() {
      await server.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/**
 * A test app on `backend`, or undefined when the backend is PostgreSQL and none is running (the
 * test is then skipped, or fails under STRONGROOM_TEST_STRICT, through requirePeer).
 */
export async function startAppOn(t: TestContext, backend: Backend): Promise<TestApp | undefined> {
  if (
    backend === 'postgres' &&
    !requirePeer(t, 'PostgreSQL', await postgresAvailable(), 'pg_ctlcluster 15 main start')
  ) {
    return undefined;
  }
  return startTestApp(backend);
}
