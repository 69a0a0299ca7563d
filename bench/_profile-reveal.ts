/**
 * Profiling aid (not a benchmark; `_` keeps it out of `npm run bench`): the reveal route under
 * keep-alive HTTPS load from a worker thread, with
 * - the server thread's CPU time per request (from /proc, so other processes' noise does not
 *   count), for the reveal and for a bare Fastify hello-world in the same process;
 * - SQL statements per reveal, by text; with --postgres, the CPU time of this database's
 *   PostgreSQL backends per reveal (from /proc: the server processes whose title names it);
 * - optionally a CPU profile of the server thread during the reveal phase (--profile).
 * Usage: node --import tsx bench/_profile-reveal.ts [seconds=5] [conns=32] [--postgres] [--profile]
 */
import { Session } from 'node:inspector/promises';
import { readFileSync } from 'node:fs';
import { writeFile, mkdir } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { startBareHello } from './_bare-hello.ts';
import { sql } from 'kysely';
import { backendCpuMs } from './_proc-cpu.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const seconds = Number(args[0] ?? 5);
const conns = Number(args[1] ?? 32);
const backend = process.argv.includes('--postgres') ? 'postgres' : 'pglite';
const profile = process.argv.includes('--profile');

/** CPU ms (user+system) of the main thread so far. */
function mainThreadCpuMs(): number {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  sysMs = (Number(f[12]) * 1000) / 100;
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks (USER_HZ = 100)
}
let sysMs = 0;

function load(
  url: string,
  ca: string,
  method: string,
  headers: Record<string, string>,
  secs: number,
): Promise<{ done: number; errors: number; lat: number[] }> {
  const code = `
    const { parentPort, workerData: w } = require('node:worker_threads');
    const https = require('node:https');
    const agent = new https.Agent({ keepAlive: true, maxSockets: w.conns, ca: w.ca });
    let done = 0, errors = 0; const lat = []; const end = Date.now() + w.secs * 1000; let live = w.conns;
    function one() {
      if (Date.now() >= end) { if (--live === 0) { agent.destroy(); parentPort.postMessage({ done, errors, lat }); } return; }
      const t0 = performance.now();
      const req = https.request(w.url, { method: w.method, agent, headers: w.headers }, (res) => {
        res.resume(); res.on('end', () => { if (res.statusCode === 200) { done++; lat.push(performance.now() - t0); } else errors++; one(); });
      });
      req.on('error', () => { errors++; one(); }); req.end();
    }
    for (let i = 0; i < w.conns; i++) one();`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { url, ca, method, headers, secs, conns } });
    worker.once('message', (m) => {
      void worker.terminate();
      resolve(m);
    });
    worker.once('error', reject);
  });
}

const { startTestApp } = await import('../test/helpers/app.ts');
const { ownerSession, jsonBody } = await import('../test/helpers/identity.ts');
const app = await startTestApp(backend, { env: { STRONGROOM_LOG_LEVEL: 'warn' } });
const { bare, bareUrl } = await startBareHello(app);

