/**
 * Profile vs DuckDB SUMMARIZE, engine level (no server): a Parquet of BENCH_ROWS rows (default
 * 10 M) in BENCH_DIR (default /dev/shm) with an id, an e-mail, a card number, a country, an amount
 * and a date; per round (BENCH_ROUNDS, default 3) `SUMMARIZE` and `computeProfile` (two passes:
 * a 1000-row reservoir sample for detection, patterns, histogram bins and top-value candidates;
 * one aggregate pass for every statistic, histogram, top value and duplicate rows) each in a fresh DuckDB
 * instance with the same threads (BENCH_THREADS, default 2). vs_summarize = median of per-round
 * (profile seconds / SUMMARIZE seconds). detect_values_per_s: classifyColumn over 100 000 values
 * of each kind. rss_mb: peak RSS of this process during those rounds.
 *
 * Then, same run (BENCH_CSV_MB, default 1024; 0 skips it): the metadata-only CLI profile of a
 * CSV of that size vs the same file through the server (upload + background profile job), one
 * round each (bench/_profile-csv.ts); its line comes before the last:
 *   profile-csv: csv_mb=… rows=… cli_s=… cli_rss_mb=… server_s=… upload_s=… job_s=… cli_vs_server=…
 * (cli_vs_server = CLI seconds ÷ server seconds). Last line:
 *   profile: vs_summarize=… detect_values_per_s=… rss_mb=…
 *
 * Usage: BENCH_ROWS=10000000 BENCH_ROUNDS=3 BENCH_CSV_MB=1024 npm run bench -- profile
 */
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { classifyColumn } from '../src/modules/profiling/detect/classify.ts';
import { computeProfile } from '../src/modules/profiling/profiling.compute.ts';
import { runCsvBench } from './_profile-csv.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 10_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const THREADS = String(process.env.BENCH_THREADS ?? 2);
const CSV_MB = Number(process.env.BENCH_CSV_MB ?? 1024);
const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? '/dev/shm', 'strongroom-bench-profile-'));
const file = path.join(dir, 't.parquet');
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);

async function instance() {
  const inst = await DuckDBInstance.create(':memory:', { threads: THREADS });
  const conn = await inst.connect();
  return { conn, close: () => (conn.closeSync(), inst.closeSync()) };
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const g = await instance();
  await g.conn.run(`COPY (SELECT i AS id, 'user' || i || '@example.com' AS email,
      '4' || lpad((i * 7919 % 1000000000000000)::VARCHAR, 15, '0') AS card,
      ['de','fr','us','nl'][1 + i % 4] AS country, (i % 10000) / 4.0 AS amount,
      DATE '2020-01-01' + (i % 2000)::INTEGER AS day FROM range(${ROWS}) t(i)) TO '${file}' (FORMAT parquet)`);
  g.close();
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    const a = await instance();
    let t = performance.now();
    await a.conn.runAndReadAll(`SUMMARIZE SELECT * FROM read_parquet('${file}')`);
    const summarize = (performance.now() - t) / 1000;
    a.close();
    const b = await instance();
    t = performance.now();
    await computeProfile(
      b.conn,
      { sql: `SELECT * FROM read_parquet('${file}')`, params: {} },
      { k: 10, includeValues: true },
    );
    const profile = (performance.now() - t) / 1000;
    b.close();
    ratios.push(profile / summarize);
    console.log(`round ${r + 1}: summarize ${summarize.toFixed(2)} s, profile ${profile.toFixed(2)} s`);
  }
  const values = Array.from(
    { length: 100_000 },
    (_, i) =>
      [`user${i}@example.com`, `+1 212-456-${String(i % 10000).padStart(4, '0')}`, `DE89370400440532013000`, String(i)][
        i % 4
      ]!,
  );
  const t = performance.now();
  for (let i = 0; i < values.length; i += 1000) classifyColumn('col', values.slice(i, i + 1000));
  const perS = values.length / ((performance.now() - t) / 1000);
  clearInterval(sampler);
  if (CSV_MB > 0) {
    await rm(file, { force: true });
    const f = await runCsvBench({ dir, mb: CSV_MB, log: (x) => console.log(x) });
    console.log(
      `profile-csv: csv_mb=${Math.round(f.bytes / 2 ** 20)} rows=${f.rows} cli_s=${f.cliSeconds.toFixed(1)} cli_rss_mb=${f.cliRssMb} server_s=${f.serverSeconds.toFixed(1)} upload_s=${f.uploadSeconds.toFixed(1)} job_s=${f.jobSeconds.toFixed(1)} cli_vs_server=${(f.cliSeconds / f.serverSeconds).toFixed(2)}`,
    );
  }
  console.log(
    `profile: vs_summarize=${median(ratios).toFixed(2)} detect_values_per_s=${Math.round(perS)} rss_mb=${Math.round(peak / 2 ** 20)}`,
  );
} finally {
  clearInterval(sampler);
  await rm(dir, { recursive: true, force: true });
}
