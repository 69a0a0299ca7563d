/**
 * Governed reads (issue 16, DESIGN §8): the SQL query path through the whole stack against DuckDB
 * on the plaintext Parquet file, and the preview of a big CSV against decrypting it whole.
 *
 * Setup: a generated table of BENCH_QUERY_ROWS rows (default 10,000,000: id, name, email,
 * country, amount, date) as a plaintext Parquet file, uploaded (encrypted) as dataset `big`; a
 * CSV of BENCH_PREVIEW_MB MiB (default 2048) uploaded as `bigcsv`. The server runs in this
 * process (`startTestApp`: PGlite, the local drive, HTTPS on 127.0.0.1 port 0, queries with
 * their default threads and memory limit); the reference DuckDB runs in a child process
 * (`_query-raw.ts`) with the same threads and memory limit on one open instance.
 *
 * 1. Queries (aggregate, filters, a selective lookup, a monthly roll-up) through
 *    `POST /api/v1/workspaces/default/query` (TLS, session, Cedar, SQL check, audit, a fresh
 *    locked-down DuckDB instance over the version's query copy in tmpfs) vs the reference on the
 *    plaintext file. `cold_vs_raw`: the first query of the version (it builds the query copy:
 *    the whole object decrypted once) ÷ the reference's first run of the same query.
 *    `warm_vs_raw`: per round, the API's total over all queries ÷ the reference's; the median of
 *    BENCH_ROUNDS rounds. Every API answer is checked equal to the reference's (untimed).
 * 2. `preview_vs_full`: `GET …/bigcsv/versions/1/preview?limit=100` (median of the rounds) ÷
 *    decrypting the whole object (the datasets service's authenticated decrypt stream, drained,
 *    SHA-256 checked; median of the rounds).
 * 3. `rss_mb`: the peak RSS of this process (the server, PGlite and the harness) during 1 and 2.
 *
 * Usage: [BENCH_QUERY_ROWS=1000000] [BENCH_PREVIEW_MB=256] [BENCH_ROUNDS=3] [BENCH_DIR=/tmp] npm run bench -- query
 * Last line: query: warm_vs_raw=… cold_vs_raw=… preview_vs_full=… rss_mb=…
 */
import { fork } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exchange, streamRequest } from '../src/client/http-client.ts';
import { startTestApp } from '../test/helpers/app.ts';
import { ownerSession } from '../test/helpers/identity.ts';
import { median } from './dataset-io.ts';
import type { RawJob, RawReply } from './_query-raw.ts';

const ROWS = Number(process.env.BENCH_QUERY_ROWS ?? 10_000_000);
const PREVIEW_MB = Number(process.env.BENCH_PREVIEW_MB ?? 2048);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WS = '/api/v1/workspaces/default';
const MiB = 1024 * 1024;

/** The bench queries; `{t}` is the table (dataset `big`, or the plaintext file for the reference). */
const QUERIES: Record<string, string> = {
  aggregate:
    'SELECT country, count(*) AS n, sum(amount) AS total, avg(amount) AS mean FROM {t} GROUP BY country ORDER BY country',
  filter: "SELECT count(*) AS n, sum(amount) AS total FROM {t} WHERE day >= DATE '2023-01-01' AND amount > 500",
  lookup: "SELECT id, name, email FROM {t} WHERE email LIKE 'user12345%' ORDER BY id LIMIT 100",
  monthly: "SELECT date_trunc('month', day) AS m, count(*) AS n, max(amount) AS top FROM {t} GROUP BY 1 ORDER BY 1",
};
const TABLE_SQL = (n: number) =>
  `SELECT i AS id, 'name_' || i AS name, 'user' || i || '@example.test' AS email,
     ['DE','FR','US','JP','BR','IN','GB','ES','IT','NL'][1 + (hash(i) % 10)::INT] AS country,
     round((hash(i * 7) % 100000) / 100.0, 2) AS amount,
     DATE '2020-01-01' + (i % 1800)::INT AS day
   FROM range(${n}) t(i)`;

/** Equal rows; doubles within 1e-9 relative (a parallel sum of doubles depends on its order). */
function sameRows(a: unknown[][], b: unknown[][]): boolean {
  const same = (x: unknown, y: unknown) =>
    typeof x === 'number' && typeof y === 'number'
      ? Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y))
      : JSON.stringify(x) === JSON.stringify(y);
  return a.length === b.length && a.every((r, i) => r.length === b[i]!.length && r.every((v, j) => same(v, b[i]![j])));
}

