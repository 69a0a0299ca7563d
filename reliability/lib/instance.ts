/**
 * A real installation for the process-level suites (kill9, db-faults, disk-full, load, canary,
 * tls): `strongroom init` in a temporary data directory, then `strongroom serve` as a child
 * process (HTTPS on 127.0.0.1, a free port), which a suite may kill -9 and start again on the same
 * data. The owner signs in once with MFA; the session lives in the database, so it survives
 * restarts. PGlite on disk by default, or a throwaway PostgreSQL database.
 */
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { generateSync } from 'otplib';
import { cliAsync, freePort, startServe, type ServeProcess } from '../../test/helpers/cli.ts';
import { generateSelfSigned } from '../../src/installation/tls.ts';
import { readOperatorToken } from '../../src/installation/operator-token.ts';

export const PASSWORD = 'correct horse battery staple 42';
export const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  raw: Buffer;
  json<T = Record<string, unknown>>(): T;
}

export interface Req {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Who asks: the signed-in owner (default), the operator token, or nobody. */
  as?: 'owner' | 'operator' | 'none';
  timeoutMs?: number;
  /** A new connection instead of a kept-alive one. */
  fresh?: boolean;
}

export interface Instance {
  dir: string;
  home: string;
  port: number;
  ca: string;
  env: Record<string, string>;
  /** The PostgreSQL database URL when the instance runs on PostgreSQL. */
  databaseUrl?: string;
  serve(): ServeProcess;
  start(): Promise<void>;
  kill9(): Promise<void>;
  /** SIGTERM and wait (the graceful path). */
  stop(): Promise<void>;
  req(p: string, o?: Req): Promise<Answer>;
  json(method: string, p: string, body: unknown, as?: Req['as']): Promise<Answer>;
  /** Every log line of every run so far (the processes' standard output). */
  logs(): string[];
  stderr(): string;
  close(): Promise<void>;
}

export interface InstanceOptions {
  database?: 'pglite' | 'postgres';
  env?: Record<string, string>;
  /** Reach PostgreSQL through this port on 127.0.0.1 (a fault proxy) instead of the cluster's own. */
  dbPort?: number;
  /** The cluster to create the throwaway database in (default: the shared one, PG_ADMIN_URL). */
  pgAdminUrl?: string;
  /** Create the data directory here (e.g. on a small tmpfs) instead of a temporary directory. */
  home?: string;
}

