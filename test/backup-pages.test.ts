/**
 * The backup snapshot reads each table in keyset pages (backups.tables.ts `readRows`). Every row
 * must come out exactly once, whatever the primary key's shape: a composite key whose next page
 * started after the wrong "highest" row once repeated most of a table (the restore then refused
 * the backup with a duplicate key). Checked with tiny pages so many page boundaries are crossed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { readRows, type TableInfo } from '../src/modules/backups/backups.tables.ts';
import { BACKENDS, createTestDatabase, postgresAvailable } from './helpers/db.ts';
import { requirePeer } from './helpers/peers.ts';

async function allRows(db: Parameters<typeof readRows>[0], table: TableInfo, pageSize: number): Promise<string[]> {
  const out: string[] = [];
  for await (const page of readRows(db, table, pageSize)) out.push(...page);
  return out;
}

for (const backend of BACKENDS) {
  describe(`backup snapshot pages (${backend})`, () => {
    test('a composite key: every row exactly once across many pages, also when the last column runs backwards', async (t) => {
      if (backend === 'postgres' && !requirePeer(t, 'PostgreSQL', await postgresAvailable(), 'start it')) return;
      const handle = await createTestDatabase(backend);
      try {
        const db = handle.db;
        await sql`create table sr_pages_probe (ws text, path text, version int, note text, primary key (ws, path, version))`.execute(
          db,
        );
        // Paths that sort differently as text than as numbers, several versions each, two workspaces.
        await sql`insert into sr_pages_probe
          select 'w' || w, 'team/db-' || g, v, repeat('é', g % 5)
          from generate_series(0, 1) w, generate_series(0, 36) g, generate_series(1, 3) v`.execute(db);
        const info: TableInfo = { name: 'sr_pages_probe', pk: ['ws', 'path', 'version'], insertable: [], serial: [] };
        const want = Number(
          (await sql<{ n: string }>`select count(*)::text as n from sr_pages_probe`.execute(db)).rows[0]!.n,
        );
        assert.equal(want, 74 * 3, 'the probe table holds each (ws, path) pair once per version');
        for (const pageSize of [1, 2, 7, 64, 1000]) {
          const rows = await allRows(db, info, pageSize);
          assert.equal(rows.length, want, `page size ${pageSize}: ${rows.length} rows read, ${want} stored`);
          const keys = rows.map((r) => {
            const o = JSON.parse(r) as { ws: string; path: string; version: number };
            return `${o.ws}|${o.path}|${o.version}`;
          });
          assert.equal(new Set(keys).size, want, `page size ${pageSize}: a row came out twice`);
        }
      } finally {
        await handle.close();
      }
    });

    test('a single-column key pages through every row once', async (t) => {
      if (backend === 'postgres' && !requirePeer(t, 'PostgreSQL', await postgresAvailable(), 'start it')) return;
      const handle = await createTestDatabase(backend);
      try {
        const db = handle.db;
        await sql`create table sr_pages_one (id int8 primary key, v text)`.execute(db);
        await sql`insert into sr_pages_one select g, md5(g::text) from generate_series(1, 500) g`.execute(db);
        const info: TableInfo = { name: 'sr_pages_one', pk: ['id'], insertable: [], serial: [] };
        const ids = (await allRows(db, info, 33))
          .map((r) => (JSON.parse(r) as { id: number }).id)
          .sort((a, b) => a - b);
        assert.deepEqual(
          ids,
          Array.from({ length: 500 }, (_, i) => i + 1),
        );
      } finally {
        await handle.close();
      }
    });
  });
}
