/**
 * Data policy cost (issue 17): the same statement on a generated table with and without a policy
 * of three masks (one keyed_hash, one show_last_n, one round) and a row filter bound to a reader
 * attribute, in the same run, through the real `prepareStatement` → `readerRelation` path and a
 * DuckDB instance limited like a query's (threads, memory). Also the cost of building a reader's
 * relation (policy compilation + parse + rebuild of the statement) per query.
 *
 * The table lives in /dev/shm (as query copies do). Rows: argv[2] (default 10,000,000). The
 * statement touches every masked column, so the masks cannot be pruned away:
 *   SELECT ssn, card, salary FROM people WHERE salary > 100 ORDER BY ssn LIMIT 10
 * plus an aggregate over the masked salary. Median of `rounds` (argv[3], default 3) runs each,
 * alternating plain and masked. No timing is asserted.
 *
 * `without_keyed_hash`: the same policy with the keyed hash replaced by redact (HMAC-SHA256 in
 * DuckDB SQL costs four SHA-256 blocks per value: DuckDB 1.5.6 has sha256 but no HMAC).
 *
 * Last line: policy: masked_vs_plain=… without_keyed_hash=… compile_ms=… plain_ms=… masked_ms=… rows=…
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Actor } from '../src/core/actor.ts';
import { compilePlan, type ApplicablePolicy, type HashKey } from '../src/modules/policies/policies.compile.ts';
import type { PolicyBody } from '../src/contracts/policies.ts';
import { parseFilter } from '../src/modules/policies/policies.filter.ts';
import { openParser } from '../src/modules/query/query.engine.ts';
import { prepareStatement } from '../src/modules/query/query.statement.ts';

const rows = Number(process.argv[2] ?? 10_000_000);
const rounds = Number(process.argv[3] ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = await mkdtemp(path.join('/dev/shm', 'strongroom-bench-policy-'));
const file = path.join(dir, 'people.parquet');
const inst = await DuckDBInstance.create(':memory:', { threads: '2', memory_limit: '1024MB' });
const conn = await inst.connect();
try {
  await conn.run(
    `COPY (SELECT i AS id, 'SSN-' || lpad(CAST(i AS VARCHAR), 9, '0') AS ssn, CAST(4000000000000000 + i AS VARCHAR) AS card,
       (i * 7919) % 200000 AS salary, CASE i % 3 WHEN 0 THEN 'eu' WHEN 1 THEN 'us' ELSE 'apac' END AS region
     FROM range(${rows}) t(i)) TO '${file}' (FORMAT parquet)`,
  );
  const parser = await openParser();
  const key = randomBytes(32);
  const pad = (b: number) => Buffer.from(Array.from({ length: 64 }, (_, i) => (key[i] ?? 0) ^ b)).toString('hex');
  const hashKey: HashKey = { inner: pad(0x36), outer: pad(0x5c) };
  const body = {
    target: { dataset: 'people' },
    description: '',
    hide: [],
    masks: [
      { column: 'ssn', kind: 'keyed_hash' },
      { column: 'card', kind: 'show_last_n', n: 4 },
      { column: 'salary', kind: 'round', digits: -3 },
    ],
    rowFilter: "region = reader.region or reader.region = 'all'",
  } as PolicyBody;
  const noHash = {
    ...body,
    masks: body.masks.map((m) => (m.kind === 'keyed_hash' ? { column: 'ssn', kind: 'redact', replacement: 'x' } : m)),
  } as PolicyBody;
  const applicableNoHash: ApplicablePolicy[] = [
    { name: 'bench', body: noHash, filter: await parseFilter(body.rowFilter!, parser.serialize) },
  ];
  const applicable: ApplicablePolicy[] = [
    { name: 'bench', body, filter: await parseFilter(body.rowFilter!, parser.serialize) },
  ];
  const reader: Actor = { id: 'u', kind: 'user', roles: ['analyst'], attributes: { region: 'all' } };
  const deps = (withPolicy: boolean | 'nohash') => ({
    datasets: {
      find: async () => ({ tags: [] }) as never,
      versions: async () => [{ version: 1, tabularFormat: 'parquet', sha256: 'x', size: 1 }] as never,
      open: async () => undefined as never,
    },
    copies: { acquire: async () => ({ path: file, release: () => undefined }) } as never,
    parser,
    ...(withPolicy
      ? {
          policies: {
            planFor: async (r: Actor, _s: unknown, prefix: string) =>
              compilePlan(withPolicy === 'nohash' ? applicableNoHash : applicable, r, prefix, () => hashKey),
          },
        }
      : {}),
  });
  const sql = 'SELECT ssn, card, salary FROM people WHERE salary > 100 ORDER BY ssn LIMIT 10';
  const agg = 'SELECT count(DISTINCT ssn), sum(salary), max(card) FROM people';
  const timeOne = async (withPolicy: boolean | 'nohash', text: string) => {
    const st = await prepareStatement(deps(withPolicy), reader, 'default', text, () => true, 'dataset.data.query');
    const t0 = performance.now();
    await conn.runAndReadAll(st.sql, st.params);
    return performance.now() - t0;
  };
  const plain: number[] = [];
  const masked: number[] = [];
  const maskedNoHash: number[] = [];
  await timeOne(false, sql); // warm the file cache
  for (let r = 0; r < rounds; r++) {
    plain.push((await timeOne(false, sql)) + (await timeOne(false, agg)));
    masked.push((await timeOne(true, sql)) + (await timeOne(true, agg)));
    maskedNoHash.push((await timeOne('nohash', sql)) + (await timeOne('nohash', agg)));
  }
  const compile: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await prepareStatement(deps(true), reader, 'default', sql, () => true, 'dataset.data.query');
    compile.push(performance.now() - t0);
  }
  const plainMs = median(plain);
  const maskedMs = median(masked);
  parser.close();
  console.log(
    `plain runs (ms): ${plain.map((x) => x.toFixed(0)).join(' ')}; masked runs (ms): ${masked.map((x) => x.toFixed(0)).join(' ')}`,
  );
  console.log(
    `policy: masked_vs_plain=${(maskedMs / plainMs).toFixed(2)} without_keyed_hash=${(median(maskedNoHash) / plainMs).toFixed(2)} compile_ms=${median(compile).toFixed(2)} plain_ms=${plainMs.toFixed(0)} masked_ms=${maskedMs.toFixed(0)} rows=${rows}`,
  );
} finally {
  conn.closeSync();
  inst.closeSync();
  await rm(dir, { recursive: true, force: true });
}