export async function createInstance(opts: InstanceOptions = {}): Promise<Instance> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-rel-'));
  const home = opts.home ?? path.join(dir, 'home');
  await mkdir(home, { recursive: true, mode: 0o700 });
  const { cert, key } = await generateSelfSigned();
  await writeFile(path.join(dir, 'cert.pem'), cert);
  await writeFile(path.join(dir, 'key.pem'), key, { mode: 0o600 });
  await writeFile(path.join(dir, 'pw'), PASSWORD, { mode: 0o600 });
  const port = await freePort();
  let databaseUrl: string | undefined;
  let dbName: string | undefined;
  const pgAdminUrl = opts.pgAdminUrl ?? PG_ADMIN_URL;
  if (opts.database === 'postgres') {
    dbName = `sr_rel_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: pgAdminUrl });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    await admin.end();
    const u = new URL(pgAdminUrl);
    u.pathname = `/${dbName}`;
    if (opts.dbPort) u.port = String(opts.dbPort);
    databaseUrl = u.toString();
  }
  const env: Record<string, string> = {
    STRONGROOM_HOME: home,
    STRONGROOM_HTTPS_PORT: String(port),
    STRONGROOM_HTTP_PORT: 'off',
    STRONGROOM_METRICS_PORT: 'off',
    STRONGROOM_TLS_CERT_FILE: path.join(dir, 'cert.pem'),
    STRONGROOM_TLS_KEY_FILE: path.join(dir, 'key.pem'),
    STRONGROOM_DRIVE_HEALTH_SECONDS: '0',
    STRONGROOM_POSTURE_CHECK_SECONDS: '0',
    STRONGROOM_LOG_LEVEL: 'info',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...opts.env,
  };
  const email = 'owner@reliability.test';
  // Not spawnSync: a fault proxy in this process must keep forwarding while init runs.
  const init = await cliAsync(['init', '--admin-email', email, '--admin-password-file', path.join(dir, 'pw')], env);
  if (init.status !== 0) throw new Error(`strongroom init failed: ${init.stderr}`);
  const operatorToken = await readOperatorToken(home);

  let serve: ServeProcess | undefined;
  const pastLogs: string[] = [];
  let pastStderr = '';
  let cookie = '';
  let csrf = '';

  const agent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  function raw(p: string, o: Req = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...o.headers };
    if ((o.as ?? 'owner') === 'owner' && cookie) {
      headers.cookie = cookie;
      if (!['GET', 'HEAD'].includes(o.method ?? 'GET')) headers['x-csrf-token'] = csrf;
    }
    if (o.as === 'operator') headers.authorization = `Bearer ${operatorToken}`;
    return new Promise((resolve, reject) => {
      const r = https.request(
        `https://localhost:${port}${p}`,
        { method: o.method ?? 'GET', headers, ca: cert, agent: o.fresh ? false : agent, servername: 'localhost' },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const buf = Buffer.concat(chunks);
            const body = buf.toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body,
              raw: buf,
              json: () => JSON.parse(body),
            });
          });
          res.on('error', reject);
        },
      );
      r.setTimeout(o.timeoutMs ?? 60_000, () => r.destroy(new Error(`timed out: ${o.method ?? 'GET'} ${p}`)));
      // A reused keep-alive connection the server closed meanwhile fails before any answer: say so.
      r.on('error', (e: Error) =>
        reject(Object.assign(e, { message: `${e.message}${r.reusedSocket ? ' (reused connection)' : ''}` })),
      );
      r.end(o.body);
    });
  }
  const json = (method: string, p: string, body: unknown, as?: Req['as']) =>
    raw(p, { method, as, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  async function signIn() {
    const login = await json('POST', '/api/v1/auth/login', { email, password: PASSWORD }, 'none');
    if (login.status !== 200) throw new Error(`login: ${login.status} ${login.body}`);
    const take = (a: Answer) => {
      const c = ([] as string[]).concat(a.headers['set-cookie'] ?? []).find((x) => x.startsWith('__Host-sr_session='));
      if (c) cookie = c.split(';')[0]!;
      csrf = (a.body ? a.json<{ csrfToken?: string }>().csrfToken : undefined) ?? csrf;
    };
    take(login);
    const enrol = await raw('/api/v1/auth/mfa/enrol', { method: 'POST' });
    if (enrol.status !== 200) throw new Error(`mfa enrol: ${enrol.status} ${enrol.body}`);
    const secret = enrol.json<{ secret: string }>().secret;
    const code = generateSync({ secret, epoch: Math.floor(Date.now() / 1000) });
    const verify = await json('POST', '/api/v1/auth/mfa/enrol/verify', { code });
    if (verify.status !== 200) throw new Error(`mfa verify: ${verify.status} ${verify.body}`);
    take(verify);
  }

  const inst: Instance = {
    dir,
    home,
    port,
    ca: cert,
    env,
    databaseUrl,
    serve: () => serve!,
    async start() {
      if (serve) {
        pastLogs.push(...serve.lines);
        pastStderr += serve.stderr();
      }
      serve = await startServe(env, 240_000); // a hang guard only: start-up is slow on a loaded machine
      if (!cookie) await signIn();
    },
    async kill9() {
      if (!serve) return;
      serve.child.kill('SIGKILL');
      await serve.exited;
      agent.destroy();
    },
    async stop() {
      if (!serve) return;
      serve.child.kill('SIGTERM');
      await serve.exited;
    },
    req: raw,
    json,
    logs: () => [...pastLogs, ...(serve?.lines ?? [])],
    stderr: () => pastStderr + (serve?.stderr() ?? ''),
    async close() {
      if (serve && serve.child.exitCode === null && serve.child.signalCode === null) {
        serve.child.kill('SIGKILL');
        await serve.exited;
      }
      agent.destroy();
      if (dbName) {
        const admin = new pg.Client({ connectionString: pgAdminUrl });
        await admin.connect();
        await admin.query(`drop database if exists ${dbName} with (force)`);
        await admin.end();
      }
      await rm(dir, { recursive: true, force: true });
      if (opts.home) await rm(home, { recursive: true, force: true }).catch(() => undefined);
    },
  };
  return inst;
}

/** A seeded pseudo-random generator (mulberry32): the same seed gives the same run. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}

/** `--name value` from argv, or the default. */
export function flag(argv: string[], name: string, dflt: number): number {
  const i = argv.indexOf(name);
  const v = i >= 0 ? Number(argv[i + 1]) : dflt;
  if (!Number.isFinite(v)) {
    console.error(`${name} needs a number`);
    process.exit(2);
  }
  return v;
}

/** The result line every suite ends with. */
export function summary(suite: string, fields: Record<string, string | number>): string {
  return `reliability-${suite}: ${Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;
}

export const isMain = (url: string) => url === `file://${process.argv[1]}`;
