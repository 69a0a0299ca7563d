/**
 * The API the console relies on beyond the CLI's: `/auth/me` lists the user's workspaces with
 * roles; the workspace-scoped audit search returns only that workspace's events, refuses (and
 * audits) a member without audit rights, answers bad filters with 4xx problem+json; its verify
 * says up to which event the chain holds and when it was checked.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { createUser, createWorkspace, jsonBody, login, ownerSession, type Session } from './helpers/identity.ts';

describe('console API', () => {
  let app: TestApp;
  let owner: Session;
  let viewer: Session;

  before(async () => {
    app = await startTestApp('pglite');
    owner = (await ownerSession(app, 'console-owner@corp.test')).session;
    await createWorkspace(app, 'other');
    const other = await createUser(app, 'other-owner@corp.test', { role: 'engineer', workspace: 'other' });
    await createUser(app, 'console-viewer@corp.test', { role: 'viewer' });
    viewer = await login(app, 'console-viewer@corp.test');
    // One secret in each workspace, so each has events of its own.
    assert.equal(
      (
        await owner.req(
          '/api/v1/workspaces/default/secrets/data/app/db',
          jsonBody({ type: 'password', value: { password: 'x-1' } }, 'PUT'),
        )
      ).status,
      201,
    );
    const o = await login(app, other.email);
    assert.equal(
      (
        await o.req(
          '/api/v1/workspaces/other/secrets/data/app/other',
          jsonBody({ type: 'password', value: { password: 'x-2' } }, 'PUT'),
        )
      ).status,
      201,
    );
  });
  after(async () => app?.close());

  test('GET /auth/me lists the workspaces and roles of the user', async () => {
    const me = (await owner.req('/api/v1/auth/me')).json<{ workspaces: { id: string; roles: string[] }[] }>();
    assert.deepEqual(
      me.workspaces.map((w) => [w.id, w.roles]),
      [['default', ['owner']]],
    );
  });

  test("a workspace's audit search returns only its own events, newest first, filtered", async () => {
    await app.server.audit.chainPending();
    const res = await owner.req('/api/v1/workspaces/default/audit/events?action=vault.secret&order=desc&limit=50');
    assert.equal(res.status, 200, res.body);
    const events = res.json<{
      events: { seq: number; action: string; resource: { workspace?: string; id?: string } }[];
    }>().events;
    assert.ok(events.some((e) => e.action === 'vault.secret.create' && e.resource.id === 'app/db'));
    assert.ok(
      events.every((e) => e.resource.workspace === 'default'),
      'no event of another workspace',
    );
    assert.ok(events.every((e) => e.action.startsWith('vault.secret')));
    assert.ok(
      events.every((e, i) => i === 0 || e.seq < events[i - 1]!.seq),
      'newest first',
    );
    const csv = await owner.req('/api/v1/workspaces/default/audit/events?format=csv&action=vault.secret.create');
    assert.match(String(csv.headers['content-type']), /^text\/csv/);
    assert.match(csv.body, /vault\.secret\.create/);
    assert.doesNotMatch(csv.body, /app\/other/);
  });

  test('a member without audit rights is refused, and the refusal is itself an event', async () => {
    const res = await viewer.req('/api/v1/workspaces/default/audit/events');
    assert.equal(res.status, 403);
    assert.match(String(res.headers['content-type']), /problem\+json/);
    await app.server.audit.chainPending();
    const denied = (
      await owner.req('/api/v1/workspaces/default/audit/events?outcome=denied&action=audit.event.list')
    ).json<{ events: { actor: { id: string } }[] }>();
    assert.ok(denied.events.length >= 1, 'the denied search is recorded');
    const other = await owner.req('/api/v1/workspaces/other/audit/events');
    assert.equal(other.status, 404, 'a workspace the user is not in is not confirmed to exist');
  });

  for (const bad of [
    'outcome=maybe',
    'from=yesterday',
    'limit=0',
    'limit=100000',
    'workspace=other',
    'cursor=' + 'x'.repeat(100),
    'order=sideways',
  ]) {
    test(`bad audit filter ${bad} → 4xx problem+json`, async () => {
      const res = await owner.req(`/api/v1/workspaces/default/audit/events?${bad}`);
      assert.equal(res.status, 422, `${bad}: ${res.status} ${res.body}`);
      assert.match(String(res.headers['content-type']), /problem\+json/);
      assert.equal(res.json<{ code: string }>().code, 'VALIDATION_FAILED');
    });
  }

  test('verify names the last event checked and when', async () => {
    await app.server.audit.chainPending();
    const res = await owner.req('/api/v1/workspaces/default/audit/verify');
    assert.equal(res.status, 200, res.body);
    const r = res.json<{ ok: boolean; headSeq: number; eventsChecked: number; checkedAt: string }>();
    assert.equal(r.ok, true);
    assert.ok(r.headSeq >= r.eventsChecked && r.eventsChecked > 0);
    assert.ok(!Number.isNaN(Date.parse(r.checkedAt)));
    assert.equal((await viewer.req('/api/v1/workspaces/default/audit/verify')).status, 403);
  });
});