let queries = 0;
const counts = new Map<string, number>();
const count = (text: string) => {
  queries++;
  const k = text.replace(/\s+/g, ' ').slice(0, 70);
  counts.set(k, (counts.get(k) ?? 0) + 1);
};
const db = app.server.database;
/** PGlite: named statements run as one Bind…Sync call; counted by name, named by pg_prepared_statements. */
const byName = new Map<string, number>();
if (db.pglite) {
  const c = db.pglite as unknown as {
    query: (...a: unknown[]) => unknown;
    execProtocolStream: (m: Uint8Array, o: unknown) => unknown;
  };
  const q = c.query.bind(c);
  c.query = (...a: unknown[]) => {
    count(String(a[0]));
    return q(...a);
  };
  const stream = c.execProtocolStream.bind(c);
  c.execProtocolStream = (m: Uint8Array, o: unknown) => {
    // Bind: 'B', length, portal name (empty here), statement name, both NUL-terminated.
    if (m[0] === 66 && m[5] === 0) {
      const name = Buffer.from(m.subarray(6, m.indexOf(0, 6))).toString();
      queries++;
      byName.set(name, (byName.get(name) ?? 0) + 1);
    }
    return stream(m, o);
  };
} else {
  const pg = await import('pg');
  const proto = pg.default.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const orig = proto.query;
  proto.query = function (this: unknown, ...a: unknown[]) {
    const t = a[0];
    count(typeof t === 'string' ? t : String((t as { text?: string })?.text));
    return orig.apply(this, a);
  };
}
try {
  const { session } = await ownerSession(app);
  const w = await session.req(
    '/api/v1/workspaces/default/secrets/data/bench/db',
    jsonBody({ type: 'password', value: { password: 'bench-secret-value' } }, 'PUT'),
  );
  if (w.status !== 201) throw new Error(`write failed: ${w.status}`);
  const revealUrl = `${app.base}/api/v1/workspaces/default/secrets/reveal/bench/db`;
  const headers = { cookie: session.cookie, 'x-csrf-token': session.csrf };
  await load(revealUrl, app.ca, 'POST', headers, 0.5);
  await load(bareUrl, app.ca, 'GET', {}, 0.5);

  let c0 = mainThreadCpuMs();
  const h = await load(bareUrl, app.ca, 'GET', {}, seconds);
  const helloCpu = ((mainThreadCpuMs() - c0) * 1000) / h.done;

  queries = 0;
  counts.clear();
  byName.clear();
  const s = new Session();
  s.connect();
  if (profile) {
    await s.post('Profiler.enable');
    await s.post('Profiler.setSamplingInterval', { interval: 200 });
    await s.post('Profiler.start');
  }
  const dbName =
    backend === 'postgres'
      ? (await sql<{ n: string }>`select current_database() as n`.execute(db.db)).rows[0]!.n
      : undefined;
  const pg0 = dbName ? backendCpuMs(dbName) : 0;
  c0 = mainThreadCpuMs();
  const sys0 = sysMs;
  const v = await load(revealUrl, app.ca, 'POST', headers, seconds);
  const revealCpu = ((mainThreadCpuMs() - c0) * 1000) / v.done;
  const pgCpu = dbName ? ((backendCpuMs(dbName) - pg0) * 1000) / v.done : 0;
  const revealSys = ((sysMs - sys0) * 1000) / v.done;
  if (profile) {
    const { profile: prof } = await s.post('Profiler.stop');
    await mkdir('/tmp/perf', { recursive: true });
    await writeFile(`/tmp/perf/reveal-${backend}.cpuprofile`, JSON.stringify(prof));
  }
  if (db.pglite && byName.size > 0) {
    const { rows } = await db.pglite.query<{ name: string; statement: string }>(
      'select name, statement from pg_prepared_statements',
    );
    for (const r of rows)
      if (byName.has(r.name))
        counts.set(`[named] ${r.statement.replace(/\s+/g, ' ').slice(0, 62)}`, byName.get(r.name)!);
  }
  v.lat.sort((a, b) => a - b);
  console.log(
    `${backend}: hello ${Math.round(h.done / seconds)} req/s, ${helloCpu.toFixed(0)} µs server-thread CPU/req; reveal ${Math.round(v.done / seconds)} req/s (errors ${v.errors}), ${revealCpu.toFixed(0)} µs CPU/req (${revealSys.toFixed(0)} system), p50 ${v.lat[Math.floor(v.lat.length / 2)]?.toFixed(1)} p99 ${v.lat[Math.floor(v.lat.length * 0.99)]?.toFixed(1)} ms; CPU ratio hello/reveal = ${(helloCpu / revealCpu).toFixed(3)}; SQL statements/reveal ${(queries / Math.max(1, v.done)).toFixed(2)}${dbName ? `; PostgreSQL backends ${pgCpu.toFixed(0)} µs CPU/reveal` : ''}`,
  );
  for (const [k, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 8))
    console.log(`  ${(n / Math.max(1, v.done)).toFixed(2)}  ${k}`);
} finally {
  await bare.close();
  await app.close();
}
