/**
 * Retention end to end on both backends: classes with defaults (set by the operator, audited),
 * legal holds (audited; they block an erasure, the audit purge past a held event and a
 * workspace purge), a person's export and erasure (the canary email and name appear nowhere
 * afterwards, `audit verify` stays green), the audit purge over a simulated year (injected
 * clock) keeping `audit verify` green from the signed retention checkpoint, workspace
 * termination (cancel; purge after the grace period destroys the key) and the daily job running
 * once across two instances.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createRetentionScheduler } from '../src/modules/retention/index.ts';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { createUser, createWorkspace, jsonBody, login, ownerSession } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';

type Any = any;
const body = (r: { json(): unknown }): Any => r.json();
const DAY = 86_400_000;
const EMAIL = 'canary-9f2c@corp.test';
const NAME = 'Canary Zebulon Quux';

/** Every row of every table of the installation, as JSON text (what a database dump would hold). */
async function dumpAll(app: TestApp): Promise<string> {
  const db = app.server.database.db;
  const { rows } = await sql<{ t: string }>`
    select table_name as t from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE'`.execute(db);
  const out: string[] = [];
  for (const { t } of rows) {
    const r = await sql<{ j: string }>`select row_to_json(x)::text as j from ${sql.table(t)} x`.execute(db);
    out.push(...r.rows.map((x) => x.j));
  }
  return out.join('\n');
}

