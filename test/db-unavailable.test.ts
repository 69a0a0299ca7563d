/**
 * PostgreSQL going away (found by `npm run reliability -- db-faults`): a connection terminated in
 * the middle of a transaction must neither end the process (its 'error' event is heard) nor leave
 * as a 500 — the query fails with NOT_READY (503), and so does a connection that cannot be made.
 * The pool serves again afterwards without a restart.
 *
 * A connection lost while its COMMIT is in flight is different: the database may have committed.
 * That is answered as NOT_READY with `outcome: "unknown"`, never as "not performed", and no second
 * audit event is written for it (the work's own event committed with it, or neither did). The
 * loss is made exact with a deferred constraint trigger that ends its own backend at COMMIT.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { sql } from 'kysely';
import pg from 'pg';
import { test } from 'node:test';
import { AppError, isCommitOutcomeUnknown } from '../src/core/errors.ts';
import { openDatabase } from '../src/db/database.ts';
import { createTestDatabase, PG_ADMIN_URL, postgresAvailable } from './helpers/db.ts';
import { requirePeer } from './helpers/peers.ts';
import { startAppOn } from './helpers/app.ts';
import { expectAudit, expectNoAudit } from './helpers/audit.ts';
import { jsonBody, ownerSession } from './helpers/identity.ts';

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
    assert.equal(isCommitOutcomeUnknown(err), false, 'lost before COMMIT: certainly not committed');
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

/** A trigger that ends its own backend when the transaction that wrote to `table` commits. */
const dieAtCommit = (table: string) => [
  `create or replace function sr_test_die_at_commit() returns trigger language plpgsql as
     $$ begin perform pg_terminate_backend(pg_backend_pid()); perform pg_sleep(5); return null; end $$`,
  `create constraint trigger sr_test_die_at_commit after insert on ${table}
     deferrable initially deferred for each row execute function sr_test_die_at_commit()`,
];

test('a connection lost at COMMIT is "outcome unknown" (not the ROLLBACK after it); the pool recovers', async (t) => {
  if (!requirePeer(t, 'PostgreSQL', await postgresAvailable(), 'PostgreSQL on 127.0.0.1:5432')) return;
  const handle = await createTestDatabase('postgres');
  try {
    await sql`create table sr_test_commit (n int)`.execute(handle.db);
    for (const statement of dieAtCommit('sr_test_commit')) await sql.raw(statement).execute(handle.db);
    const err = await handle.db
      .transaction()
      .execute(async (trx) => {
        await sql`insert into sr_test_commit values (1)`.execute(trx);
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, 'NOT_READY');
    assert.equal(isCommitOutcomeUnknown(err), true, String(err));
    assert.match(err.detail ?? '', /may or may not have been made/);
    await sql`drop trigger sr_test_die_at_commit on sr_test_commit`.execute(handle.db);
    const rows = await sql<{ n: number }>`select count(*)::int as n from sr_test_commit`.execute(handle.db);
    assert.deepEqual(rows.rows, [{ n: 0 }], 'this one did not commit (the backend died first)');
  } finally {
    await handle.close();
  }
});

test('a route whose COMMIT loses its connection answers 503 outcome unknown and records no second event', async (t) => {
  const app = await startAppOn(t, 'postgres');
  if (!app) return;
  try {
    const { session } = await ownerSession(app);
    const put = (value: string) =>
      session.req(
        '/api/v1/workspaces/default/secrets/data/commit/lost',
        jsonBody({ type: 'password', value: { password: value } }, 'PUT'),
      );
    const db = app.server.database.db;
    for (const statement of dieAtCommit('secret_versions')) await sql.raw(statement).execute(db);
    const lost = await put('in-doubt-value');
    assert.equal(lost.status, 503, lost.body);
    assert.match(String(lost.headers['content-type']), /^application\/problem\+json/);
    const problem = lost.json<{ code: string; outcome?: string; detail: string }>();
    assert.equal(problem.code, 'NOT_READY');
    assert.equal(problem.outcome, 'unknown');
    assert.match(problem.detail, /may or may not have been made/);
    assert.doesNotMatch(lost.body, /not performed/);
    await sql`drop trigger sr_test_die_at_commit on secret_versions`.execute(db);
    // The event rolled back with the work here; neither a success nor a "failure" stands for it.
    await expectNoAudit(app, { action: 'vault.secret.create' });
    await expectNoAudit(app, { action: 'vault.secret.update' });
    const ok = await put('second-value');
    assert.equal(ok.status, 201, ok.body);
    assert.equal(ok.json<{ version: number }>().version, 1, 'the first write did not commit');
    await expectAudit(app, { action: 'vault.secret.create', outcome: 'success' });
    const verify = await app.asOperator('/api/v1/audit/verify');
    assert.equal(verify.json<{ ok: boolean }>().ok, true, verify.body);
  } finally {
    await app.close();
  }
});
