/**
 * Workspace key rotation on both backends: on demand over HTTPS (operator only, audited), data
 * uploaded before the rotation still reads, new uploads are wrapped by the new version, the rewrap
 * (a task with its log on the system drive) moves every data key and reports progress, the
 * superseded version is destroyed once nothing names it (after the grace period), the schedule
 * rotates keys older than STRONGROOM_KEY_ROTATION_DAYS (actor system), and crypto-shredding
 * takes superseded versions with it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { RETIRE_GRACE_MS, rotateWorkspaceKeysIfDue } from '../src/modules/keys/index.ts';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';
import { expectAudit } from './helpers/audit.ts';
import { ownerSession, type Session } from './helpers/identity.ts';

const DS = '/api/v1/workspaces/default/datasets';
const KEY = '/api/v1/keys/workspaces/default';
const DAY = 24 * 3600 * 1000;

for (const backend of BACKENDS) {
  describe(`workspace key rotation on ${backend}`, () => {
    let app: TestApp;
    let owner: Session;
    let skip = false;
    const upload = (name: string, body: string) =>
      owner.req(`${DS}/${name}/versions?mediaType=text/plain`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body,
      });
    const download = async (name: string, v: number) => (await owner.req(`${DS}/${name}/versions/${v}/content`)).body;

    before(async () => {
      if (backend === 'postgres' && !(await postgresAvailable())) {
        skip = true;
        return;
      }
      app = await startTestApp(backend, { env: { STRONGROOM_DRIVE_HEALTH_SECONDS: '0' } });
      owner = (await ownerSession(app)).session;
    });
    after(async () => {
      await app?.close();
    });

    test('rotate on demand, read old data, rewrap with progress, retire the old version', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      for (let i = 0; i < 3; i++) assert.equal((await upload(`before-${i}`, `old data ${i}`)).status, 201);

      const denied = await owner.req(`${KEY}/rotate`, { method: 'POST' });
      assert.equal(denied.status, 403, 'a workspace owner does not rotate the key: the operator does');

      const s1 = await app.asOperator(KEY);
      assert.equal(s1.status, 200, s1.body);
      assert.equal(s1.json<any>().keyVersion, 1);
      assert.deepEqual(s1.json<any>().versions, [{ version: 1, current: true, wrappedKeys: 3 }]);

      const rot = await app.asOperator(`${KEY}/rotate`, { method: 'POST' });
      assert.equal(rot.status, 200, rot.body);
      assert.deepEqual(
        { previousVersion: rot.json<any>().previousVersion, keyVersion: rot.json<any>().keyVersion },
        { previousVersion: 1, keyVersion: 2 },
      );
      await expectAudit(app, {
        action: 'keys.workspace.rotate',
        outcome: 'success',
        resource: { type: 'workspace-key', id: 'default' },
        details: { previousVersion: 1, keyVersion: 2 },
      });

      // Old data still reads; new data is wrapped by version 2.
      assert.equal(await download('before-1', 1), 'old data 1');
      assert.equal((await upload('after', 'new data')).status, 201);
      const s2 = (await app.asOperator(KEY)).json<any>();
      assert.equal(s2.keyVersion, 2);
      assert.deepEqual(
        s2.versions.map((v: any) => [v.version, v.current, v.wrappedKeys]),
        [
          [1, false, 3],
          [2, true, 1],
        ],
      );

      const started = await app.asOperator(`${KEY}/rewrap`, { method: 'POST' });
      assert.equal(started.status, 202, started.body);
      const taskId = started.json<any>().taskId as string;
      await expectAudit(app, { action: 'keys.workspace.rewrap', details: { taskId } });
      let task: any;
      for (let i = 0; i < 200; i++) {
        task = (await app.asOperator(`/api/v1/tasks/${taskId}`)).json<any>();
        if (task.status !== 'running') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(task.status, 'succeeded', JSON.stringify(task));
      assert.equal(task.progress.rewrapped, 3);
      assert.equal(task.progress.remaining, 0);
      const log = (await app.asOperator(`/api/v1/tasks/${taskId}/log`)).json<any>().entries as any[];
      assert.deepEqual(
        log.map((e) => e.event),
        ['started', 'progress', 'finished'],
      );
      assert.equal(log[2].rewrapped, 3);
      // Within the grace period the superseded version is kept (nothing names it any more).
      assert.deepEqual(log[2].retiredVersions, []);
      const s3 = (await app.asOperator(KEY)).json<any>();
      assert.deepEqual(
        s3.versions.map((v: any) => [v.version, v.wrappedKeys]),
        [
          [1, 0],
          [2, 4],
        ],
      );
      for (let i = 0; i < 3; i++) assert.equal(await download(`before-${i}`, 1), `old data ${i}`);

      // After the grace period, the next rewrap destroys version 1.
      const later = await app.server.workspaceKeys.rewrap('default', {
        now: () => new Date(Date.now() + RETIRE_GRACE_MS + 60_000),
      });
      assert.deepEqual(later.retired, [1]);
      assert.deepEqual(
        (await app.asOperator(KEY)).json<any>().versions.map((v: any) => v.version),
        [2],
      );
      assert.equal(await download('before-2', 1), 'old data 2');
      assert.equal(await download('after', 1), 'new data');
    });

    test('the schedule rotates keys older than the schedule, as system, and rewraps them', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const db = app.server.database.db;
      const deps = {
        db,
        keys: app.server.keys,
        workspaceKeys: app.server.workspaceKeys,
        rotationDays: 90,
        openTaskLog: (kind: string) => app.server.tasks.start(kind),
        record: async (e: any, trx?: any) => {
          const input = {
            actor: { id: 'system', kind: 'system' as const, authMethod: 'schedule' },
            action: e.action,
            outcome: 'success' as const,
            resource: e.resource,
            details: e.details,
          };
          await (trx ? app.server.audit.record(trx, input) : app.server.audit.recordCommitted(input));
        },
      };
      const notYet = await rotateWorkspaceKeysIfDue({ ...deps, now: () => new Date(Date.now() + 30 * DAY) });
      assert.deepEqual(notYet.rotated, []);

      const due = await rotateWorkspaceKeysIfDue({ ...deps, now: () => new Date(Date.now() + 91 * DAY) });
      assert.deepEqual(due.rotated, [{ workspaceId: 'default', keyVersion: 3 }]);
      assert.equal(due.rewraps.length, 1);
      await due.rewraps[0]!.done;
      await expectAudit(app, {
        action: 'keys.workspace.rotate',
        actorId: 'system',
        details: { schedule: true, previousVersion: 2, keyVersion: 3 },
      });
      await expectAudit(app, { action: 'keys.workspace.rewrap', actorId: 'system', details: { schedule: true } });
      const s = (await app.asOperator(KEY)).json<any>();
      assert.deepEqual(
        s.versions.map((v: any) => [v.version, v.wrappedKeys]),
        [
          [2, 0],
          [3, 4],
        ],
      );
      assert.equal(await download('before-0', 1), 'old data 0');
      // Asked again now, nothing is due: the new version is fresh.
      const again = await rotateWorkspaceKeysIfDue(deps);
      assert.deepEqual(again.rotated, []);
      for (const w of again.rewraps) await w.done;
    });

    test('crypto-shredding destroys the superseded versions too', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const db = app.server.database.db;
      const kept = await sql<{ n: number }>`select count(*)::int as n from workspace_key_versions`.execute(db);
      assert.ok(kept.rows[0]!.n >= 1, 'a superseded version is kept before the shred');
      const req = await app.asOperator(`${KEY}/destroy`, { method: 'POST' });
      assert.equal(req.status, 200, req.body);
      const conf = await app.asOperator(`${KEY}/destroy/confirm`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: req.json<any>().token }),
      });
      assert.equal(conf.status, 200, conf.body);
      const left = await sql<{ n: number }>`select count(*)::int as n from workspace_key_versions`.execute(db);
      assert.equal(left.rows[0]!.n, 0);
      const gone = await owner.req(`${DS}/before-0/versions/1/content`);
      assert.equal(gone.json<any>().code, 'KEY_DESTROYED');
      const rot = await app.asOperator(`${KEY}/rotate`, { method: 'POST' });
      assert.equal(rot.json<any>().code, 'KEY_DESTROYED');
    });
  });
}
