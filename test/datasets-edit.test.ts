/**
 * Issue 15 on datasets, over HTTPS on both backends with an s3rver drive: tags and description
 * are editable and audited (a tag rule cannot be lifted by someone it holds back); deleting a
 * version or a dataset needs a recent sign-in; a new version stays on the dataset's drive unless
 * another is named; admins choose the workspace's default drive; an identical re-upload is
 * pointed out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';
import { expectAudit } from './helpers/audit.ts';
import { createUser, GOOD_PASSWORD, jsonBody, login, ownerSession, totpNow, type Session } from './helpers/identity.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3Peer } from './peers/s3/s3rver.ts';

const WS = '/api/v1/workspaces/default';
const DS = `${WS}/datasets`;

for (const backend of BACKENDS) {
  describe(`dataset edits on ${backend}`, () => {
    let app: TestApp;
    let owner: Session;
    let ownerId: string;
    let secret: string;
    let engineer: Session;
    let s3: S3Peer;
    let skip = false;

    const put = (s: Session, name: string, body: string, query = '') =>
      s.req(`${DS}/${name}/versions${query}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body,
      });
    const patch = (s: Session, name: string, body: unknown) => s.req(`${DS}/${name}`, jsonBody(body, 'PATCH'));
    const skipped = (t: Parameters<typeof requirePeer>[0]) =>
      skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432');

    before(async () => {
      if (backend === 'postgres' && !(await postgresAvailable())) {
        skip = true;
        return;
      }
      s3 = await startS3rver(['lake']);
      app = await startTestApp(backend, {
        env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
      });
      const o = await ownerSession(app);
      owner = o.session;
      ownerId = o.user.id;
      secret = o.secret;
      await createUser(app, 'eng-edit@corp.test', { role: 'engineer' });
      engineer = await login(app, 'eng-edit@corp.test');
      const added = await owner.req(
        `${WS}/drives`,
        jsonBody({
          name: 'lake',
          kind: 's3',
          config: { bucket: 'lake', endpoint: s3.endpoint, pathStyle: true },
          credentials: { provider: 's3', ...S3RVER_CREDENTIALS },
        }),
      );
      assert.equal(added.status, 201, added.body);
    });
    after(async () => {
      await app?.close();
      await s3?.stop();
    });

    test('tags and description are editable, audited, and shown', async (t) => {
      if (skipped(t)) return;
      assert.equal((await put(owner, 'sales', 'a,b\n1,2\n', '?tag=finance')).status, 201);
      const res = await patch(owner, 'sales', { tags: ['q3', 'finance', 'q3'], description: 'Sales by quarter' });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(res.json<{ tags: string[] }>().tags, ['finance', 'q3']);
      const shown = (await owner.req(`${DS}/sales`)).json<{ tags: string[]; description: string }>();
      assert.deepEqual(shown.tags, ['finance', 'q3']);
      assert.equal(shown.description, 'Sales by quarter');
      await expectAudit(app, {
        action: 'dataset.dataset.update',
        outcome: 'success',
        actorId: ownerId,
        resource: { type: 'dataset', id: 'sales', workspace: 'default' },
        details: { tags: ['finance', 'q3'], previousTags: ['finance'], description: 'changed' },
      });
    });

    test('bad edits are 4xx problems and change nothing', async (t) => {
      if (skipped(t)) return;
      for (const [body, status] of [
        [{}, 422],
        [{ tags: ['Not A Tag'] }, 422],
        [{ tags: 'finance' }, 422],
        [{ description: 'x\u0000y' }, 422],
        [{ description: 'd', owner: 'me' }, 422],
        [{ tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }, 422],
      ] as const) {
        const res = await patch(owner, 'sales', body);
        assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.body}`);
        assert.match(String(res.headers['content-type']), /application\/problem\+json/);
      }
      const missing = await patch(owner, 'no-such-dataset', { tags: ['x'] });
      assert.equal(missing.status, 404);
      assert.equal(missing.json<{ detail: string }>().detail, 'No such dataset in this workspace.');
      assert.deepEqual((await owner.req(`${DS}/sales`)).json<{ tags: string[] }>().tags, ['finance', 'q3']);
    });

    test('a tag rule cannot be lifted by someone it holds back; adding one is allowed', async (t) => {
      if (skipped(t)) return;
      assert.equal((await put(owner, 'people', 'name\nAda\n', '?tag=pii')).status, 201);
      // Neither the engineer nor the owner has clearance 2: both are held back by the pii rule.
      for (const s of [engineer, owner]) {
        const res = await patch(s, 'people', { tags: [] });
        assert.equal(res.status, 403, res.body);
        assert.match(res.json<{ detail: string }>().detail, /Removing pii needs the right to read this dataset/);
      }
      await expectAudit(app, {
        action: 'dataset.dataset.update',
        resource: { id: 'people' },
        details: { reason: 'may not read the content under its current tags', removed: ['pii'] },
      });
      assert.deepEqual((await owner.req(`${DS}/people`)).json<{ tags: string[] }>().tags, ['pii']);
      // Adding a restriction (and keeping pii) is fine; the description can change too.
      const more = await patch(engineer, 'people', { tags: ['pii', 'eu-only'], description: 'staff' });
      assert.equal(more.status, 200, more.body);
      // A viewer may not edit at all.
      await createUser(app, 'viewer-edit@corp.test', { role: 'viewer' });
      const viewer = await login(app, 'viewer-edit@corp.test');
      assert.equal((await patch(viewer, 'sales', { description: 'mine' })).status, 403);
      await expectAudit(app, { action: 'dataset.dataset.update', outcome: 'denied', resource: { id: 'sales' } });
    });

    test('a new version stays on the dataset drive; admins choose the default drive', async (t) => {
      if (skipped(t)) return;
      const v1 = await put(owner, 'kept', 'x,y\n1,2\n', '?drive=lake');
      assert.equal(v1.json<{ version: { drive: string } }>().version.drive, 'lake');
      const v2 = await put(owner, 'kept', 'x,y\n3,4\n');
      assert.equal(v2.status, 201, v2.body);
      assert.equal(v2.json<{ version: { drive: string } }>().version.drive, 'lake', 'not the workspace default');
      await expectAudit(app, {
        action: 'dataset.version.create',
        resource: { id: 'kept' },
        details: { drive: 'lake', version: 2 },
      });
      // A resumable session without a drive opens on the dataset's drive as well.
      const session = await owner.req(`${DS}/kept/uploads`, jsonBody({ size: 10 }));
      assert.equal(session.status, 201, session.body);
      assert.equal(session.json<{ drive: string }>().drive, 'lake');
      const id = session.json<{ id: string }>().id;
      assert.equal((await owner.req(`${DS}/kept/uploads/${id}`, { method: 'DELETE' })).status, 204);
      // Naming another drive still works.
      const moved = await put(owner, 'kept', 'x,y\n5,6\n', '?drive=default');
      assert.equal(moved.json<{ version: { drive: string } }>().version.drive, 'default');

      // A new dataset goes to the workspace default, which owners and admins choose.
      assert.equal(
        (await put(owner, 'fresh1', 'a\n1\n')).json<{ version: { drive: string } }>().version.drive,
        'default',
      );
      const denied = await engineer.req(`${WS}/default-drive`, jsonBody({ drive: 'lake' }, 'PUT'));
      assert.equal(denied.status, 403, 'engineers may not change a workspace setting');
      const unknown = await owner.req(`${WS}/default-drive`, jsonBody({ drive: 'nope' }, 'PUT'));
      assert.equal(unknown.status, 422, unknown.body);
      assert.match(unknown.json<{ detail: string }>().detail, /There is no drive "nope"/);
      const set = await owner.req(`${WS}/default-drive`, jsonBody({ drive: 'lake' }, 'PUT'));
      assert.equal(set.status, 200, set.body);
      assert.deepEqual(set.json(), { defaultDrive: 'lake', previous: 'default' });
      await expectAudit(app, {
        action: 'workspace.default-drive.set',
        outcome: 'success',
        details: { drive: 'lake', previous: 'default' },
      });
      const drives = (await owner.req(`${WS}/drives`)).json<{ drives: { name: string; isDefault: boolean }[] }>();
      assert.deepEqual(
        drives.drives.filter((d) => d.isDefault).map((d) => d.name),
        ['lake'],
      );
      assert.equal((await put(owner, 'fresh2', 'a\n1\n')).json<{ version: { drive: string } }>().version.drive, 'lake');
      // Back, so the other tests see the usual default.
      assert.equal((await owner.req(`${WS}/default-drive`, jsonBody({ drive: 'default' }, 'PUT'))).status, 200);
    });

    test('an identical re-upload is pointed out', async (t) => {
      if (skipped(t)) return;
      const first = await put(owner, 'same', 'id\n1\n');
      assert.equal(first.json<{ identicalTo?: number }>().identicalTo, undefined);
      const again = await put(owner, 'same', 'id\n1\n');
      assert.equal(again.status, 201);
      assert.equal(again.json<{ identicalTo?: number }>().identicalTo, 1);
      const other = await put(owner, 'same', 'id\n2\n');
      assert.equal(other.json<{ identicalTo?: number }>().identicalTo, undefined);
    });

    test('deleting a version or a dataset needs a recent sign-in', async (t) => {
      if (skipped(t)) return;
      assert.equal((await put(owner, 'gone', 'a\n1\n')).status, 201);
      assert.equal((await put(owner, 'gone', 'a\n2\n')).status, 201);
      await app.server.database.db
        .updateTable('sessions')
        .set({ authenticated_at: new Date(Date.now() - 3600_000) })
        .execute();
      for (const url of [`${DS}/gone/versions/1`, `${DS}/gone`]) {
        const res = await owner.req(url, { method: 'DELETE' });
        assert.equal(res.status, 403, res.body);
        assert.equal(res.json<{ code: string }>().code, 'REAUTH_REQUIRED');
      }
      // Each prompt is recorded as what it is (a re-authentication request for that action).
      await expectAudit(app, {
        action: 'identity.session.reauth-required',
        details: { for: 'dataset.version.delete' },
      });
      await expectAudit(app, {
        action: 'identity.session.reauth-required',
        details: { for: 'dataset.dataset.delete' },
      });
      assert.equal(
        (await owner.req(`${DS}/gone`)).json<{ versions: unknown[] }>().versions.length,
        2,
        'nothing deleted',
      );
      const re = await owner.req(
        '/api/v1/auth/reauth',
        jsonBody({ password: GOOD_PASSWORD, code: totpNow(secret, Date.now() + 30_000) }),
      );
      assert.equal(re.status, 200, re.body);
      assert.equal((await owner.req(`${DS}/gone/versions/1`, { method: 'DELETE' })).status, 200);
      assert.equal((await owner.req(`${DS}/gone`, { method: 'DELETE' })).status, 200);
      assert.equal((await owner.req(`${DS}/gone`)).status, 404);
    });
  });
}
