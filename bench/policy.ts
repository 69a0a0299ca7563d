/**
 * Data policy cost (issue 17): the same statement on a generated table with and without a policy
 * of three masks (one keyed_hash, one show_last_n, one round) and a row filter bound to a reader
 * attribute, in the same run, through the real `prepareStatement` → `readerRelation` path and a
 * DuckDB instance limited like a query's (threads, memory). Also the cost of building a reader's
 * relation (policy compilation + parse + rebuild of the statement) per query.
 *
 * The table lives in /dev/shm (as query copies do). Rows: argv[2] (default 10,000,000), written
 * in a pseudo-random order (`ORDER BY hash(i)`): sorted plaintext let the plain run's top-N and
 * DISTINCT ride on the order, which flattered it; both sides read the same rows. The
 * statement touches every masked column, so the masks cannot be pruned away:
 *   SELECT ssn, card, salary FROM people WHERE salary > 100 ORDER BY ssn LIMIT 10
 * plus an aggregate over the masked salary. Median of `rounds` (argv[3], default 3) runs each,
 * alternating plain and masked. No timing is asserted.
 *
 * The text masks (here the keyed hash and show_last_n) are computed once per (version, columns,
 * mask) into a masked query copy that carries them (`query.copies.ts` → `acquireFor`, real copies
 * here); `masked_vs_plain` reads through that warm copy. `inline_vs_plain`: the same policy with HMAC-SHA256 computed in the statement per query
 * (how it was before: four SHA-256 blocks per value, ~3 µs in DuckDB SQL). `hash_copy_ms`: the
 * one-time cost of building the masked copy (paid by the first masked read of a version).
 * `without_keyed_hash`: the same policy with the keyed hash replaced by redact, per statement.
 *
 * `compile_ms`: building the reader's relation per query with the real policies service (PGlite,
 * 21 policies, cached plans checked against the policy stamp); `compile_uncached_ms`: the same
 * with the plan built as before the cache (load + parse all policies, open the key, compile).
 *
 * Last line: policy: masked_vs_plain=… compile_ms=… compile_uncached_ms=… inline_vs_plain=… without_keyed_hash=… hash_copy_ms=… plain_ms=… masked_ms=… rows=…
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Actor } from '../src/core/actor.ts';
import {
  appliesTo,
  compilePlan,
  targets,
  type ApplicablePolicy,
  type HashKey,
} from '../src/modules/policies/policies.compile.ts';
import type { PolicyBody } from '../src/contracts/policies.ts';
import { parseFilter } from '../src/modules/policies/policies.filter.ts';
import { createPoliciesService } from '../src/modules/policies/policies.service.ts';
import { readKey, selectCurrent } from '../src/modules/policies/policies.store.ts';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';
import { createTestDatabase } from '../test/helpers/db.ts';
import { createCopies } from '../src/modules/query/query.copies.ts';
import { openParser, openScratch } from '../src/modules/query/query.engine.ts';
import { prepareStatement } from '../src/modules/query/query.statement.ts';

const rows = Number(process.argv[2] ?? 10_000_000);
const rounds = Number(process.argv[3] ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = await mkdtemp(path.join('/dev/shm', 'strongroom-bench-policy-'));
const file = path.join(dir, 'people.parquet');
const inst = await DuckDBInstance.create(':memory:', { threads: '2', memory_limit: '1024MB' });
const conn = await inst.connect();
const scratch = await openScratch('/dev/shm');
try {
  const copies = createCopies({
    scratch,
    limits: { memoryMb: 1024, threads: 2 },
    budgetBytes: 8 * 1024 ** 3,
    openPlaintext: async () => ({ stream: createReadStream(file) }),
  });
  const inlineCopies = {
    acquire: async () => ({ path: file, release: () => undefined }),
    acquireFor: async () => ({ path: file, release: () => undefined, precomputed: {} }),
  };
  await conn.run(
    `COPY (SELECT i AS id, 'SSN-' || lpad(CAST(i AS VARCHAR), 9, '0') AS ssn, CAST(4000000000000000 + i AS VARCHAR) AS card,
       (i * 7919) % 200000 AS salary, CASE i % 3 WHEN 0 THEN 'eu' WHEN 1 THEN 'us' ELSE 'apac' END AS region
     FROM range(${rows}) t(i) ORDER BY hash(i)) TO '${file}' (FORMAT parquet)`,
  );
  const parser = await openParser();
  const key = randomBytes(32);
  const pad = (b: number) => Buffer.from(Array.from({ length: 64 }, (_, i) => (key[i] ?? 0) ^ b)).toString('hex');
  const hashKey: HashKey = { inner: pad(0x36), outer: pad(0x5c), id: 'bench-key' };
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
  type Mode = false | true | 'nohash' | 'inline';
  const deps = (withPolicy: Mode) => ({
    datasets: {
      find: async () => ({ tags: [] }) as never,
      versions: async () => [{ version: 1, tabularFormat: 'parquet', sha256: 'x', size: 1 }] as never,
      open: async () => undefined as never,
    },
    copies: (withPolicy === true ? copies : inlineCopies) as never,
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
  const timeOne = async (withPolicy: Mode, text: string) => {
    const st = await prepareStatement(deps(withPolicy), reader, 'default', text, () => true, 'dataset.data.query');
    try {
      const t0 = performance.now();
      await conn.runAndReadAll(st.sql, st.params);
      return performance.now() - t0;
    } finally {
      st.release();
    }
  };
  const plain: number[] = [];
  const masked: number[] = [];
  const inline: number[] = [];
  const maskedNoHash: number[] = [];
  await timeOne(false, sql); // warm the file cache
  const c0 = performance.now();
  (await prepareStatement(deps(true), reader, 'default', sql, () => true, 'dataset.data.query')).release();
  const hashCopyMs = performance.now() - c0; // builds the plain copy and the hashed copy once
  for (let r = 0; r < rounds; r++) {
    plain.push((await timeOne(false, sql)) + (await timeOne(false, agg)));
    masked.push((await timeOne(true, sql)) + (await timeOne(true, agg)));
    inline.push((await timeOne('inline', sql)) + (await timeOne('inline', agg)));
    maskedNoHash.push((await timeOne('nohash', sql)) + (await timeOne('nohash', agg)));
  }
  // Building the reader's plan with the real policies service (PGlite, barrier-sealed key):
  // cached (checked against the workspace's policy stamp) vs what every read did before the
  // cache — load and parse every policy of the workspace, open the sealed key, compile.
  const db = await createTestDatabase('pglite');
  const barrier = createBarrier({ keyring: Keyring.create() });
  const service = createPoliciesService({
    db: db.db,
    barrier,
    authorize: () => false,
    serialize: parser.serialize,
    tagsOf: async () => [],
  });
  await service.save({ ws: 'default', name: 'bench', body, dryRun: false, actor: 'bench' });
  for (let i = 0; i < 20; i++)
    await service.save({
      ws: 'default',
      name: `other-${i}`,
      body: { ...body, target: { dataset: `other-${i}` } },
      dryRun: false,
      actor: 'bench',
    });
  const source = { workspaceId: 'default', dataset: 'people', tags: [] };
  await service.lookup.planFor(reader, source, 'sr_0_');
  const uncachedPlan = async () => {
    const current = (await selectCurrent(db.db, 'default')).filter((p) => targets(p.policy, 'people', []));
    const app: ApplicablePolicy[] = [];
    for (const p of current)
      if (appliesTo(p.policy, reader, false))
        app.push({
          name: p.name,
          body: p.policy,
          ...(p.policy.rowFilter ? { filter: await parseFilter(p.policy.rowFilter, parser.serialize) } : {}),
        });
    const sealed = (await readKey(db.db, 'default'))!.sealed!;
    const k = barrier.open(sealed, { table: 'data_policy_keys', column: 'sealed', rowId: 'default' });
    k.fill(0);
    return compilePlan(app, reader, 'sr_0_', () => hashKey);
  };
  const planCached: number[] = [];
  const planUncached: number[] = [];
  for (let i = 0; i < 50; i++) {
    let t0 = performance.now();
    await service.lookup.planFor(reader, source, 'sr_0_');
    planCached.push(performance.now() - t0);
    t0 = performance.now();
    await uncachedPlan();
    planUncached.push(performance.now() - t0);
  }
  // compile_ms: the whole cost of building the reader's relation per query (real cached plan,
  // parse, rebuild of the statement); compile_uncached_ms: the same with the plan built as before.
  const realDeps = (cached: boolean) => ({
    ...deps(true),
    policies: { planFor: cached ? service.lookup.planFor : async () => uncachedPlan() },
  });
  const compile: number[] = [];
  const compileUncached: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    (await prepareStatement(realDeps(true), reader, 'default', sql, () => true, 'dataset.data.query')).release();
    compile.push(performance.now() - t0);
    const t1 = performance.now();
    (await prepareStatement(realDeps(false), reader, 'default', sql, () => true, 'dataset.data.query')).release();
    compileUncached.push(performance.now() - t1);
  }
  await db.close();
  const plainMs = median(plain);
  const maskedMs = median(masked);
  parser.close();
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
  console.log(
    `plan per read (ms, medians): cached ${median(planCached).toFixed(3)}, uncached ${median(planUncached).toFixed(3)}`,
  );
  console.log(`runs (ms): plain ${list(plain)}; masked ${list(masked)}; inline hmac ${list(inline)}`);
  console.log(
    `policy: masked_vs_plain=${(maskedMs / plainMs).toFixed(2)} compile_ms=${median(compile).toFixed(2)} compile_uncached_ms=${median(compileUncached).toFixed(2)} inline_vs_plain=${(median(inline) / plainMs).toFixed(2)} without_keyed_hash=${(median(maskedNoHash) / plainMs).toFixed(2)} hash_copy_ms=${hashCopyMs.toFixed(0)} plain_ms=${plainMs.toFixed(0)} masked_ms=${maskedMs.toFixed(0)} rows=${rows}`,
  );
} finally {
  await scratch.close();
  conn.closeSync();
  inst.closeSync();
  await rm(dir, { recursive: true, force: true });
}
