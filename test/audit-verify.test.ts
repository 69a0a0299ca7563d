/**
 * Tamper detection end to end, on both backends: events in the database, signed checkpoints,
 * the export area on disk, each tampered the way an intruder with database or disk access would.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat, writeFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';
import { computeEventHash, type AuditEvent } from '../src/core/audit/event.ts';
import { eventJsonLine } from '../src/core/audit/segment.ts';
import type { VerifyReport } from '../src/core/audit/verify.ts';
import { createAuditModule, exportDir, type AuditModule } from '../src/modules/audit/index.ts';
import { BACKENDS, createTestDatabase, postgresAvailable, type Backend } from './helpers/db.ts';
import { requirePeer } from './helpers/peers.ts';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
interface Trail {
  db: Db;
  audit: AuditModule;
  logDir: string;
}

async function record(t: Trail, n: number, from: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    await t.db.db.transaction().execute((trx) =>
      t.audit.record(trx, {
        actor: { id: `usr_${i % 3}`, kind: 'user' },
        action: i % 2 ? 'vault.secret.read' : 'datasets.dataset.create',
        resource: { type: 'secret', id: `s${i}` },
        outcome: 'success',
        details: { i, note: `event ${i}` },
      }),
    );
  }
}

/** 20 events, checkpoint + export at 20, then 10 more chained events (21..30). */
async function withTrail(t: TestContext, backend: Backend, body: (trail: Trail) => Promise<void>): Promise<void> {
  if (
    backend === 'postgres' &&
    !requirePeer(t, 'PostgreSQL', await postgresAvailable(), 'start it: pg_ctlcluster 15 main start')
  )
    return;
  const db = await createTestDatabase(backend);
  const logDir = await mkdtemp(path.join(os.tmpdir(), 'sr-audit-ver-'));
  const trail: Trail = {
    db,
    logDir,
    audit: createAuditModule({ db: db.db, barrier: createBarrier({ keyring: Keyring.create() }), logDir }),
  };
  try {
    await record(trail, 20, 1);
    const cp = await trail.audit.checkpointNow();
    assert.equal(cp?.treeSize, 20);
    await record(trail, 10, 21);
    await trail.audit.chainPending();
    await body(trail);
  } finally {
    await db.close();
    await rm(logDir, { recursive: true, force: true });
  }
}

function has(report: VerifyReport, kind: string, seq?: number): boolean {
  return report.problems.some((p) => p.kind === kind && (seq === undefined || p.seq === seq));
}

function expectProblem(report: VerifyReport, kind: string, seq?: number): void {
  assert.equal(report.ok, false);
  assert.ok(
    has(report, kind, seq),
    `expected ${kind}${seq === undefined ? '' : ` at ${seq}`}; got ${JSON.stringify(report.problems, null, 1)}`,
  );
}

