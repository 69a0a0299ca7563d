/**
 * Secret read through the whole stack, in one run:
 *
 * - baseline: a bare Fastify HTTPS hello-world (same TLS material, same machine, same client);
 * - reveal:   `POST /api/v1/workspaces/default/secrets/reveal/bench/db` on the real app
 *             (test/helpers/app.ts, PGlite by default, `--postgres` for PostgreSQL): TLS, session
 *             cookie + CSRF, Cedar (route level and again with the concrete secret), re-auth
 *             check, a read and the audit event in one transaction, barrier open.
 *
 * The owner signs in with MFA right before the measurement (reveal needs a password/MFA proof
 * ≤ 5 minutes old; the run takes well under that). Load: keep-alive HTTPS/1.1 from a worker thread (the server keeps the
 * main thread), `conns` connections, rounds alternated; figures are medians of the rounds, p99
 * over every reveal request.
 *
 * With `--servers 2` (PostgreSQL): also two real `strongroom serve` processes on one fresh
 * PostgreSQL database (each its own data directory; the same root key file and certificate), the
 * same reveal load sent to one of them vs split across both (half the connections each, the
 * client spreading them itself: no balancer process on the same cores), rounds alternated,
 * medians; the servers log at their default level (info: a line per request, as deployed).
 * Printed before the last line:
 * `secret-read-servers: one_req_per_s=… two_req_per_s=… ratio=<two/one>`.
 *
 * Usage: npm run bench -- secret-read [seconds=3] [rounds=3] [conns=32] [--postgres] [--servers 2]
 * Last line: secret-read: ratio=<reveal/hello> req_per_s=<reveal> p99_ms=<reveal p99>
 */
import { Worker } from 'node:worker_threads';
import { startBareHello } from './_bare-hello.ts';

const argv = process.argv.slice(2);
const serversAt = argv.findIndex((a) => a === '--servers' || a.startsWith('--servers='));
const servers =
  serversAt < 0 ? 1 : Number(argv[serversAt]!.includes('=') ? argv[serversAt]!.split('=')[1] : argv[serversAt + 1]);
if (serversAt >= 0 && !argv[serversAt]!.includes('=')) argv.splice(serversAt + 1, 1);
if (servers !== 1 && servers !== 2) throw new Error('--servers takes 1 or 2');
const args = argv.filter((a) => !a.startsWith('--'));
const seconds = Number(args[0] ?? 3);
const rounds = Number(args[1] ?? 3);
const conns = Number(args[2] ?? 32);
// Several servers share one database: that is PostgreSQL.
const backend = process.argv.includes('--postgres') || servers === 2 ? 'postgres' : 'pglite';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface LoadResult {
  done: number;
  errors: number;
  latencies: Float64Array;
  firstError?: string;
}

/**
 * Keep-alive HTTPS load from a worker: `conns` connections for `seconds`; latency of every
 * request. With several URLs, connection i sends to `url[i % n]` for the whole run.
 */
function load(
  url: string | string[],
  ca: string,
  method: string,
  headers: Record<string, string>,
  secs: number,
): Promise<LoadResult> {
  const code = `
    const { parentPort, workerData: w } = require('node:worker_threads');
    const https = require('node:https');
    const agent = new https.Agent({ keepAlive: true, maxSockets: w.conns, ca: w.ca, servername: 'localhost' });
    let done = 0, errors = 0, firstError; const lat = []; const end = Date.now() + w.secs * 1000; let live = w.conns;
    const urls = [].concat(w.url);
    function one(i) {
      if (Date.now() >= end) { if (--live === 0) { agent.destroy(); parentPort.postMessage({ done, errors, firstError, latencies: Float64Array.from(lat) }); } return; }
      const t0 = performance.now();
      const req = https.request(urls[i % urls.length], { method: w.method, agent, headers: w.headers, servername: 'localhost' }, (res) => {
        let body = '';
        res.on('data', (c) => { if (res.statusCode !== 200) body += c; });
        res.on('end', () => { if (res.statusCode !== 200) { errors++; firstError ??= res.statusCode + ' ' + body.slice(0, 200); } else { done++; lat.push(performance.now() - t0); } one(i); });
      });
      req.on('error', (e) => { errors++; firstError ??= e.message; one(i); }); req.end();
    }
    for (let i = 0; i < w.conns; i++) one(i);`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { url, ca, method, headers, secs, conns } });
    worker.once('message', (m: LoadResult) => {
      void worker.terminate();
      resolve(m);
    });
    worker.once('error', reject);
  });
}

