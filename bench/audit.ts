/**
 * Audit append and verify throughput.
 * - append: 32 concurrent writers, each event in its own (durable) transaction, background
 *   chainer running; timed until every event is chained. PGlite file-backed in a temp dir, and
 *   PostgreSQL (throwaway database, synchronous_commit on).
 * - verify: `verify()` over ≥ 100 k chained events in PostgreSQL (DB read + hash + checkpoints).
 * Last line: audit: append_per_s=<pglite> append_pg_per_s=<pg> verify_per_s=<n>
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { appendEvents } from '../src/core/audit/chain.ts';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';
import { openDatabase, type DatabaseHandle } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { createAuditModule } from '../src/modules/audit/index.ts';
import { insertEvents, readHead, setHead } from '../src/modules/audit/audit.store.ts';
import { PG_ADMIN_URL } from '../test/helpers/db.ts';

const WRITERS = 32;

function draft(w: number, i: number) {
  return {
    actor: { id: `usr_${w}`, kind: 'user' as const, authMethod: 'password' },
    action: 'vault.secret.read',
    resource: { type: 'secret', id: `sec_${w}_${i}`, workspace: 'ws_main' },
    outcome: 'success' as const,
    requestId: `req-${w}-${i}`,
    sourceIp: '192.0.2.10',
    userAgent: 'bench/1.0',
    details: { writer: w, i, note: 'x'.repeat(40) },
  };
}

const barrier = createBarrier({ keyring: Keyring.create() });

async function appendRate(h: DatabaseHandle, logDir: string, perWriter: number): Promise<number> {
  const audit = createAuditModule({ db: h.db, barrier, logDir });
  audit.start();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) await h.db.transaction().execute((trx) => audit.record(trx, draft(w, i)));
    }),
  );
  await audit.chainPending();
  const dt = (performance.now() - t0) / 1000;
  await audit.stop();
  const head = await readHead(h.db);
  if (head.seq !== WRITERS * perWriter) throw new Error(`expected ${WRITERS * perWriter} events, head at ${head.seq}`);
  return head.seq / dt;
}

async function fill(h: DatabaseHandle, n: number): Promise<void> {
  const time = new Date().toISOString();
  for (let done = 0; done < n; done += 5000) {
    await h.db.transaction().execute(async (trx) => {
      const head = await readHead(trx);
      const events = appendEvents(head, Array.from({ length: Math.min(5000, n - done) }, (_, i) => ({ ...draft(i % WRITERS, done + i), time })));
      await insertEvents(trx, events);
      await setHead(trx, { seq: events.at(-1)!.seq, hash: events.at(-1)!.hash });
    });
  }
}

async function pgDatabase(): Promise<{ h: DatabaseHandle; drop: () => Promise<void> }> {
  const name = `sr_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const h = await openDatabase({ kind: 'postgres', url: url.toString(), allowWeakTls: false, poolSize: WRITERS + 2 });
  await migrateToLatest(h.db as never);
  const drop = async () => {
    await h.close();
    const a = new pg.Client({ connectionString: PG_ADMIN_URL });
    await a.connect();
    await a.query(`drop database if exists ${name} with (force)`);
    await a.end();
  };
  return { h, drop };
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-bench-audit-'));
try {
  const lite = await openDatabase({ kind: 'pglite', dataDir: path.join(dir, 'db') });
  await migrateToLatest(lite.db as never);
  const litePerS = await appendRate(lite, path.join(dir, 'logs-lite'), 60);
  await lite.close();
  console.log(`append, PGlite file-backed, ${WRITERS} writers: ${litePerS.toFixed(0)} events/s`);

  const { h, drop } = await pgDatabase();
  try {
    const pgPerS = await appendRate(h, path.join(dir, 'logs-pg'), 250);
    console.log(`append, PostgreSQL, ${WRITERS} writers: ${pgPerS.toFixed(0)} events/s (target ≥ 5000)`);
    await fill(h, 100_000);
    const audit = createAuditModule({ db: h.db, barrier, logDir: path.join(dir, 'logs-pg') });
    await audit.checkpointNow();
    const t0 = performance.now();
    const report = await audit.verify();
    const verifyPerS = report.eventsChecked / ((performance.now() - t0) / 1000);
    if (!report.ok) throw new Error(`verify found problems: ${JSON.stringify(report.problems.slice(0, 3))}`);
    console.log(`verify, PostgreSQL + export, ${report.eventsChecked} events: ${verifyPerS.toFixed(0)} events/s (target ≥ 300000)`);
    console.log(`audit: append_per_s=${litePerS.toFixed(0)} append_pg_per_s=${pgPerS.toFixed(0)} verify_per_s=${verifyPerS.toFixed(0)}`);
  } finally {
    await drop();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
