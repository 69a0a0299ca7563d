/**
 * `verify()` over ≥ 100 k chained events in PostgreSQL, with this process's CPU per event (from
 * /proc) and an optional CPU profile (`--profile` → /tmp/perf/audit-verify.cpuprofile).
 * The CPU of this database's PostgreSQL backends per event is printed too (verification of rows
 * that keep their line moves the column check into the database).
 * `node --import tsx bench/_profile-verify.ts [events] [rounds] [--profile]`
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { sql } from 'kysely';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';
import { createAuditModule } from '../src/modules/audit/index.ts';
import { createTestDatabase } from '../test/helpers/db.ts';
import { seedChain } from './_audit-draft.ts';
import { backendCpuMs, selfCpuMs } from './_proc-cpu.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const n = Number(args[0] ?? 100_000);
const rounds = Number(args[1] ?? 3);
const profile = process.argv.includes('--profile');
const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-prof-verify-'));
const h = await createTestDatabase('postgres', { poolSize: 4 });
const dbName = (await sql<{ n: string }>`select current_database() as n`.execute(h.db)).rows[0]!.n;
try {
  await seedChain(h.db, n);
  const audit = createAuditModule({ db: h.db, barrier: createBarrier({ keyring: Keyring.create() }), logDir: dir });
  await audit.checkpointNow();
  const s = new Session();
  s.connect();
  for (let r = 0; r < rounds; r++) {
    if (profile && r === rounds - 1) {
      await s.post('Profiler.enable');
      await s.post('Profiler.setSamplingInterval', { interval: 200 });
      await s.post('Profiler.start');
    }
    const c0 = selfCpuMs();
    const p0 = backendCpuMs(dbName);
    const t0 = performance.now();
    const report = await audit.verify();
    const dt = performance.now() - t0;
    const cpu = selfCpuMs() - c0;
    const pgCpu = backendCpuMs(dbName) - p0;
    if (!report.ok) throw new Error(JSON.stringify(report.problems.slice(0, 3)));
    if (profile && r === rounds - 1) {
      const { profile: prof } = await s.post('Profiler.stop');
      await mkdir('/tmp/perf', { recursive: true });
      await writeFile('/tmp/perf/audit-verify.cpuprofile', JSON.stringify(prof));
    }
    console.log(
      `round ${r}: ${report.eventsChecked} events, ${((report.eventsChecked / dt) * 1000).toFixed(0)} events/s, ${((cpu * 1000) / report.eventsChecked).toFixed(2)} µs CPU/event (this process), ${((pgCpu * 1000) / report.eventsChecked).toFixed(2)} µs (PostgreSQL)`,
    );
  }
} finally {
  await h.close();
  await rm(dir, { recursive: true, force: true });
}
