/**
 * PostgreSQL going away (found by `npm run reliability -- db-faults`): a connection terminated in
 * the middle of a transaction must neither end the process (its 'error' event is heard) nor leave
 * as a 500 — the query fails with NOT_READY (503), and so does a connection that cannot be made.
 * The pool serves again afterwards without a restart.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { sql } from 'kysely';
import pg from 'pg';
import { test } from 'node:test';
import { AppError } from '../src/core/errors.ts';
import { openDatabase } from '../src/db/database.ts';
import { createTestDatabase, PG_ADMIN_URL, postgresAvailable } from './helpers/db.ts';
import { requirePeer } from './helpers/peers.ts';

test('a backend terminated mid-transaction is NOT_READY, the process lives, the pool recovers', async (t) => {
  if (!requirePeer(t, 'PostgreSQL', await postgresAvailable(), 'PostgreSQL on 127.0.0.1:5432')) return;
  const handle = await createTestDatabase('postgres');
  const name = new URL(handle.url!).pathname.slice(1);
  try {
    const err = await handle.db
      .transaction()
      .execute(async (trx) => {
        await sql`select 1`.execute(trx);
        const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
        await admin.connect();
        await admin.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
          [name],
        );
        await admin.end();
        await new Promise((r) => setTimeout(r, 100)); // the 'error' event arrives while the client is checked out
        await sql`select 2`.execute(trx);
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, 'NOT_READY');
    assert.equal(err.status, 503);
    const again = await sql<{ n: number }>`select 3 as n`.execute(handle.db);
    assert.deepEqual(again.rows, [{ n: 3 }]);
  } finally {
    await handle.close();
  }
});

test('a database that refuses connections is NOT_READY', async () => {
  const closed = net.createServer((s) => s.resetAndDestroy());
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  const handle = await openDatabase({
    kind: 'postgres',
    url: `postgres://postgres@127.0.0.1:${port}/none?sslmode=disable`,
    allowWeakTls: true,
  });
  try {
    const err = await sql`select 1`.execute(handle.db).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, 'NOT_READY');
  } finally {
    await handle.close();
    closed.close();
  }
});
