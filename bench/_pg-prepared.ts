/**
 * Profiling aid (not a benchmark; `_` keeps it out of `npm run bench`): what named prepared
 * statements (`src/db/pg-prepared.ts`) save the PostgreSQL server on the request hot path. The
 * session lookup (`findLiveSession`, the statement every authenticated request runs) is run `n`
 * times on one connection unnamed, then `n` times named, alternated `rounds` times; the figure is
 * the CPU time of this database's backends per statement (from /proc, so other processes on the
 * machine do not count) and of this thread per statement.
 * Usage: node --import tsx bench/_pg-prepared.ts [n=3000] [rounds=3]
 */
import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { withPreparedStatements } from '../src/db/pg-prepared.ts';
import type { Database } from '../src/db/schema.ts';
import { findLiveSession } from '../src/modules/identity/identity.sessions.store.ts';
import { createTestDatabase } from '../test/helpers/db.ts';
import { backendCpuMs } from './_proc-cpu.ts';

const n = Number(process.argv[2] ?? 3000);
const rounds = Number(process.argv[3] ?? 3);

const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const handle = await createTestDatabase('postgres', { poolSize: 1 });
const name = (await sql<{ n: string }>`select current_database() as n`.execute(handle.db)).rows[0]!.n;
const pool = (prepared: boolean) => {
  const p = new pg.Pool({ connectionString: handle.url, max: 1 });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: prepared ? withPreparedStatements(p) : p }) });
};
const plain = pool(false);
const named = pool(true);
const result = {
  plain: { db: [] as number[], node: [] as number[] },
  named: { db: [] as number[], node: [] as number[] },
};
try {
  for (let r = 0; r < rounds; r++) {
    for (const [label, db] of [
      ['plain', plain],
      ['named', named],
    ] as const) {
      const b0 = backendCpuMs(name);
      const c0 = selfCpuMs();
      for (let i = 0; i < n; i++) await findLiveSession(db, randomBytes(32).toString('hex'), new Date(), 'default');
      result[label].db.push(((backendCpuMs(name) - b0) * 1000) / n);
      result[label].node.push(((selfCpuMs() - c0) * 1000) / n);
    }
  }
  const f = (xs: number[]) => median(xs).toFixed(0);
  console.log(
    `pg-prepared: session lookup, ${n} × ${rounds} rounds, medians: PostgreSQL backend ${f(result.plain.db)} → ${f(result.named.db)} µs/statement; this thread ${f(result.plain.node)} → ${f(result.named.node)} µs/statement`,
  );
} finally {
  await plain.destroy();
  await named.destroy();
  await handle.close();
}
