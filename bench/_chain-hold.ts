/**
 * Profiling aid: how long one chainer batch holds the database session, by batch size, with
 * nothing else running (PGlite: the one session; every request waits meanwhile). Drafts are
 * inserted pending (group-commit statement), then chained by `chainBatch` with the batch size
 * under test; wall time and this process's CPU per batch (`process.cpuUsage`: PGlite runs on this
 * thread), sizes alternated, medians.
 * Usage: node --import tsx bench/_chain-hold.ts [rounds=7] [sizes=16,64,256] [--postgres]
 */
import { chainBatch } from '../src/modules/audit/audit.chainer.ts';
import { insertPendingMany } from '../src/modules/audit/audit.store.ts';
import { timedBenchDraft } from './_audit-draft.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const rounds = Number(args[0] ?? 7);
const sizes = (args[1] ?? '16,64,256').split(',').map(Number);
const backend = process.argv.includes('--postgres') ? 'postgres' : 'pglite';
const { startTestApp } = await import('../test/helpers/app.ts');
const app = await startTestApp(backend, { env: { STRONGROOM_LOG_LEVEL: 'warn' } });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  await app.server.audit.stop(); // no background chaining while measuring
  const db = app.server.database.db;
  const wall = new Map<number, number[]>();
  const cpu = new Map<number, number[]>();
  let k = 0;
  for (let r = 0; r < rounds; r++)
    for (const size of sizes) {
      const time = new Date().toISOString();
      await insertPendingMany(
        db,
        Array.from({ length: size }, (_, i) => JSON.stringify(timedBenchDraft(i % 32, k++, time))),
      );
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const n = await chainBatch(db, size, () => new Date());
      const t = performance.now() - t0;
      const cu = process.cpuUsage(c0);
      const c = (cu.user + cu.system) / 1000;
      if (n !== size) throw new Error(`chained ${n}, expected ${size}`);
      if (r === 0) continue; // warm-up
      wall.set(size, [...(wall.get(size) ?? []), t]);
      cpu.set(size, [...(cpu.get(size) ?? []), c]);
    }
  for (const size of sizes)
    console.log(
      `${backend}: batch ${size}: hold ${median(wall.get(size)!).toFixed(2)} ms wall (median of ${rounds - 1}), process CPU ${median(cpu.get(size)!).toFixed(1)} ms; ${((1000 * median(wall.get(size)!)) / size).toFixed(0)} µs wall, ${((1000 * median(cpu.get(size)!)) / size).toFixed(0)} µs CPU per event`,
    );
} finally {
  await app.close();
}
