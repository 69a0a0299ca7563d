/**
 * Audit search (filters, keyset pagination), JSON lines and CSV export (escaping, formula
 * neutralisation) and the audit routes on the request pipeline (decided once, the read itself
 * audited, denials and refused input too).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';
import {
  createAuditModule,
  csvCell,
  toCsv,
  type AuditModule,
  type AuditEventInput,
  type SearchQuery,
} from '../src/modules/audit/index.ts';
import { BACKENDS, createTestDatabase, postgresAvailable, type Backend } from './helpers/db.ts';
import { startTestApp } from './helpers/app.ts';
import { ownerSession } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const BASE = Date.UTC(2025, 2, 1, 0, 0, 0);

/** Event i (1-based seq = i): actor usr_{i%3}, outcome denied when i%4==0, hour i. */
function draft(i: number): AuditEventInput {
  return {
    time: new Date(BASE + i * 3600_000).toISOString(),
    actor: { id: `usr_${i % 3}`, kind: 'user' },
    action: i % 2 ? 'vault.secret.read' : 'datasets.dataset_x.create',
    resource: { type: i % 2 ? 'secret' : 'dataset', id: `r${i % 5}` },
    outcome: i % 4 === 0 ? 'denied' : 'success',
    details: { i },
  };
}

async function withEvents(
  t: TestContext,
  backend: Backend,
  body: (db: Db, audit: AuditModule) => Promise<void>,
): Promise<void> {
  if (
    backend === 'postgres' &&
    !requirePeer(t, 'PostgreSQL', await postgresAvailable(), 'start it: pg_ctlcluster 15 main start')
  )
    return;
  const db = await createTestDatabase(backend);
  const logDir = await mkdtemp(path.join(os.tmpdir(), 'sr-audit-search-'));
  const audit = createAuditModule({ db: db.db, barrier: createBarrier({ keyring: Keyring.create() }), logDir });
  try {
    for (let i = 1; i <= 40; i++) await db.db.transaction().execute((trx) => audit.record(trx, draft(i)));
    await audit.chainPending();
    await body(db, audit);
  } finally {
    await db.close();
    await rm(logDir, { recursive: true, force: true });
  }
}

const range = (n: number) => Array.from({ length: n }, (_, k) => k + 1);

async function allPages(audit: AuditModule, q: SearchQuery): Promise<{ seqs: number[]; pages: number }> {
  const seqs: number[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await audit.search({ ...q, ...(cursor ? { cursor } : {}) });
    pages++;
    seqs.push(...page.events.map((e) => e.seq));
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined && pages < 100);
  return { seqs, pages };
}

for (const backend of BACKENDS) {
  describe(`audit search on ${backend}`, () => {
    test('filters and cursor pagination return exactly the expected seqs', (t) =>
      withEvents(t, backend, async (_db, audit) => {
        const cases: [SearchQuery, number[]][] = [
          [{ actor: 'usr_1' }, range(40).filter((i) => i % 3 === 1)],
          [{ actionPrefix: 'vault.' }, range(40).filter((i) => i % 2 === 1)],
          [{ actionPrefix: 'datasets.dataset_' }, range(40).filter((i) => i % 2 === 0)],
          [{ actionPrefix: 'datasets.dataset%' }, []],
          [{ resource: 'secret:r3' }, range(40).filter((i) => i % 2 === 1 && i % 5 === 3)],
          [{ resource: 'dataset' }, range(40).filter((i) => i % 2 === 0)],
          [{ outcome: 'denied', actor: 'usr_0' }, range(40).filter((i) => i % 4 === 0 && i % 3 === 0)],
          [
            { from: new Date(BASE + 10 * 3600_000).toISOString(), to: new Date(BASE + 15 * 3600_000).toISOString() },
            [10, 11, 12, 13, 14],
          ],
        ];
        for (const [q, want] of cases) {
          const { seqs } = await allPages(audit, { ...q, limit: 3 });
          assert.deepEqual(seqs, want, JSON.stringify(q));
        }
        const all = await allPages(audit, { limit: 7 });
        assert.deepEqual(all.seqs, range(40));
        assert.equal(all.pages, 6);
        const desc = await allPages(audit, { order: 'desc', limit: 16 });
        assert.deepEqual(desc.seqs, range(40).reverse());
        const first = await audit.search({ limit: 1000 });
        assert.equal(first.events.length, 40);
        assert.equal(first.nextCursor, null);
        await assert.rejects(audit.search({ limit: 1001 }), (e: { code?: string }) => e.code === 'VALIDATION_FAILED');
        await assert.rejects(
          audit.search({ cursor: 'garbage' }),
          (e: { code?: string }) => e.code === 'VALIDATION_FAILED',
        );
      }));
  });
}

