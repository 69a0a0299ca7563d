/**
 * Audit recording on both backends: group commit under 32 concurrent writers, fail-closed
 * recording in the caller's transaction, validation before any write, keys sealed by the barrier.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';
import { checkValue } from '../src/core/audit/event.ts';
import { createAuditModule, type AuditModule, type AuditEventInput } from '../src/modules/audit/index.ts';
import { BACKENDS, createTestDatabase, postgresAvailable, type Backend } from './helpers/db.ts';
import { requirePeer } from './helpers/peers.ts';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;

function input(writer: number, i: number): AuditEventInput {
  return {
    actor: { id: `usr_${writer}`, kind: 'user', authMethod: 'password' },
    action: 'vault.secret.read',
    resource: { type: 'secret', id: `sec_${writer}_${i}`, workspace: 'ws_main' },
    outcome: 'success',
    requestId: `req-${writer}-${i}`,
    sourceIp: '192.0.2.7',
    details: { writer, i },
  };
}

async function withAudit(
  t: TestContext,
  backend: Backend,
  body: (db: Db, audit: AuditModule, logDir: string) => Promise<void>,
): Promise<void> {
  if (
    backend === 'postgres' &&
    !requirePeer(t, 'PostgreSQL', await postgresAvailable(), 'start it: pg_ctlcluster 15 main start')
  )
    return;
  const db = await createTestDatabase(backend);
  const logDir = await mkdtemp(path.join(os.tmpdir(), 'sr-audit-rec-'));
  const audit = createAuditModule({
    db: db.db,
    barrier: createBarrier({ keyring: Keyring.create() }),
    logDir,
    chainIntervalMs: 5,
  });
  try {
    await body(db, audit, logDir);
  } finally {
    await audit.stop();
    await db.close();
    await rm(logDir, { recursive: true, force: true });
  }
}

async function allEvents(db: Db) {
  return db.db.selectFrom('audit_events').select(['seq', 'request_id', 'prev_hash', 'hash']).orderBy('seq').execute();
}

for (const backend of BACKENDS) {
  describe(`audit recording on ${backend}`, () => {
    test('32 concurrent writers, one transaction per event, chained while writing: seq 1..N, each once, chain verifies', (t) =>
      withAudit(t, backend, async (db, audit) => {
        const WRITERS = 32;
        const PER = 8;
        audit.start();
        await Promise.all(
          Array.from({ length: WRITERS }, async (_, w) => {
            for (let i = 0; i < PER; i++) await db.db.transaction().execute((trx) => audit.record(trx, input(w, i)));
          }),
        );
        await audit.stop();
        await audit.chainPending();
        const rows = await allEvents(db);
        assert.equal(rows.length, WRITERS * PER);
        assert.deepEqual(
          rows.map((r) => Number(r.seq)),
          Array.from({ length: WRITERS * PER }, (_, i) => i + 1),
          'seq contiguous from 1',
        );
        const ids = rows.map((r) => r.request_id).sort();
        const expected = Array.from({ length: WRITERS }, (_, w) =>
          Array.from({ length: PER }, (_, i) => `req-${w}-${i}`),
        )
          .flat()
          .sort();
        assert.deepEqual(ids, expected, 'every event exactly once');
        for (let i = 1; i < rows.length; i++) assert.equal(rows[i]!.prev_hash, rows[i - 1]!.hash, `link at ${i + 1}`);
        const pending = await db.db.selectFrom('audit_pending').select('ingest_id').execute();
        assert.equal(pending.length, 0, 'nothing left pending');
        const head = await db.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
        assert.equal(Number(head.seq), WRITERS * PER);
        assert.equal(head.hash, rows.at(-1)!.hash);
        const report = await audit.verify();
        assert.equal(report.ok, true, JSON.stringify(report.problems));
        assert.equal(report.eventsChecked, WRITERS * PER);
      }));

    test('concurrent writers whose transactions roll back leave no event; the others all land', (t) =>
      withAudit(t, backend, async (db, audit) => {
        await Promise.all(
          Array.from({ length: 16 }, (_, w) =>
            db.db
              .transaction()
              .execute(async (trx) => {
                await audit.record(trx, input(w, 0));
                await new Promise((r) => setTimeout(r, 5 + (w % 4) * 5));
                if (w % 2 === 1) throw new Error('the action failed');
              })
              .catch(() => undefined),
          ),
        );
        await audit.chainPending();
        const ids = (await allEvents(db)).map((r) => r.request_id).sort();
        assert.deepEqual(ids, Array.from({ length: 8 }, (_, k) => `req-${k * 2}-0`).sort());
      }));

    test("fail-closed: when the audit insert fails, the caller's write in the same transaction is rolled back", (t) =>
      withAudit(t, backend, async (db, audit) => {
        await sql`create table scratch_actions (id text primary key)`.execute(db.db);
        await sql`alter table audit_pending rename to audit_pending_gone`.execute(db.db);
        await assert.rejects(
          db.db.transaction().execute(async (trx) => {
            await sql`insert into scratch_actions (id) values ('deleted-the-dataset')`.execute(trx);
            await audit.record(trx, input(1, 1));
          }),
          (err: { code?: string }) => err.code === 'AUDIT_UNAVAILABLE',
        );
        await sql`alter table audit_pending_gone rename to audit_pending`.execute(db.db);
        const rows = await sql<{ id: string }>`select id from scratch_actions`.execute(db.db);
        assert.deepEqual(rows.rows, [], 'the action did not happen');
        // The same transaction with a working audit table commits both.
        await db.db.transaction().execute(async (trx) => {
          await sql`insert into scratch_actions (id) values ('ok')`.execute(trx);
          await audit.record(trx, input(1, 2));
        });
        assert.deepEqual((await sql<{ id: string }>`select id from scratch_actions`.execute(db.db)).rows, [
          { id: 'ok' },
        ]);
        assert.equal(await audit.chainPending(), 1);
      }));

    test('recordCommitted: concurrent events share group commits, each committed once; a draft the database would refuse fails alone', (t) =>
      withAudit(t, backend, async (db, audit) => {
        const results = await Promise.allSettled([
          ...Array.from({ length: 20 }, (_, i) => audit.recordCommitted(input(7, i))),
          audit.recordCommitted({ ...input(8, 0), details: { note: 'lone \ud800 surrogate' } }),
          audit.recordCommitted({ ...input(8, 1), details: { note: 'nul\u0000byte' } }),
          audit.recordCommitted({ ...input(8, 2), details: { note: 'literal text \\ud800 and a pair \ud83d\ude00' } }),
        ]);
        assert.deepEqual(
          results.map((r) => r.status),
          [...Array(20).fill('fulfilled'), 'rejected', 'rejected', 'fulfilled'],
        );
        for (const r of results.slice(20, 22))
          assert.equal((r as PromiseRejectedResult).reason.code, 'VALIDATION_FAILED');
        await audit.chainPending();
        const ids = (await allEvents(db)).map((r) => r.request_id).sort();
        assert.deepEqual(ids, [...Array.from({ length: 20 }, (_, i) => `req-7-${i}`), 'req-8-2'].sort());
        // Fail-closed: with the table gone, every concurrent caller is refused.
        await sql`alter table audit_pending rename to audit_pending_gone`.execute(db.db);
        try {
          const refused = await Promise.allSettled(
            Array.from({ length: 5 }, (_, i) => audit.recordCommitted(input(9, i))),
          );
          assert.ok(
            refused.every(
              (r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'AUDIT_UNAVAILABLE',
            ),
          );
        } finally {
          await sql`alter table audit_pending_gone rename to audit_pending`.execute(db.db);
        }
        assert.equal(await audit.chainPending(), 0, 'nothing half-written');
      }));

    test('an invalid draft is rejected (VALIDATION_FAILED) before any write', (t) =>
      withAudit(t, backend, async (db, audit) => {
        await sql`create table scratch_actions (id text primary key)`.execute(db.db);
        const bad: AuditEventInput[] = [
          { ...input(1, 1), action: 'not-dotted' },
          { ...input(1, 1), sourceIp: '999.1.1.1' },
          { ...input(1, 1), actor: { id: '', kind: 'user' } },
          { ...input(1, 1), details: { ua: 'nul\u0000byte' } },
          { ...input(1, 1), extra: 'x' } as AuditEventInput,
        ];
        for (const draft of bad) {
          await assert.rejects(
            db.db.transaction().execute(async (trx) => {
              await audit.record(trx, draft);
              await sql`insert into scratch_actions (id) values ('x')`.execute(trx);
            }),
            (err: { code?: string }) => err.code === 'VALIDATION_FAILED',
            JSON.stringify(draft),
          );
        }
        assert.equal(
          (await db.db.selectFrom('audit_pending').select('ingest_id').execute()).length,
          0,
          'nothing pending',
        );
        assert.equal((await sql`select id from scratch_actions`.execute(db.db)).rows.length, 0);
      }));

    test('a forged pending row is chained as audit.pending.rejected, the chain does not stall', (t) =>
      withAudit(t, backend, async (db, audit) => {
        await db.db.transaction().execute((trx) => audit.record(trx, input(0, 0)));
        await sql`insert into audit_pending (draft) values (${JSON.stringify({ action: 'x' })}::jsonb)`.execute(db.db);
        await db.db.transaction().execute((trx) => audit.record(trx, input(0, 1)));
        assert.equal(await audit.chainPending(), 3);
        const rows = await db.db
          .selectFrom('audit_events')
          .select(['seq', 'action', 'outcome'])
          .orderBy('seq')
          .execute();
        assert.deepEqual(
          rows.map((r) => [Number(r.seq), r.action, r.outcome]),
          [
            [1, 'vault.secret.read', 'success'],
            [2, 'audit.pending.rejected', 'failure'],
            [3, 'vault.secret.read', 'success'],
          ],
        );
      }));

    test('keys: seed and HMAC key stored only sealed; hmac() is keyed and stable', (t) =>
      withAudit(t, backend, async (db, audit) => {
        const keys = await audit.ensureKeys();
        const again = await audit.ensureKeys();
        assert.equal(again.keyId, keys.keyId);
        const row = await db.db.selectFrom('audit_keys').selectAll().executeTakeFirstOrThrow();
        assert.equal(row.key_id, keys.keyId);
        assert.equal(row.public_key.length, 32);
        assert.ok(
          !Buffer.from(row.signing_seed_sealed).includes(
            Buffer.from(keys.privateKey.export({ format: 'der', type: 'pkcs8' })).subarray(-32),
          ),
          'seed is not stored in the clear',
        );
        assert.ok(!Buffer.from(row.hmac_key_sealed).includes(keys.hmacKey), 'HMAC key is not stored in the clear');
        assert.equal((await db.db.selectFrom('audit_keys').select('key_id').execute()).length, 1);
        const h = await audit.hmac('alice@example.com');
        assert.match(h, /^hmac-sha256:[0-9a-f]{64}$/);
        assert.equal(await audit.hmac('alice@example.com'), h);
        assert.notEqual(await audit.hmac('bob@example.com'), h);
        assert.ok(checkValue(keys.hmacKey, 'alice@example.com', h));
      }));
  });
}