const { startTestApp } = await import('../test/helpers/app.ts');
const { createAuditContext } = await import('../src/server/audit-context.ts');
const { ownerSession, jsonBody } = await import('../test/helpers/identity.ts');
const app = await startTestApp(backend, {
  env: { STRONGROOM_LOG_LEVEL: 'warn' },
  // Breakdown probes: the same app with less of the stack, to show where the time goes.
  extraRoutes: (scope) => {
    scope.get('/bench/public', { config: { access: { public: 'benchmark baseline' } } }, async () => ({ ok: true }));
    scope.get(
      '/bench/session',
      { config: { access: { action: 'identity.self.read', audit: 'identity.self.read' } } },
      async () => ({ ok: true }),
    );
    scope.get(
      '/bench/audited',
      { config: { access: { action: 'identity.self.read', audit: 'identity.self.read' } } },
      async (request) => {
        await auditCtx.recordAlone(request, { action: 'identity.self.read' });
        return { ok: true };
      },
    );
  },
});
const { bare, bareUrl } = await startBareHello(app);

const auditCtx = createAuditContext(app.server.database.db, app.server.audit);
try {
  const { session } = await ownerSession(app);
  const w = await session.req(
    '/api/v1/workspaces/default/secrets/data/bench/db',
    jsonBody({ type: 'password', value: { password: 'bench-secret-value' } }, 'PUT'),
  );
  if (w.status !== 201) throw new Error(`write failed: ${w.status} ${w.body}`);
  const revealUrl = `${app.base}/api/v1/workspaces/default/secrets/reveal/bench/db`;
  const headers = { cookie: session.cookie, 'x-csrf-token': session.csrf };
  // The sign-in (password + TOTP) just happened: the re-authentication window (5 min) is open.
  const check = await load(revealUrl, app.ca, 'POST', headers, 0.3);
  if (check.errors > 0) throw new Error(`reveal failed: ${check.firstError}`);
  await load(bareUrl, app.ca, 'GET', {}, 0.5); // warm-up: TLS sessions, JIT

  const hello: number[] = [];
  const reveal: number[] = [];
  const lat: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const h = await load(bareUrl, app.ca, 'GET', {}, seconds);
    if (h.errors) throw new Error(`hello-world errors: ${h.firstError}`);
    hello.push(h.done / seconds);
    const v = await load(revealUrl, app.ca, 'POST', headers, seconds);
    if (v.errors) throw new Error(`${v.errors} reveal errors: ${v.firstError}`);
    reveal.push(v.done / seconds);
    lat.push(...v.latencies);
  }
  const steps: [string, string][] = [
    ['app, public route', '/bench/public'],
    ['+ session auth + Cedar', '/bench/session'],
    ['+ audit event (own transaction)', '/bench/audited'],
  ];
  const stepRates: string[] = [];
  for (const [label, path] of steps) {
    const x = await load(`${app.base}${path}`, app.ca, 'GET', { cookie: session.cookie }, Math.max(1, seconds / 2));
    if (x.errors) throw new Error(`${label}: ${x.firstError}`);
    const sorted = [...x.latencies].sort((a, b) => a - b);
    stepRates.push(
      `${label}: ${fmt(x.done / Math.max(1, seconds / 2))} req/s, p99 ${sorted[Math.floor(0.99 * sorted.length)]!.toFixed(1)} ms`,
    );
  }
  lat.sort((a, b) => a - b);
  const p = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]!;
  const h = median(hello);
  const v = median(reveal);
  console.log(
    `secret-read: ${backend}, node ${process.version}, ${conns} keep-alive connections, ${rounds} alternated rounds × ${seconds} s, medians`,
  );
  console.log(`bare Fastify HTTPS hello-world: ${fmt(h)} req/s`);
  console.log(
    `audited reveal (session + CSRF + Cedar ×2 + re-auth check + one read + barrier open + audit event): ${fmt(v)} req/s, p50 ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms, ${lat.length} reveals`,
  );
  console.log(`breakdown (same app, one round each): ${stepRates.join('; ')}`);
  await app.server.audit.chainPending();
  if (servers === 2) {
    const { oneRps, twoRps } = await twoServers();
    console.log(
      `secret-read-servers: one_req_per_s=${Math.round(oneRps)} two_req_per_s=${Math.round(twoRps)} ratio=${(twoRps / oneRps).toFixed(3)}`,
    );
  }
  console.log(`secret-read: ratio=${(v / h).toFixed(3)} req_per_s=${Math.round(v)} p99_ms=${p(0.99).toFixed(1)}`);
} finally {
  await bare.close();
  await app.close();
}

/**
 * One `strongroom serve` process vs two on one PostgreSQL database, same run (see the file
 * comment). The owner is made by `init`, enrols TOTP and reveals right after (re-auth window open).
 */
