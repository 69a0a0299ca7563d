/**
 * Issue 15 on the audit trail, over HTTPS on both backends: the export streams the whole filtered
 * range (more than 1000 events, every one of them, paged inside the server) as
 * `audit-events-<ws>.jsonl` or `.csv`; the CSV names members by email next to their id (never a
 * stranger); "hide reads" leaves out reads; the export is itself audited before its first byte;
 * bad filters are 4xx and roles without audit rights are refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';
import { expectAudit } from './helpers/audit.ts';
import { createUser, createWorkspace, login, ownerSession, type Session } from './helpers/identity.ts';

const EXPORT = '/api/v1/workspaces/default/audit/export';
const COUNT = 1234;

for (const backend of BACKENDS) {
  describe(`audit export on ${backend}`, () => {
    let app: TestApp;
    let owner: Session;
    let ownerId: string;
    let strangerId: string;
    let skip = false;
    const skipped = (t: Parameters<typeof requirePeer>[0]) =>
      skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432');

    before(async () => {
      if (backend === 'postgres' && !(await postgresAvailable())) {
        skip = true;
        return;
      }
      app = await startTestApp(backend);
      const o = await ownerSession(app, 'auditor-owner@corp.test');
      owner = o.session;
      ownerId = o.user.id;
      await createWorkspace(app, 'other');
      strangerId = (await createUser(app, 'stranger@corp.test', { role: 'engineer', workspace: 'other' })).id;
      for (let start = 0; start < COUNT; start += 200) {
        await Promise.all(
          Array.from({ length: Math.min(200, COUNT - start) }, (_, k) => {
            const i = start + k;
            return app.server.audit.recordCommitted({
              actor: { id: i === 7 ? strangerId : ownerId, kind: 'user' },
              action: i % 2 ? 'dataset.dataset.read' : 'dataset.version.create',
              resource: { type: 'dataset', id: `bulk-${i}`, workspace: 'default' },
              outcome: 'success',
              details: { bulk: i },
            });
          }),
        );
      }
      await app.server.audit.recordCommitted({
        actor: { id: strangerId, kind: 'user' },
        action: 'dataset.version.create',
        resource: { type: 'dataset', id: 'elsewhere', workspace: 'other' },
        outcome: 'success',
        details: { bulk: -1 },
      });
      await app.server.audit.chainPending();
    });
    after(async () => {
      await app?.close();
    });

    test('JSON lines: every event of the filtered range, more than 1000, in a .jsonl file', async (t) => {
      if (skipped(t)) return;
      const res = await owner.req(`${EXPORT}?format=jsonl&action=dataset.`);
      assert.equal(res.status, 200, res.body.slice(0, 300));
      assert.match(String(res.headers['content-disposition']), /filename="audit-events-default\.jsonl"/);
      assert.match(String(res.headers['content-type']), /application\/x-ndjson/);
      const events = res.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { seq: number; details: { bulk?: number }; resource: { workspace?: string } });
      const bulk = new Set(events.map((e) => e.details.bulk).filter((b) => b !== undefined));
      assert.equal(bulk.size, COUNT, 'every one of the events, not the first 1000');
      for (let i = 0; i < COUNT; i++) assert.ok(bulk.has(i), `event ${i} is in the export`);
      assert.ok(!bulk.has(-1), "another workspace's event is not");
      assert.ok(events.every((e) => e.resource.workspace === 'default'));
      const seqs = events.map((e) => e.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
        'in chain order, no duplicates across pages',
      );
      assert.equal(new Set(seqs).size, seqs.length);
      await expectAudit(app, {
        action: 'audit.event.export',
        outcome: 'success',
        actorId: ownerId,
        resource: { type: 'audit_trail' },
        details: { query: { order: 'asc', format: 'jsonl', workspace: 'default', actionPrefix: 'dataset.' } },
      });
    });

    test('CSV: a header once, emails of members next to ids, never a stranger email', async (t) => {
      if (skipped(t)) return;
      const res = await owner.req(`${EXPORT}?format=csv&action=dataset.`);
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-disposition']), /filename="audit-events-default\.csv"/);
      const lines = res.body.trim().split('\r\n');
      assert.ok(lines[0]!.startsWith('seq,time,actor_id,actor_email,actor_kind,'), lines[0]);
      assert.equal(lines.filter((l) => l.startsWith('seq,')).length, 1, 'one header for all pages');
      assert.equal(lines.length - 1, COUNT);
      assert.ok(lines.some((l) => l.includes(`${ownerId},auditor-owner@corp.test,user`)));
      const strangerRow = lines.find((l) => l.includes(strangerId))!;
      assert.ok(strangerRow.includes(`${strangerId},,user`), 'a non-member is shown by id only');
      assert.ok(!res.body.includes('stranger@corp.test'));
    });

    test('hide reads leaves out reads, in the search and the export', async (t) => {
      if (skipped(t)) return;
      const res = await owner.req(`${EXPORT}?format=jsonl&action=dataset.&hideReads=true`);
      const actions = res.body
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { action: string }).action);
      assert.equal(actions.length, COUNT / 2);
      assert.ok(actions.every((a) => a === 'dataset.version.create'));
      const page = await owner.req('/api/v1/workspaces/default/audit/events?hideReads=true&limit=1000');
      const events = page.json<{ events: { action: string }[] }>().events;
      assert.ok(events.length > 0);
      assert.ok(
        events.every((e) => !/\.(read|list)$/.test(e.action)),
        'no read in the page',
      );
    });

    test('bad filters are 4xx before anything is sent; roles without audit rights are refused', async (t) => {
      if (skipped(t)) return;
      for (const q of ['from=yesterday', 'format=xml', 'outcome=maybe', 'hideReads=yes', 'limit=5', 'cursor=abc']) {
        const res = await owner.req(`${EXPORT}?${q}`);
        assert.equal(res.status, 422, `${q}: ${res.body}`);
        assert.match(String(res.headers['content-type']), /application\/problem\+json/);
      }
      await createUser(app, 'viewer-audit@corp.test', { role: 'viewer' });
      const viewer = await login(app, 'viewer-audit@corp.test');
      const denied = await viewer.req(`${EXPORT}?format=csv`);
      assert.equal(denied.status, 403);
      await expectAudit(app, { action: 'audit.event.export', outcome: 'denied' });
    });
  });
}
