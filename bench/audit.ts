/**
 * Audit append and verify throughput.
 * - append: 32 concurrent writers, each event in its own (durable) transaction, background
 *   chainer running; timed until every event is chained. PGlite file-backed in a temp dir, and
 *   PostgreSQL (throwaway database, synchronous_commit on).
 * - append_group_pg: the same 32 writers recording each event on its own (`recordCommitted`, the
 *   path of denials, failures and reads): each writer still waits until its event is committed,
 *   but concurrent events share one INSERT and commit (group commit, audit.group.ts).
 * - bare_pg: the same 32 writers doing a bare pg BEGIN / INSERT (the same JSON draft) / COMMIT
 *   into `audit_pending` on their own connections, nothing else: the ceiling for append_pg.
 * - verify: `verify()` over ≥ 100 k chained events in PostgreSQL (DB read + hash + checkpoints +
 *   byte-for-byte compare with the export).
 * - verify_core: `ChainVerifier` alone over the same events held in memory (no database, no
 *   export): the ceiling for verify on this machine at this moment.
 * Last line: audit: append_per_s=<pglite> append_pg_per_s=<pg> bare_pg_per_s=<n> verify_per_s=<n> verify_core_per_s=<n> append_group_pg_per_s=<n>
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { appendEvents, ChainVerifier } from '../src/core/audit/chain.ts';
import type { AuditEvent } from '../src/core/audit/event.ts';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';
import { openDatabase, type DatabaseHandle } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { createAuditModule } from '../src/modules/audit/index.ts';
import { eventPages, insertEvents, readHead, setHead } from '../src/modules/audit/audit.store.ts';
import { createTestDatabase } from '../test/helpers/db.ts';
import { benchDraft as draft } from './_audit-draft.ts';

const WRITERS = 32;

const barrier = createBarrier({ keyring: Keyring.create() });

async function appendRate(h: DatabaseHandle, logDir: string, perWriter: number, onItsOwn = false): Promise<number> {
  const audit = createAuditModule({ db: h.db, barrier, logDir });
  const before = (await readHead(h.db)).seq;
  audit.start();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) {
        if (onItsOwn) await audit.recordCommitted(draft(w, i));
        else await h.db.transaction().execute((trx) => audit.record(trx, draft(w, i)));
      }
    }),
  );
  await audit.chainPending();
  const dt = (performance.now() - t0) / 1000;
  await audit.stop();
  const added = (await readHead(h.db)).seq - before;
  if (added !== WRITERS * perWriter) throw new Error(`expected ${WRITERS * perWriter} events, ${added} chained`);
  return added / dt;
}

/** 32 bare pg connections, each event BEGIN / INSERT / COMMIT, nothing else. */
async function bareRate(url: string, perWriter: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: WRITERS });
  try {
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        const c = await pool.connect();
        try {
          for (let i = 0; i < perWriter; i++) {
            await c.query('begin');
            await c.query('insert into audit_pending (draft) values ($1)', [
              JSON.stringify({ ...draft(w, i), time: new Date().toISOString() }),
            ]);
            await c.query('commit');
          }
        } finally {
          c.release();
        }
      }),
    );
    const dt = (performance.now() - t0) / 1000;
    await pool.query('delete from audit_pending');
    return (WRITERS * perWriter) / dt;
  } finally {
    await pool.end();
  }
}

/** Hash-chain check alone over events already in memory. */
function coreRate(events: readonly AuditEvent[]): number {
  const t0 = performance.now();
  const v = new ChainVerifier();
  for (const e of events) v.push(e);
  v.finish();
  if (v.problems.length > 0) throw new Error('core verify found problems');
  return events.length / ((performance.now() - t0) / 1000);
}

async function fill(h: DatabaseHandle, n: number): Promise<void> {
  const time = new Date().toISOString();
  for (let done = 0; done < n; done += 5000) {
    await h.db.transaction().execute(async (trx) => {
      const head = await readHead(trx);
      const events = appendEvents(
        head,
        Array.from({ length: Math.min(5000, n - done) }, (_, i) => ({ ...draft(i % WRITERS, done + i), time })),
      );
      await insertEvents(trx, events);
      await setHead(trx, { seq: events.at(-1)!.seq, hash: events.at(-1)!.hash });
    });
  }
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-bench-audit-'));
try {
  const lite = await openDatabase({ kind: 'pglite', dataDir: path.join(dir, 'db') });
  await migrateToLatest(lite.db as never);
  const litePerS = await appendRate(lite, path.join(dir, 'logs-lite'), 60);
  await lite.close();
  console.log(`append, PGlite file-backed, ${WRITERS} writers: ${litePerS.toFixed(0)} events/s`);

  const h = await createTestDatabase('postgres', { poolSize: WRITERS + 2 });
  try {
    const barePerS = await bareRate(h.url!, 250);
    console.log(`bare pg BEGIN/INSERT/COMMIT, ${WRITERS} connections: ${barePerS.toFixed(0)} events/s`);
    const pgPerS = await appendRate(h, path.join(dir, 'logs-pg'), 250);
    console.log(
      `append, PostgreSQL, ${WRITERS} writers: ${pgPerS.toFixed(0)} events/s (target ≥ 5000; ${(pgPerS / barePerS).toFixed(2)}× bare pg)`,
    );
    const groupPerS = await appendRate(h, path.join(dir, 'logs-pg'), 250, true);
    console.log(
      `append on its own (group commit), PostgreSQL, ${WRITERS} writers: ${groupPerS.toFixed(0)} events/s (${(groupPerS / barePerS).toFixed(2)}× bare pg)`,
    );
    await fill(h, 100_000);
    const audit = createAuditModule({ db: h.db, barrier, logDir: path.join(dir, 'logs-pg') });
    await audit.checkpointNow();
    const t0 = performance.now();
    const report = await audit.verify();
    const verifyPerS = report.eventsChecked / ((performance.now() - t0) / 1000);
    if (!report.ok) throw new Error(`verify found problems: ${JSON.stringify(report.problems.slice(0, 3))}`);
    console.log(
      `verify, PostgreSQL + export, ${report.eventsChecked} events: ${verifyPerS.toFixed(0)} events/s (target ≥ 300000)`,
    );
    const inMemory: AuditEvent[] = [];
    for await (const page of eventPages(h.db)) inMemory.push(...page);
    const corePerS = coreRate(inMemory);
    console.log(
      `verify core (ChainVerifier, events in memory): ${corePerS.toFixed(0)} events/s; verify = ${(verifyPerS / corePerS).toFixed(2)}× core`,
    );
    console.log(
      `audit: append_per_s=${litePerS.toFixed(0)} append_pg_per_s=${pgPerS.toFixed(0)} bare_pg_per_s=${barePerS.toFixed(0)} verify_per_s=${verifyPerS.toFixed(0)} verify_core_per_s=${corePerS.toFixed(0)} append_group_pg_per_s=${groupPerS.toFixed(0)}`,
    );
  } finally {
    await h.close(); // also drops the throwaway database
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