async function twoServers(): Promise<{ oneRps: number; twoRps: number }> {
  const { mkdtemp, readFile: read, rm, writeFile } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const pg = (await import('pg')).default;
  const { freePort, runCli, startServe } = await import('../test/helpers/cli.ts');
  const { PG_ADMIN_URL } = await import('../test/helpers/db.ts');
  const { request } = await import('../test/helpers/https.ts');
  const { sessionFrom, totpNow } = await import('../test/helpers/identity.ts');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-bench-servers-'));
  const dbName = `sr_bench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const started: { child: import('node:child_process').ChildProcess; exited: Promise<number | null> }[] = [];
  try {
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${dbName}`;
    const homeA = path.join(dir, 'a');
    const shared = {
      DATABASE_URL: url.toString(),
      STRONGROOM_LOCAL_DRIVE_ROOT: path.join(dir, 'drives'),
      STRONGROOM_HTTP_PORT: 'off',
      STRONGROOM_METRICS_PORT: 'off',
      STRONGROOM_DRIVE_HEALTH_SECONDS: '0',
      STRONGROOM_POSTURE_CHECK_SECONDS: '0',
    };
    const envA = { ...shared, STRONGROOM_HOME: homeA, STRONGROOM_HTTPS_PORT: String(await freePort()) };
    const password = 'quiet lanterns over a distant harbour';
    await writeFile(path.join(dir, 'pw'), `${password}\n`, { mode: 0o600 });
    const init = runCli(
      ['init', '--admin-email', 'bench@corp.test', '--admin-password-file', path.join(dir, 'pw')],
      envA,
    );
    if (init.status !== 0) throw new Error(`init failed: ${init.stderr}`);
    const envB = {
      ...shared,
      STRONGROOM_HOME: path.join(dir, 'b'),
      STRONGROOM_HTTPS_PORT: String(await freePort()),
      STRONGROOM_ROOT_KEY_FILE: path.join(homeA, 'root.key'),
      STRONGROOM_TLS_CERT_FILE: path.join(homeA, 'tls', 'cert.pem'),
      STRONGROOM_TLS_KEY_FILE: path.join(homeA, 'tls', 'key.pem'),
    };
    started.push(await startServe(envA));
    started.push(await startServe(envB));
    const ca = await read(path.join(homeA, 'tls', 'cert.pem'), 'utf8');
    const [baseA, baseB] = [envA, envB].map((e) => `https://localhost:${e.STRONGROOM_HTTPS_PORT}`);
    const a = { req: (p: string, o = {}) => request(`${baseA}${p}`, { ...o, ca }) } as never;
    const json = (body: unknown) => ({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const first = await request(`${baseA}/api/v1/auth/login`, {
      ...json({ email: 'bench@corp.test', password }),
      ca,
    });
    if (first.status !== 200) throw new Error(`sign-in failed: ${first.status} ${first.body}`);
    const s = sessionFrom(a, first);
    const start = await s.req('/api/v1/auth/mfa/enrol', { method: 'POST' });
    const secret = start.json<{ secret: string }>().secret;
    const verify = await s.req('/api/v1/auth/mfa/enrol/verify', json({ code: totpNow(secret) }));
    if (verify.status !== 200) throw new Error(`enrol failed: ${verify.status} ${verify.body}`);
    const owner = sessionFrom(a, verify, s);
    const w = await owner.req('/api/v1/workspaces/default/secrets/data/bench/db', {
      ...json({ type: 'password', value: { password: 'bench-secret-value' } }),
      method: 'PUT',
    });
    if (w.status !== 201) throw new Error(`write failed: ${w.status} ${w.body}`);
    const path_ = '/api/v1/workspaces/default/secrets/reveal/bench/db';
    const headers = { cookie: owner.cookie, 'x-csrf-token': owner.csrf };
    for (const base of [baseA, baseB]) {
      const check = await load(`${base}${path_}`, ca, 'POST', headers, 0.5); // warm-up, and the session works on both
      if (check.errors > 0) throw new Error(`reveal on ${base} failed: ${check.firstError}`);
    }
    const one: number[] = [];
    const two: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const x = await load(`${baseA}${path_}`, ca, 'POST', headers, seconds);
      if (x.errors) throw new Error(`one server: ${x.errors} errors: ${x.firstError}`);
      one.push(x.done / seconds);
      const y = await load([`${baseA}${path_}`, `${baseB}${path_}`], ca, 'POST', headers, seconds);
      if (y.errors) throw new Error(`two servers: ${y.errors} errors: ${y.firstError}`);
      two.push(y.done / seconds);
    }
    console.log(
      `two strongroom serve processes on one PostgreSQL (${conns} connections, split across both; ${rounds} alternated rounds): one ${fmt(median(one))} req/s, two ${fmt(median(two))} req/s`,
    );
    return { oneRps: median(one), twoRps: median(two) };
  } finally {
    for (const p of started) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
    await admin.end();
    await rm(dir, { recursive: true, force: true });
  }
}