for (const backend of BACKENDS) {
  describe(`retention on ${backend}`, () => {
    let app: TestApp;
    let skip = false;
    let personId = '';

    before(async (t) => {
      if (
        backend === 'postgres' &&
        !requirePeer(t as never, 'PostgreSQL', await postgresAvailable(), 'pg_ctlcluster 15 main start')
      ) {
        skip = true;
        return;
      }
      app = await startTestApp(backend);
      for (const workspaceId of ['acme', 'doomed', 'kept']) await createWorkspace(app, workspaceId);
      await createUser(app, 'boss@corp.test', { workspace: 'acme', role: 'owner' });
      const person = await createUser(app, EMAIL, { workspace: 'acme', displayName: NAME });
      personId = person.id;
      await login(app, EMAIL);
      assert.equal(
        (await app.req('/api/v1/auth/login', jsonBody({ email: EMAIL, password: 'wrong one!' }))).status,
        401,
      );
      await app.server.workspaceKeys.encryptorFor('doomed');
    });
    after(async () => {
      if (!skip) await app.close();
    });

    test('classes: documented defaults, set by the operator (audited), bad values refused', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const shown = body(await app.asOperator('/api/v1/retention'));
      assert.deepEqual(shown.classes, { audit: 365, 'task-logs': 365, 'terminated-workspaces': 60, backups: 365 });
      const set = await app.asOperator('/api/v1/retention', jsonBody({ 'task-logs': 90 }, 'PUT'));
      assert.equal(set.status, 200, set.body);
      assert.equal(body(set).classes['task-logs'], 90);
      await expectAudit(app, {
        action: 'retention.settings.update',
        actorId: 'operator',
        details: { 'task-logs': 90 },
      });
      const auditClass = await app.server.posture.posture.registry
        .get('retention.audit-class')!
        .check({ now: new Date() });
      assert.equal(auditClass.status, 'pass');
      assert.equal(auditClass.evidence.auditDays, 365);
      const preview = await app.asOperator('/api/v1/retention/preview', jsonBody({ audit: 30 }));
      assert.equal(preview.status, 200, preview.body);
      const p = body(preview);
      assert.equal(p.classes.audit, 30);
      assert.equal(p.classes['task-logs'], 90, 'classes not in the body are the saved ones');
      assert.equal(p.audit.belowRecommended, true);
      assert.equal(p.audit.events, 0, 'no event is 30 days old');
      assert.equal(Date.parse(p.audit.before) < Date.now() - 29 * DAY, true);
      assert.equal(body(await app.asOperator('/api/v1/retention')).classes.audit, 365, 'a preview saves nothing');
      await expectAudit(app, {
        action: 'retention.settings.read',
        actorId: 'operator',
        details: { preview: true, audit: 30 },
      });
      const badPreview = await app.asOperator('/api/v1/retention/preview', jsonBody({ audit: 'soon' }));
      assert.equal(badPreview.status, 422);
      assert.match(badPreview.headers['content-type'] as string, /application\/problem\+json/);
      const bad = await app.asOperator('/api/v1/retention', jsonBody({ audit: 0 }, 'PUT'));
      assert.equal(bad.status, 422);
      assert.match(bad.headers['content-type'] as string, /application\/problem\+json/);
      const unknown = await app.asOperator('/api/v1/retention', jsonBody({ forever: 1 }, 'PUT'));
      assert.equal(unknown.status, 422);
      const user = await login(app, 'boss@corp.test');
      const denied = await app.req('/api/v1/retention', { headers: { cookie: user.cookie } });
      assert.equal(denied.status, 403, 'a workspace owner is not the operator');
      const deniedPreview = await user.req('/api/v1/retention/preview', jsonBody({ audit: 400 }));
      assert.equal(deniedPreview.status, 403, deniedPreview.body);
    });

    test("a person's export, then erasure refused under a legal hold, then done: nothing of them remains", async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const exp = await app.asOperator(`/api/v1/retention/users/${personId}/export`);
      assert.equal(exp.status, 200, exp.body);
      const data = body(exp);
      assert.equal(data.account.email, EMAIL);
      assert.equal(data.account.displayName, NAME);
      assert.deepEqual(
        data.memberships.map((m: Any) => [m.workspace, m.role]),
        [['acme', 'engineer']],
      );
      assert.ok(data.sessions.length >= 1);
      assert.ok(data.auditEvents.some((e: Any) => e.action === 'identity.session.create' && e.outcome === 'success'));
      await expectAudit(app, { action: 'retention.user.export', resource: { type: 'user', id: personId } });

      const hold = await app.asOperator(
        '/api/v1/holds',
        jsonBody({ scope: 'user', target: personId, reason: 'litigation 2026-17' }),
      );
      assert.equal(hold.status, 201, hold.body);
      const holdId = body(hold).id;
      await expectAudit(app, { action: 'retention.hold.create', details: { scope: 'user', target: personId } });
      const refused = await app.asOperator(`/api/v1/retention/users/${personId}/erase`, { method: 'POST' });
      assert.equal(refused.status, 409);
      assert.match(body(refused).detail, new RegExp(`legal hold covers this user \\(${holdId}\\)`));
      assert.ok((await dumpAll(app)).includes(EMAIL), 'nothing erased while held');
      assert.equal((await app.asOperator(`/api/v1/holds/${holdId}`, { method: 'DELETE' })).status, 200);
      await expectAudit(app, { action: 'retention.hold.release', resource: { id: holdId } });
      assert.equal((await app.asOperator(`/api/v1/holds/${holdId}`, { method: 'DELETE' })).status, 404);

      const erased = await app.asOperator(`/api/v1/retention/users/${personId}/erase`, { method: 'POST' });
      assert.equal(erased.status, 200, erased.body);
      assert.match(body(erased).emailHmac, /^hmac-sha256:[0-9a-f]{64}$/);
      assert.equal(body(erased).memberships, 1);
      await expectAudit(app, { action: 'retention.user.erase', resource: { id: personId }, mustNotContain: [EMAIL] });
      const again = await app.asOperator(`/api/v1/retention/users/${personId}/erase`, { method: 'POST' });
      assert.equal(again.status, 409);

      await app.server.audit.checkpointNow();
      const dump = await dumpAll(app);
      for (const canary of [EMAIL, NAME]) {
        assert.ok(
          !dump.includes(canary),
          `${canary} is in the database: ${dump
            .split('\n')
            .filter((l) => l.includes(canary))
            .join(' | ')}`,
        );
        assert.ok(!app.logs.join('\n').includes(canary), `${canary} is in the logs`);
      }
      const report = await app.server.audit.verify();
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      // (A later sign-in attempt with the erased email counts in login_throttle under that email
      // again, until the throttle window ends: outside what erasure can control.)
      assert.equal(
        (await app.req('/api/v1/auth/login', jsonBody({ email: EMAIL, password: 'x'.repeat(16) }))).status,
        401,
      );
    });

    test('the audit purge over a simulated year: blocked by a hold, then pruned through a signed checkpoint, verify green', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const hold = body(
        await app.asOperator('/api/v1/holds', jsonBody({ scope: 'workspace', target: 'acme', reason: 'regulator' })),
      );
      await app.server.audit.checkpointNow();
      const yearLater = new Date(Date.now() + 366 * DAY);
      const held = await app.server.retention.preview({}, yearLater);
      assert.equal(held.audit.blockedByHold, true, 'the preview says a hold keeps events');
      const first = await app.server.retention.purge(yearLater);
      assert.equal(first.audit.blockedByHold, true, JSON.stringify(first));
      assert.equal(first.audit.events, held.audit.events);
      const acmeEvents = await app.server.audit.search({ workspace: 'acme', limit: 10, order: 'asc' });
      assert.ok(acmeEvents.events.length > 0, 'the held workspace keeps its events');
      assert.equal((await app.server.audit.verify()).ok, true);

      await app.asOperator(`/api/v1/holds/${hold.id}`, { method: 'DELETE' });
      await app.server.audit.checkpointNow();
      const head = (await app.server.audit.tail(1))[0]!.seq;
      // The preview names exactly what the purge then deletes, and deletes nothing itself.
      const stored = async () =>
        Number(
          (await sql<{ n: unknown }>`select count(*) as n from audit_events`.execute(app.server.database.db)).rows[0]!
            .n,
        );
      const before = await stored();
      const preview = await app.server.retention.preview({}, yearLater);
      assert.equal(preview.audit.blockedByHold, false);
      assert.equal(preview.audit.lastSeq, head, JSON.stringify(preview.audit));
      assert.ok(preview.audit.events > 0, 'a year later, events are old enough');
      assert.ok((await stored()) >= before, 'the preview deleted no event');
      const second = await app.server.retention.purge(yearLater);
      assert.equal(second.audit.events, preview.audit.events, 'the purge deletes what the preview counted');
      assert.equal(second.audit.firstSeq, preview.audit.firstSeq);
      assert.equal(second.audit.blockedByHold, false);
      assert.ok(second.audit.events > 0);
      assert.equal(second.audit.lastSeq, head, 'pruned through the newest checkpoint');
      await expectAudit(app, {
        action: 'retention.purge.run',
        actorId: 'system:retention',
        details: { class: 'audit', days: 365, lastSeq: head },
      });
      const report = await app.server.audit.verify();
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      assert.ok(report.eventsChecked < head, 'only the remaining events are in the database');
      // A month later, nothing more is old enough.
      const third = await app.server.retention.purge(new Date(Date.now() + 30 * DAY));
      assert.equal(third.audit.events, 0);
    });

    test('workspace termination: cancellable, held, then purged after the grace period (key destroyed, audited)', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const term = await app.asOperator('/api/v1/retention/terminations', jsonBody({ workspace: 'kept' }));
      assert.equal(term.status, 201, term.body);
      assert.equal(body(term).graceDays, 60);
      assert.equal((await app.asOperator('/api/v1/retention/terminations/kept', { method: 'DELETE' })).status, 200);
      assert.equal((await app.asOperator('/api/v1/retention/terminations/kept', { method: 'DELETE' })).status, 404);
      await expectAudit(app, { action: 'retention.workspace.cancel-termination', resource: { id: 'kept' } });
      const none = await app.asOperator('/api/v1/retention/terminations', jsonBody({ workspace: 'nowhere' }));
      assert.equal(none.status, 404);

      assert.equal(
        (await app.asOperator('/api/v1/retention/terminations', jsonBody({ workspace: 'doomed' }))).status,
        201,
      );
      await expectAudit(app, { action: 'retention.workspace.terminate', resource: { id: 'doomed' } });
      const hold = body(
        await app.asOperator('/api/v1/holds', jsonBody({ scope: 'workspace', target: 'doomed', reason: 'subpoena' })),
      );
      assert.deepEqual((await app.server.retention.purge(new Date(Date.now() + 30 * DAY))).workspaces.purged, []);
      const terminations = (at: number) =>
        app.server.posture.posture.registry.get('retention.terminations')!.check({ now: new Date(Date.now() + at) });
      assert.equal((await terminations(0)).status, 'pass');
      const heldLate = await terminations(62 * DAY);
      assert.equal(heldLate.status, 'pass', 'a held termination is explained by its hold');
      assert.deepEqual(heldLate.evidence.heldOverdue, ['doomed']);
      const held = await app.server.retention.purge(new Date(Date.now() + 61 * DAY));
      assert.deepEqual(held.workspaces, { purged: [], held: ['doomed'] });
      await app.server.workspaceKeys.encryptorFor('doomed'); // still readable
      await app.asOperator(`/api/v1/holds/${hold.id}`, { method: 'DELETE' });
      const late = await terminations(62 * DAY);
      assert.equal(late.status, 'warn', 'past its purge date, no hold, not purged');
      assert.deepEqual(late.evidence.overdue, ['doomed']);
      const purged = await app.server.retention.purge(new Date(Date.now() + 61 * DAY));
      assert.deepEqual(purged.workspaces, { purged: ['doomed'], held: [] });
      await assert.rejects(app.server.workspaceKeys.encryptorFor('doomed'), /destroyed/);
      await expectAudit(app, {
        action: 'retention.purge.run',
        resource: { type: 'workspace', id: 'doomed' },
        details: { class: 'terminated-workspaces', keyDestroyed: true },
      });
      const shown = body(await app.asOperator('/api/v1/retention'));
      const states = Object.fromEntries(shown.terminations.map((x: Any) => [x.workspace, x.state]));
      assert.deepEqual(states, { kept: 'cancelled', doomed: 'purged' });
      assert.equal((await app.server.audit.verify()).ok, true);
    });

    test('a backup taken after the purge and the erasure passes its restore drill (pruned chain verified)', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await app.server.drives.ensureDefaults();
      const target = await app.asOperator(
        '/api/v1/backups/targets',
        jsonBody({ name: 'local', workspace: 'kept', drive: 'default', prefix: 'bk' }),
      );
      assert.equal(target.status, 201, target.body);
      const created = await app.asOperator('/api/v1/backups', jsonBody({}));
      assert.equal(created.status, 201, created.body);
      const drill = await app.asOperator(`/api/v1/backups/${body(created).id}/verify`, { method: 'POST' });
      assert.equal(drill.status, 200, drill.body);
      assert.equal(body(drill).ok, true, drill.body);
    });

    test('task logs past their class are deleted after their evidence event', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const dir = path.join(app.home, 'logs', 'tasks');
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'rewrap-old.jsonl'), '{}\n');
      await writeFile(path.join(dir, 'rewrap-new.jsonl'), '{}\n');
      const old = new Date(Date.now() - 400 * DAY);
      await utimes(path.join(dir, 'rewrap-old.jsonl'), old, old);
      const preview = await app.asOperator('/api/v1/retention/preview', jsonBody({ 'task-logs': 500 }));
      assert.equal(preview.status, 200, preview.body);
      assert.equal(body(preview).taskLogs.files, 0, 'nothing is 500 days old');
      assert.equal(body(await app.asOperator('/api/v1/retention/preview', jsonBody({}))).taskLogs.files, 1);
      assert.equal((await readdir(dir)).length, 2, 'a preview deletes nothing');
      const r = await app.server.retention.purge();
      assert.equal(r.taskLogs, 1);
      const left = await readdir(dir);
      assert.ok(left.includes('rewrap-new.jsonl') && !left.includes('rewrap-old.jsonl'), left.join());
      await expectAudit(app, {
        action: 'retention.purge.run',
        details: { class: 'task-logs', files: 1, first: 'rewrap-old.jsonl' },
      });
    });

    test("a workspace's owner (re-authenticated, MFA) terminates it and cancels; other roles may not", async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const owner = await ownerSession(app, undefined, 'kept');
      await createUser(app, 'eng@corp.test', { workspace: 'kept', role: 'admin' });
      const admin = await login(app, 'eng@corp.test');
      const refused = await admin.req('/api/v1/workspaces/kept/termination', { method: 'POST' });
      assert.equal(refused.status, 403);
      await expectAudit(app, { action: 'workspace.workspace.terminate', outcome: 'denied', resource: { id: 'kept' } });
      const done = await owner.session.req('/api/v1/workspaces/kept/termination', { method: 'POST' });
      assert.equal(done.status, 201, done.body);
      await expectAudit(app, { action: 'workspace.workspace.terminate', outcome: 'success', actorId: owner.user.id });
      const cancelled = await owner.session.req('/api/v1/workspaces/kept/termination', { method: 'DELETE' });
      assert.equal(cancelled.status, 200, cancelled.body);
      await expectAudit(app, { action: 'workspace.workspace.cancel-termination', outcome: 'success' });
      const other = await owner.session.req('/api/v1/workspaces/acme/termination', { method: 'POST' });
      assert.equal(other.status, 404, 'an owner of kept is nobody in acme (not even told it exists)');
    });

    test('the daily purge job runs once per day across two instances', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      let now = new Date(Date.now() + 400 * DAY);
      const mk = (owner: string) =>
        createRetentionScheduler({
          db: app.server.database.db,
          retention: app.server.retention,
          owner,
          record: (input) => app.server.audit.recordCommitted(input),
          now: () => now,
        });
      const a = mk('a');
      const b = mk('b');
      await a.tick(); // plans tomorrow's purge (and runs any already due)
      assert.deepEqual((await b.tick()).ran, [], 'planned, not due yet');
      now = new Date(now.getTime() + DAY);
      const [ra, rb] = await Promise.all([a.tick(), b.tick()]);
      assert.equal(ra.ran.length + rb.ran.length, 1);
      assert.deepEqual((await a.tick()).ran, []);
      await expectAudit(app, { action: 'retention.purge.run', details: { scheduled: true, attempt: 1 } });
    });
  });
}