describe('audit routes over HTTPS (the request pipeline)', () => {
  test('GET /api/v1/audit/events: decided once, audited (denials and bad input too), json/jsonl/csv; verify route', async () => {
    const app = await startTestApp('pglite');
    try {
      const audit = app.server.audit;
      const db = app.server.database.db;
      for (let i = 1; i <= 40; i++) await db.transaction().execute((trx) => audit.record(trx, draft(i)));
      await audit.chainPending();
      const seeded = (events: { details: unknown }[]) => events.map((e) => (e.details as { i: number }).i);

      // A signed-in workspace owner holds no role on an installation route: denied, and recorded.
      const { session } = await ownerSession(app);
      const denied = await session.req('/api/v1/audit/events');
      assert.equal(denied.status, 403, denied.body);
      const r = await app.asOperator('/api/v1/audit/events?actor=usr_2&limit=5', {
        headers: { 'user-agent': 'test-agent' },
      });
      assert.equal(r.status, 200, r.body);
      const body = r.json<{ events: { seq: number; details: unknown }[]; nextCursor: string }>();
      assert.deepEqual(seeded(body.events), [2, 5, 8, 11, 14]);
      assert.equal(r.headers['x-next-cursor'], body.nextCursor);
      const next = await app.asOperator(
        `/api/v1/audit/events?actor=usr_2&limit=5&cursor=${body.nextCursor}&format=jsonl`,
      );
      assert.match(String(next.headers['content-type']), /application\/x-ndjson/);
      assert.equal(next.headers['cache-control'], 'no-store');
      assert.deepEqual(
        seeded(
          next.body
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { details: unknown }),
        ),
        [17, 20, 23, 26, 29],
      );
      const csv = await app.asOperator('/api/v1/audit/events?outcome=denied&actor=usr_1&limit=2&format=csv');
      assert.match(String(csv.headers['content-type']), /text\/csv/);
      assert.match(String(csv.headers['content-disposition']), /filename="audit-events\.csv"/);
      assert.equal(
        csv.body.split('\r\n')[0],
        'seq,time,actor_id,actor_kind,auth_method,action,resource_type,resource_id,workspace,outcome,request_id,source_ip,user_agent,details,prev_hash,hash',
      );
      assert.match(
        csv.body.split('\r\n')[1]!,
        /^\d+,2025-03-01T04:00:00.000Z,usr_1,user,,datasets.dataset_x.create,dataset,r4,,denied,/,
      );
      const bad = await app.asOperator('/api/v1/audit/events?limit=5000');
      assert.equal(bad.status, 422, bad.body);
      const v = await app.asOperator('/api/v1/audit/verify');
      assert.equal(v.status, 200, v.body);
      assert.equal(v.json<{ ok: boolean }>().ok, true);

      // Reading the trail was itself recorded: the denied attempt, three reads, the refused input and one verify.
      await audit.chainPending();
      const reads = await audit.search({ actionPrefix: 'audit.' });
      assert.deepEqual(
        reads.events.map((e) => [e.action, e.outcome, e.actor.kind]),
        [
          ['audit.event.list', 'denied', 'user'],
          ['audit.event.list', 'success', 'operator'],
          ['audit.event.list', 'success', 'operator'],
          ['audit.event.list', 'success', 'operator'],
          ['audit.event.list', 'failure', 'operator'],
          ['audit.trail.verify', 'success', 'operator'],
        ],
      );
      assert.equal(reads.events[1]!.userAgent, 'test-agent');
      assert.deepEqual(reads.events[1]!.details, { query: { actor: 'usr_2', order: 'asc', limit: 5, format: 'json' } });
      assert.ok(reads.events.every((e) => e.requestId !== undefined));
      assert.ok(reads.events.filter((e) => e.outcome === 'success').every((e) => e.resource.type === 'audit_trail'));
    } finally {
      await app.close();
    }
  });
});

describe('CSV export', () => {
  test('escapes quotes, commas and newlines and neutralises formula cells', () => {
    assert.equal(csvCell('plain'), 'plain');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('line1\nline2'), '"line1\nline2"');
    assert.equal(csvCell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
    assert.equal(csvCell('+1'), "'+1");
    assert.equal(csvCell('-2+3'), "'-2+3");
    assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
    assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    const text = toCsv([
      {
        seq: 1,
        time: '2025-01-01T00:00:00.000Z',
        actor: { id: '=cmd', kind: 'user' },
        action: 'a.b.c',
        resource: { type: 't', id: 'x,"y"\nz' },
        outcome: 'success',
        userAgent: '@evil',
        details: { k: 'v' },
        prevHash: '0'.repeat(64),
        hash: 'f'.repeat(64),
      },
    ]);
    const row = text.split('\r\n')[1]!;
    assert.ok(
      row.startsWith(`1,2025-01-01T00:00:00.000Z,'=cmd,user,,a.b.c,t,"x,""y""\nz",,success,,,'@evil,"{""k"":""v""}",`),
      row,
    );
    assert.ok(!/(^|,)[=+@-]/.test(row.replace(/"[^"]*(""[^"]*)*"/g, 'Q')), 'no cell starts with a formula character');
  });
});
