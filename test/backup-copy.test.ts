/**
 * A restore loads rows with COPY when every value converts exactly (backups.tables.ts `copyRows`,
 * db/copy-in.ts), and with `json_populate_recordset` otherwise. Either way the table must read
 * back identically: same rows, same checksum as the table the rows came from. Values chosen to
 * break a careless converter: tabs, newlines, backslashes and `\N` inside text, unicode, bytea,
 * nested jsonb with strings that look like escapes, integers past 2^53, floats, NULLs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../src/db/schema.ts';
import { copyIn } from '../src/db/copy-in.ts';
import {
  canonicalSession,
  checksumTable,
  copyData,
  describeTables,
  loadRows,
  readRows,
} from '../src/modules/backups/backups.tables.ts';
import { BACKENDS, createTestDatabase, postgresAvailable } from './helpers/db.ts';
import { requirePeer } from './helpers/peers.ts';

const COLUMNS = `id int8 primary key, t text, b bytea, j jsonb, n int8, f float8, ok boolean,
  at timestamptz, u uuid, v varchar(40)`;

async function tableInfo(db: Kysely<Database>, name: string) {
  const t = (await describeTables(db)).find((x) => x.name === name);
  assert.ok(t, `${name} is described`);
  return t;
}

async function linesOf(db: Kysely<Database>, name: string): Promise<string[]> {
  const out: string[] = [];
  const info = await tableInfo(db, name);
  await db.transaction().execute(async (trx) => {
    await canonicalSession(trx);
    for await (const page of readRows(trx, info)) out.push(...page);
  });
  return out;
}

for (const backend of BACKENDS) {
  describe(`restore row load (${backend})`, () => {
    test('COPY where exact, the JSON path where not; both read back identically', async (t) => {
      if (backend === 'postgres' && !requirePeer(t, 'PostgreSQL', await postgresAvailable(), 'start it')) return;
      const handle = await createTestDatabase(backend);
      try {
        const db = handle.db;
        await sql.raw(`create table sr_copy_src (${COLUMNS})`).execute(db);
        await sql.raw(`create table sr_copy_dst (${COLUMNS})`).execute(db);
        await sql.raw(`create table sr_copy_dst2 (${COLUMNS})`).execute(db);
        // Batch 1: only exactly convertible values (goes through COPY).
        await sql`insert into sr_copy_src values
          (1, ${'tab\there, newline\nthere, cr\rback\\slash, \\N not null, é 日本 🎉'}, ${Buffer.from([0, 9, 10, 92, 255])},
            ${JSON.stringify({ s: 'a\tb\\n"q"', nested: [1, -2, { x: null, y: true }], big: 9007199254740991 })}::jsonb,
            9007199254740991, 3, true, '2026-12-06T04:26:58.123Z', '9b2f8c1e-4d3a-4b5c-8e7f-0a1b2c3d4e5f', 'v'),
          (2, '', ${Buffer.alloc(0)}, '"just a string"'::jsonb, -5, -0, false, null, null, null),
          (3, null, null, null, null, null, null, null, null, null),
          (4, '\\N', null, 'null'::jsonb, 0, null, null, 'infinity', null, '')`.execute(db);
        const src = await tableInfo(db, 'sr_copy_src');
        const dst = { ...src, name: 'sr_copy_dst' };
        const exact = await linesOf(db, 'sr_copy_src');
        const viaCopy = await db.transaction().execute(async (trx) => loadRows(trx, dst, exact));
        assert.equal(viaCopy, 'copy', 'exactly convertible rows go through COPY');
        assert.deepEqual(await checksumTable(db, dst), await checksumTable(db, src));

        // Batch 2: values JavaScript numbers would change: the batch is refused by COPY, loaded exactly.
        await sql`insert into sr_copy_src values
          (10, 'x', null, '{"n": 12345678901234567890, "f": 0.1000000000000000055511151231257827}'::jsonb,
            9223372036854775807, 0.1, null, null, null, null),
          (11, 'y', null, '{"n": 1}'::jsonb, 1, 1e300, null, null, null, null)`.execute(db);
        const all = await linesOf(db, 'sr_copy_src');
        const inexact = all.filter((l) => /"id":1[01]\b/.test(l));
        assert.equal(inexact.length, 2);
        const dst2 = { ...src, name: 'sr_copy_dst2' };
        assert.equal(copyData(dst2, inexact), undefined, 'a batch with an inexact number has no COPY text');
        await db.transaction().execute(async (trx) => {
          assert.equal(await loadRows(trx, dst2, inexact), 'insert', 'so it is inserted exactly');
          assert.equal(await loadRows(trx, dst2, exact), 'copy');
        });
        assert.deepEqual(await checksumTable(db, dst2), await checksumTable(db, src));
        const big = await sql<{
          n: string;
          j: string;
        }>`select n::text as n, j::text as j from sr_copy_dst2 where id = 10`.execute(db);
        assert.equal(big.rows[0]!.n, '9223372036854775807');
        assert.match(big.rows[0]!.j, /12345678901234567890/);
      } finally {
        await handle.close();
      }
    });

    test('a COPY whose data is not parked fails at once; a tab in the data cannot add a column', async (t) => {
      if (backend === 'postgres' && !requirePeer(t, 'PostgreSQL', await postgresAvailable(), 'start it')) return;
      const handle = await createTestDatabase(backend);
      try {
        const db = handle.db;
        await sql`create table sr_copy_two (a text, b text)`.execute(db);
        // A marked statement whose token was never parked is an ordinary COPY FROM STDIN with no data.
        await assert.rejects(
          sql.raw(`/* sr:copy-in ${'0'.repeat(32)} */ copy sr_copy_two (a, b) from stdin`).execute(db),
          /without its data/,
        );
        // Five fields on a two-column table: PostgreSQL refuses the line.
        await assert.rejects(copyIn(db as never, 'sr_copy_two', ['a', 'b'], 'x\ty\tz\tw\tv\n'), /extra data|column/i);
        const n = await sql<{ n: string }>`select count(*)::text as n from sr_copy_two`.execute(db);
        assert.equal(n.rows[0]!.n, '0');
        assert.equal(await copyIn(db as never, 'sr_copy_two', ['a', 'b'], 'x\t\\N\n'), 1);
        const r = await sql<{ a: string; b: string | null }>`select a, b from sr_copy_two`.execute(db);
        assert.deepEqual(r.rows, [{ a: 'x', b: null }]);
      } finally {
        await handle.close();
      }
    });
  });
}
