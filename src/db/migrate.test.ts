import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { openDatabase } from './database.ts';
import { migrateToLatest, migrationStatus } from './migrate.ts';
import { migrations } from './migrations/index.ts';

test('an up-to-date database is recognised; a pending or unknown migration still goes to the migrator', async () => {
  const h = await openDatabase({ kind: 'pglite-memory' });
  const db = h.db as unknown as Kysely<unknown>;
  try {
    const names = Object.keys(migrations).sort();
    assert.deepEqual(await migrateToLatest(db), names, 'a new database gets every migration');
    assert.deepEqual(await migrateToLatest(db), [], 'nothing to apply the second time');
    assert.deepEqual(await migrationStatus(db), { applied: names.length, pending: [], unknown: [] });

    const last = names[names.length - 1]!;
    await sql`delete from kysely_migration where name = ${last}`.execute(db);
    const pending = await migrationStatus(db);
    assert.deepEqual(pending.pending, [last], 'the missing row is pending');
    assert.equal(pending.applied, names.length - 1);
    await sql`insert into kysely_migration (name, timestamp) values (${last}, ${new Date().toISOString()})`.execute(db);

    await sql`insert into kysely_migration (name, timestamp) values ('9999-from-a-newer-build', ${new Date().toISOString()})`.execute(
      db,
    );
    assert.deepEqual((await migrationStatus(db)).unknown, ['9999-from-a-newer-build']);
    await assert.rejects(migrateToLatest(db), 'the migrator refuses a database a newer build migrated');
  } finally {
    await h.close();
  }
});