function rawChild() {
  const child = fork(fileURLToPath(new URL('./_query-raw.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const call = (job: RawJob) =>
    new Promise<Extract<RawReply, { ok: true }>>((resolve, reject) => {
      child.once('message', (r: RawReply) => (r.ok ? resolve(r) : reject(new Error(r.error))));
      child.send(job);
    });
  return { call, stop: () => child.kill() };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'strongroom-bench-query-'));
  const raw = rawChild();
  const app = await startTestApp('pglite', {
    env: { STRONGROOM_UPLOAD_MAX_BYTES: String(64 * 1024 * MiB), STRONGROOM_QUERY_TIMEOUT_MS: '3600000' },
  });
  let peak = 0;
  let sampling = false;
  const sampler = setInterval(() => {
    if (sampling) peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  try {
    const { session: owner } = await ownerSession(app);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: app.ca, servername: 'localhost' });
    const headers = { cookie: owner.cookie, 'x-csrf-token': owner.csrf };
    const call = <T>(method: string, p: string, body?: unknown) =>
      exchange<T>({ baseUrl: app.base, agent, headers, timeoutMs: 3_600_000 }, method, p, body).then((r) => r.body);
    await raw.call({
      kind: 'open',
      threads: app.config.STRONGROOM_QUERY_THREADS,
      memoryMb: app.config.STRONGROOM_QUERY_MEMORY_MB,
    });

    const parquet = path.join(dir, 'big.parquet');
    const csv = path.join(dir, 'big.csv');
    let t0 = performance.now();
    await raw.call({ kind: 'exec', sql: `COPY (${TABLE_SQL(ROWS)}) TO '${parquet}' (FORMAT parquet)` });
    const csvRows = Math.ceil((PREVIEW_MB * MiB) / 63);
    await raw.call({ kind: 'exec', sql: `COPY (${TABLE_SQL(csvRows)}) TO '${csv}' (FORMAT csv, HEADER)` });
    const sizes = { parquet: (await stat(parquet)).size, csv: (await stat(csv)).size };
    console.log(
      `generated ${ROWS.toLocaleString('en')} rows → ${(sizes.parquet / MiB).toFixed(0)} MiB Parquet; ${csvRows.toLocaleString('en')} rows → ${(sizes.csv / MiB).toFixed(0)} MiB CSV (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );

    const upload = async (name: string, file: string) => {
      const size = (await stat(file)).size;
      const started = performance.now();
      const res = await streamRequest(
        {
          baseUrl: app.base,
          ca: app.ca,
          servername: 'localhost',
          headers: {
            cookie: owner.cookie,
            'x-csrf-token': owner.csrf,
            'content-type': 'application/octet-stream',
            'content-length': String(size),
          },
        },
        'PUT',
        `${WS}/datasets/${name}/versions?filename=${path.basename(file)}`,
        createReadStream(file, { highWaterMark: 2 * MiB }),
      );
      for await (const _ of res.body);
      console.log(
        `uploaded ${name}: ${(size / MiB).toFixed(0)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    };
    await upload('big', parquet);
    await upload('bigcsv', csv);

    const api = async (sql: string) => {
      const started = performance.now();
      const res = await call<{ rows: unknown[][] }>('POST', `${WS}/query`, { sql, limit: 10_000 });
      return { ms: performance.now() - started, rows: res.rows };
    };
    const ref = (sql: string) => raw.call({ kind: 'run', sql });
    const scan = `read_parquet('${parquet}')`;
    const names = Object.keys(QUERIES);

    // 1. Queries: the first (cold) run of the version, then ROUNDS warm rounds in rotated order.
    sampling = true;
    const first = names[0]!;
    const coldRef = await ref(QUERIES[first]!.replaceAll('{t}', scan));
    const cold = await api(QUERIES[first]!.replaceAll('{t}', 'big'));
    const per: Record<string, { api: number[]; raw: number[] }> = {};
    const roundRatios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let apiTotal = 0;
      let rawTotal = 0;
      for (let k = 0; k < names.length; k++) {
        const name = names[(k + r) % names.length]!;
        const a = await api(QUERIES[name]!.replaceAll('{t}', 'big'));
        const b = await ref(QUERIES[name]!.replaceAll('{t}', scan));
        if (!sameRows(a.rows, b.rows ?? [])) throw new Error(`${name}: the API and DuckDB disagree`);
        (per[name] ??= { api: [], raw: [] }).api.push(a.ms);
        per[name].raw.push(b.ms);
        apiTotal += a.ms;
        rawTotal += b.ms;
      }
      roundRatios.push(apiTotal / rawTotal);
    }
    for (const [name, m] of Object.entries(per))
      console.log(
        `  ${name.padEnd(10)} api ${median(m.api).toFixed(1)} ms   raw ${median(m.raw).toFixed(1)} ms   ratio ${(median(m.api) / median(m.raw)).toFixed(2)}`,
      );
    console.log(
      `  cold (${first}, builds the query copy) api ${cold.ms.toFixed(0)} ms   raw first run ${coldRef.ms.toFixed(0)} ms`,
    );

    // 2. Preview of the big CSV vs decrypting it whole.
    const previews: number[] = [];
    const fulls: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      t0 = performance.now();
      const p = await call<{ rows: unknown[] }>('GET', `${WS}/datasets/bigcsv/versions/1/preview?limit=100`);
      previews.push(performance.now() - t0);
      if (p.rows.length !== 100) throw new Error('the preview did not give 100 rows');
      t0 = performance.now();
      const opened = await app.server.datasets.open('default', 'bigcsv', 1);
      let n = 0;
      for await (const chunk of opened.stream) n += (chunk as Buffer).length;
      fulls.push(performance.now() - t0);
      if (n !== sizes.csv) throw new Error(`decrypted ${n} of ${sizes.csv} bytes`);
    }
    sampling = false;
    console.log(
      `  preview ${median(previews).toFixed(1)} ms   full decrypt ${median(fulls).toFixed(0)} ms (${(sizes.csv / MiB / (median(fulls) / 1000)).toFixed(0)} MiB/s)`,
    );
    agent.destroy();
    const warm = median(roundRatios);
    const coldRatio = cold.ms / coldRef.ms;
    const previewRatio = median(previews) / median(fulls);
    console.log(
      `query: warm_vs_raw=${warm.toFixed(2)} cold_vs_raw=${coldRatio.toFixed(2)} preview_vs_full=${previewRatio.toFixed(4)} rss_mb=${Math.round(peak / MiB)}`,
    );
  } finally {
    clearInterval(sampler);
    raw.stop();
    await app.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