for (const backend of BACKENDS) {
  describe(`audit verification on ${backend}`, () => {
    test('a clean trail verifies; the export is 0700/0600 with the core file names', (t) =>
      withTrail(t, backend, async ({ audit, logDir }) => {
        const report = await audit.verify();
        assert.deepEqual(report.problems, []);
        assert.equal(report.ok, true);
        assert.equal(report.eventsChecked, 30);
        assert.equal(report.headSeq, 30);
        const dir = exportDir(logDir);
        assert.deepEqual((await readdir(dir)).sort(), [
          'checkpoint-000000000020.json',
          'events-000000000001-000000000020.jsonl',
        ]);
        assert.equal((await stat(dir)).mode & 0o777, 0o700);
        for (const f of await readdir(dir)) assert.equal((await stat(path.join(dir, f))).mode & 0o777, 0o600, f);
        // A second checkpoint exports only the new events and links to the first.
        const cp = await audit.checkpointNow();
        assert.equal(cp?.treeSize, 30);
        assert.match(cp?.prevCheckpointHash ?? '', /^[0-9a-f]{64}$/);
        assert.ok((await readdir(dir)).includes('events-000000000021-000000000030.jsonl'));
        assert.equal((await audit.verify()).ok, true);
      }));

    test('an event edited in the database → edited at its seq', (t) =>
      withTrail(t, backend, async ({ db, audit }) => {
        await sql`update audit_events set details = ${JSON.stringify({ i: 5, note: 'nothing to see' })}::jsonb where seq = 5`.execute(
          db.db,
        );
        expectProblem(await audit.verify(), 'edited', 5);
      }));

    test('an event edited past the checkpoint (not exported) → edited', (t) =>
      withTrail(t, backend, async ({ db, audit }) => {
        await sql`update audit_events set actor_id = 'usr_innocent' where seq = 25`.execute(db.db);
        expectProblem(await audit.verify(), 'edited', 25);
      }));

    test('a deleted event → gap at its seq', (t) =>
      withTrail(t, backend, async ({ db, audit }) => {
        await sql`delete from audit_events where seq = 7`.execute(db.db);
        expectProblem(await audit.verify(), 'gap', 7);
      }));

    test('two events with swapped contents → reported at both seqs', (t) =>
      withTrail(t, backend, async ({ db, audit }) => {
        const cols = sql.raw(
          'time, actor_id, actor_kind, auth_method, action, resource_type, resource_id, workspace, outcome, request_id, source_ip, user_agent, details, prev_hash, hash',
        );
        await sql`create table swap as select seq, ${cols} from audit_events where seq in (12, 13)`.execute(db.db);
        await sql`update audit_events e set (${cols}) = (select ${cols} from swap s where s.seq = case e.seq when 12 then 13 else 12 end) where e.seq in (12, 13)`.execute(
          db.db,
        );
        const report = await audit.verify();
        expectProblem(report, 'edited', 12);
        expectProblem(report, 'edited', 13);
      }));

    test('the tail deleted after a checkpoint was exported → truncated', (t) =>
      withTrail(t, backend, async ({ db, audit }) => {
        await sql`delete from audit_events where seq > 15`.execute(db.db);
        expectProblem(await audit.verify(), 'truncated');
      }));

    test('an older database restored behind the exported checkpoint → rolled-back', (t) =>
      withTrail(t, backend, async ({ db, audit }) => {
        const h = await sql<{ hash: string }>`select hash from audit_events where seq = 15`.execute(db.db);
        await sql`delete from audit_events where seq > 15`.execute(db.db);
        await sql`delete from audit_checkpoints where tree_size > 15`.execute(db.db);
        await sql`update audit_head set seq = 15, hash = ${h.rows[0]!.hash}`.execute(db.db);
        expectProblem(await audit.verify(), 'rolled-back', 15);
      }));

    test('a checkpoint signature altered in the database → bad-signature', (t) =>
      withTrail(t, backend, async ({ db, audit }) => {
        const row = await sql<{
          signature: string;
        }>`select signature from audit_checkpoints where tree_size = 20`.execute(db.db);
        const sig = row.rows[0]!.signature;
        const flipped = (sig[0] === '0' ? '1' : '0') + sig.slice(1);
        await sql`update audit_checkpoints set signature = ${flipped} where tree_size = 20`.execute(db.db);
        expectProblem(await audit.verify(), 'bad-signature', 20);
      }));

    test('an exported segment line edited on disk → export-mismatch at its seq', (t) =>
      withTrail(t, backend, async ({ audit, logDir }) => {
        const file = path.join(exportDir(logDir), 'events-000000000001-000000000020.jsonl');
        const lines = (await readFile(file, 'utf8')).split('\n');
        assert.match(lines[8]!, /"note":"event 9"/);
        lines[8] = lines[8]!.replace('"note":"event 9"', '"note":"event X"');
        await writeFile(file, lines.join('\n'));
        expectProblem(await audit.verify(), 'export-mismatch', 9);
      }));

    test('an exported segment cut short (no final newline) → reported; the intact lines still compare', (t) =>
      withTrail(t, backend, async ({ audit, logDir }) => {
        const file = path.join(exportDir(logDir), 'events-000000000001-000000000020.jsonl');
        await writeFile(file, (await readFile(file, 'utf8')).slice(0, -1));
        const r = await audit.verify();
        expectProblem(r, 'export-mismatch', 20);
        assert.match(r.problems.map((p) => p.detail).join('\n'), /line 20: the last line has no newline/);
        assert.equal(r.problems.length, 1, JSON.stringify(r.problems));
      }));

    test('an exported line edited on disk to be schema-invalid but re-hashed consistently → still reported', (t) =>
      withTrail(t, backend, async ({ audit, logDir }) => {
        const file = path.join(exportDir(logDir), 'events-000000000001-000000000020.jsonl');
        const lines = (await readFile(file, 'utf8')).split('\n');
        const e = JSON.parse(lines[4]!) as AuditEvent;
        e.outcome = 'hacked' as never;
        e.hash = computeEventHash(e);
        lines[4] = eventJsonLine(e);
        await writeFile(file, lines.join('\n'));
        expectProblem(await audit.verify(), 'export-mismatch', 5);
      }));

    test('an exported line removed on disk → reported', (t) =>
      withTrail(t, backend, async ({ audit, logDir }) => {
        const file = path.join(exportDir(logDir), 'events-000000000001-000000000020.jsonl');
        const lines = (await readFile(file, 'utf8')).split('\n');
        lines.splice(3, 1);
        await writeFile(file, lines.join('\n'));
        expectProblem(await audit.verify(), 'export-mismatch');
      }));
  });
}
