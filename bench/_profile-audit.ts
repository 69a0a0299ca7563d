/**
 * Audit append on PostgreSQL, CPU per event: this process's CPU (all threads, from /proc) and
 * the CPU of this database's PostgreSQL backends, for the bare BEGIN/INSERT/COMMIT loop and for
 * `record()` + the chainer + checkpoints, alternated `rounds` times in one run; between them, the
 * same insert in a Kysely transaction on the app's pool without the audit module (its share).
 * With `--no-chain` the writers' and the chaining's CPU are printed apart.
 * `node --import tsx bench/_profile-audit.ts [perWriter] [rounds] [--profile]`
 * (`--profile`: a CPU profile of the append rounds to /tmp/perf/audit-append.cpuprofile).
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';
import { createAuditModule } from '../src/modules/audit/index.ts';
import { insertPending } from '../src/modules/audit/audit.store.ts';
import { createTestDatabase } from '../test/helpers/db.ts';
import { benchDraft as draft } from './_audit-draft.ts';
import { backendCpuMs } from './_proc-cpu.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const perWriter = Number(args[0] ?? 100);
const rounds = Number(args[1] ?? 3);
const profile = process.argv.includes('--profile');
/** `--no-chain`: the chainer runs only after the writers finish (their cost alone, then the chaining). */
const noChain = process.argv.includes('--no-chain');
const WRITERS = 32;

function selfCpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

const barrier = createBarrier({ keyring: Keyring.create() });
const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-prof-audit-'));
const h = await createTestDatabase('postgres', { poolSize: WRITERS + 2 });
const dbName = (await sql<{ n: string }>`select current_database() as n`.execute(h.db)).rows[0]!.n;
const s = new Session();
s.connect();
const audit = createAuditModule({ db: h.db, barrier, logDir: dir });
if (!noChain) audit.start();

const pool = new pg.Pool({ connectionString: h.url!, max: WRITERS });
pool.on('error', () => undefined);
async function bare(): Promise<number> {
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
  const dt = performance.now() - t0;
  await pool.query('delete from audit_pending');
  return dt;
}

/** With `--no-chain`: CPU of this process and of the backends when the writers finished. */
let writersDone: { node: number; pg: number } | undefined;

/**
 * The same 32 writers, each event in its own Kysely transaction on the app's pool, running only
 * the audit module's precompiled pending insert (no draft check, no serialization, no chainer):
 * what the transaction machinery alone costs, without the audit module.
 */
async function kyselyBare(): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) {
        const json = JSON.stringify({ ...draft(w, i), time: new Date().toISOString() });
        await h.db.transaction().execute((trx) => insertPending(trx, json));
      }
    }),
  );
  const dt = performance.now() - t0;
  await sql`delete from audit_pending`.execute(h.db);
  return dt;
}

async function append(): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) await h.db.transaction().execute((trx) => audit.record(trx, draft(w, i)));
    }),
  );
  const writers = performance.now() - t0;
  writersDone = { node: selfCpuMs(), pg: backendCpuMs(dbName) };
  await audit.chainPending();
  if (noChain) console.log(`  writers alone ${((WRITERS * perWriter * 1000) / writers).toFixed(0)}/s`);
  return performance.now() - t0;
}

async function measure(what: () => Promise<number>) {
  const c0 = selfCpuMs();
  const p0 = backendCpuMs(dbName);
  writersDone = undefined;
  const ms = await what();
  const n = WRITERS * perWriter;
  const c1 = selfCpuMs();
  const p1 = backendCpuMs(dbName);
  const node = ((c1 - c0) * 1000) / n;
  const pgCpu = ((p1 - p0) * 1000) / n;
  if (noChain && writersDone !== undefined) {
    const w = writersDone as { node: number; pg: number };
    const us = (ms: number) => ((ms * 1000) / n).toFixed(0);
    console.log(
      `  writers: node ${us(w.node - c0)} µs pg ${us(w.pg - p0)} µs per event; chaining after them: node ${us(c1 - w.node)} µs pg ${us(p1 - w.pg)} µs per event`,
    );
  }
  return { perS: (n / ms) * 1000, node, pg: pgCpu, total: node + pgCpu };
}

try {
  await append(); // warm-up
  await bare();
  if (profile) {
    await s.post('Profiler.enable');
    await s.post('Profiler.setSamplingInterval', { interval: 200 });
  }
  for (let r = 0; r < rounds; r++) {
    const b = await measure(bare);
    const k = await measure(kyselyBare);
    if (profile) await s.post('Profiler.start');
    const a = await measure(append);
    if (profile) {
      const { profile: prof } = await s.post('Profiler.stop');
      await mkdir('/tmp/perf', { recursive: true });
      await writeFile(`/tmp/perf/audit-append-${r}.cpuprofile`, JSON.stringify(prof));
    }
    console.log(
      `round ${r}: bare ${b.perS.toFixed(0)}/s node ${b.node.toFixed(0)} µs pg ${b.pg.toFixed(0)} µs per event; ` +
        `Kysely transaction + insert ${k.perS.toFixed(0)}/s node ${k.node.toFixed(0)} µs pg ${k.pg.toFixed(0)} µs per event; ` +
        `append ${a.perS.toFixed(0)}/s node ${a.node.toFixed(0)} µs pg ${a.pg.toFixed(0)} µs per event; ratio ${(a.perS / b.perS).toFixed(2)}, CPU ratio bare/append ${(b.total / a.total).toFixed(2)}`,
    );
  }
} finally {
  if (!noChain) await audit.stop();
  await pool.end();
  await h.close();
  await rm(dir, { recursive: true, force: true });
}
