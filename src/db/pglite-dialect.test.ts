import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import { pgliteDialect } from './pglite-dialect.ts';

test('a query on the handle inside its own transaction fails with NOT_READY instead of hanging; the session recovers', async () => {
  const client = new PGlite();
  const db = new Kysely<Record<string, never>>({ dialect: pgliteDialect(client, { waitMs: 300 }) });
  try {
    await sql`select 0`.execute(db); // PGlite boots on first use
    const started = Date.now();
    await assert.rejects(
      db.transaction().execute(async () => {
        await sql`select 1`.execute(db); // the bug: the handle, not the transaction
      }),
      (err: unknown) => (err as { code?: string }).code === 'NOT_READY',
    );
    assert.ok(Date.now() - started < 10_000, 'gave up after the wait, not never');
    const r = await sql<{ n: number }>`select 2 as n`.execute(db);
    assert.equal(r.rows[0]?.n, 2, 'the session is free again');
    // Transactions still serialize: two at once both commit in turn.
    await Promise.all([
      db.transaction().execute((trx) => sql`select 1`.execute(trx)),
      db.transaction().execute((trx) => sql`select 1`.execute(trx)),
    ]);
  } finally {
    await db.destroy();
    await client.close();
  }
});
