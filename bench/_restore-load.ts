/**
 * The restore's row load alone: the same `row_to_json` lines of an audit-like table loaded into an
 * empty copy of it by `insertRows` (json_populate_recordset) and by `loadRows` (COPY where exact),
 * alternated, in batches of 2000 as the restore sends them, each in its own transaction. Prints
 * wall time and this process's CPU per method (the database's CPU is the rest).
 *   node --import tsx bench/_restore-load.ts [rows] [rounds] [--pglite]
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../src/db/schema.ts';
import { describeTables, insertRows, loadRows, readRows } from '../src/modules/backups/backups.tables.ts';
import { createTestDatabase } from '../test/helpers/db.ts';
import { selfCpuMs } from './_proc-cpu.ts';

const ROWS = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const backend = process.argv.includes('--pglite') ? 'pglite' : 'postgres';

const handle = await createTestDatabase(backend);
const db = handle.db as Kysely<Database>;
try {
  const cols = `seq int8 primary key, time timestamptz not null, actor_id text, actor_kind text, auth_method text,
    action text, resource_type text, resource_id text, workspace text, outcome text, request_id text, source_ip text,
    user_agent text, details jsonb, prev_hash text, hash text`;
  await sql.raw(`create table sr_load_src (${cols})`).execute(db);
  await sql`insert into sr_load_src select g, now() - make_interval(secs => g), 'usr_' || (g % 50), 'user', 'password',
    'vault.secret.reveal', 'secret', 'team/db-' || (g % 10000), 'bench', 'success', 'req-' || g, '192.0.2.10', 'bench/1.0',
    jsonb_build_object('i', g, 'note', repeat('x', 40)), encode(sha256(int8send(g - 1)), 'hex'), encode(sha256(int8send(g)), 'hex')
    from generate_series(1, ${ROWS}) g`.execute(db);
  const src = (await describeTables(db)).find((t) => t.name === 'sr_load_src')!;
  const lines: string[] = [];
  await db.transaction().execute(async (trx) => {
    await sql`set local timezone = 'UTC'`.execute(trx);
    for await (const page of readRows(trx, src)) lines.push(...page);
  });
  const methods = {
    insert: (trx: Parameters<typeof insertRows>[0], t: typeof src, b: string[]) => insertRows(trx, t, b),
    copy: (trx: Parameters<typeof insertRows>[0], t: typeof src, b: string[]) => loadRows(trx, t, b),
  };
  const results: Record<string, { wall: number[]; cpu: number[] }> = {
    insert: { wall: [], cpu: [] },
    copy: { wall: [], cpu: [] },
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, load] of Object.entries(methods)) {
      await sql.raw(`drop table if exists sr_load_dst; create table sr_load_dst (${cols})`).execute(db);
      const dst = { ...src, name: 'sr_load_dst' };
      const c0 = selfCpuMs();
      const t0 = performance.now();
      await db.transaction().execute(async (trx) => {
        await sql`set local session_replication_role = replica`.execute(trx);
        for (let i = 0; i < lines.length; i += 2000) await load(trx, dst, lines.slice(i, i + 2000));
      });
      results[name]!.wall.push(performance.now() - t0);
      results[name]!.cpu.push(selfCpuMs() - c0);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [name, r] of Object.entries(results))
    console.log(
      `${name}: wall ${med(r.wall).toFixed(0)} ms (${r.wall.map((x) => x.toFixed(0)).join(', ')}), this process's CPU ${med(r.cpu).toFixed(0)} ms`,
    );
  console.log(
    `restore-load: rows=${ROWS} backend=${backend} copy_vs_insert_wall=${(med(results.insert!.wall) / med(results.copy!.wall)).toFixed(2)}`,
  );
} finally {
  await handle.close();
}
