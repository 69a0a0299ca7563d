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

test('named statements: same rows and types as query(), errors keep their SQLSTATE, the session recovers, two dialects share a client', async () => {
  const client = new PGlite();
  const db = new Kysely<Record<string, never>>({ dialect: pgliteDialect(client) });
  const db2 = new Kysely<Record<string, never>>({ dialect: pgliteDialect(client) });
  try {
    await sql`create table t (id int primary key, b bytea, j jsonb, at timestamptz, tags text[])`.execute(db);
    const bytes = Buffer.from([0, 1, 254, 255]);
    const at = new Date('2026-01-02T03:04:05.678Z');
    for (const id of [1, 2])
      // the second run binds the statement named by the first
      await sql`insert into t (id, b, j, at, tags) values (${id}, ${bytes}, ${JSON.stringify({ k: id })}, ${at}, ${['x', 'y']})`.execute(
        db,
      );
    const read = (k: Kysely<Record<string, never>>, id: number) =>
      sql<{
        id: number;
        b: Uint8Array;
        j: unknown;
        at: Date;
        tags: string[];
        none: null;
      }>`select id, b, j, at, tags, ${null}::text as none from t where id = ${id}`.execute(k);
    for (const id of [1, 2, 2]) {
      const r = (await read(db, id)).rows;
      assert.equal(r.length, 1);
      assert.deepEqual(
        { ...r[0], b: Buffer.from(r[0]!.b) },
        { id, b: bytes, j: { k: id }, at, tags: ['x', 'y'], none: null },
      );
    }
    // The same text on another dialect over the same client gets its own name (no clash).
    assert.equal((await read(db2, 1)).rows[0]?.id, 1);
    const dup = () => sql`insert into t (id) values (${1})`.execute(db);
    await assert.rejects(dup(), (err: unknown) => (err as { code?: string }).code === '23505');
    await assert.rejects(dup(), (err: unknown) => (err as { code?: string }).code === '23505');
    // An error inside a transaction rolls it back; what it wrote before is gone.
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await sql`insert into t (id) values (${3})`.execute(trx);
        await sql`insert into t (id) values (${1})`.execute(trx);
      }),
      (err: unknown) => (err as { code?: string }).code === '23505',
    );
    assert.equal((await read(db, 3)).rows.length, 0);
    assert.equal(client.isInTransaction(), false);
    const u = await sql`update t set tags = ${['z']} where id = ${2}`.execute(db);
    assert.equal(u.numAffectedRows, 1n);
    assert.deepEqual((await read(db, 2)).rows[0]?.tags, ['z']);
    const named = await client.query<{ statement: string }>('select statement from pg_prepared_statements');
    assert.ok(
      named.rows.some((r) => r.statement.startsWith('insert into t (id, b, j, at, tags)')),
      'the insert ran named',
    );
    // A text Postgres refuses fails each time with its own error, and is not remembered as named.
    for (let i = 0; i < 2; i++)
      await assert.rejects(
        sql`select nope from t where id = ${1}`.execute(db),
        (err: unknown) => (err as { code?: string }).code === '42703',
      );
  } finally {
    await db.destroy();
    await db2.destroy();
    await client.close();
  }
});
