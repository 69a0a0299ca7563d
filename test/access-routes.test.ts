/**
 * Workspace policies over HTTPS: an owner adds a Cedar policy (validated before it is saved,
 * audited), it takes effect only in its workspace, and it can be removed again. An analyst may
 * not manage policies.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { createUser, createWorkspace, jsonBody, login, ownerSession } from './helpers/identity.ts';

let app: TestApp;
before(async () => {
  app = await startTestApp('pglite');
});
after(async () => {
  await app.close();
});

test('an invalid policy is refused with Cedar messages and nothing is saved', async () => {
  const { session } = await ownerSession(app);
  const bad = await session.req(
    '/api/v1/workspaces/default/policies',
    jsonBody({ text: 'permit(principal, action == Action::"no.such.action", resource);' }),
  );
  assert.equal(bad.status, 422, bad.body);
  assert.equal(bad.json().code, 'VALIDATION_FAILED');
  assert.ok(Array.isArray(bad.json().errors) && (bad.json().errors as unknown[]).length > 0);
  const list = await session.req('/api/v1/workspaces/default/policies');
  assert.equal(list.status, 200, list.body);
  assert.deepEqual(list.json<any>().policies, []);
  assert.ok(list.json<any>().builtin.length > 0);
});

test('a workspace policy grants only in its workspace, and removing it takes the grant away', async () => {
  await createWorkspace(app, 'other');
  const { session } = await ownerSession(app);
  const viewer = await createUser(app, 'viewer-policy@corp.test', { role: 'viewer' });
  await app.server.database.db
    .insertInto('memberships')
    .values({ workspace_id: 'other', user_id: viewer.id, role: 'viewer' })
    .execute();
  const vs = await login(app, 'viewer-policy@corp.test');
  assert.equal(
    (await vs.req('/api/v1/workspaces/default/policies')).status,
    403,
    'a viewer may not list policies by default',
  );

  const text = `permit(principal == User::"${viewer.id}", action == Action::"access.policy.list", resource);`;
  const add = await session.req('/api/v1/workspaces/default/policies', jsonBody({ text }));
  assert.equal(add.status, 201, add.body);
  const id = add.json<any>().id as string;
  assert.equal((await vs.req('/api/v1/workspaces/default/policies')).status, 200, 'granted in its workspace');
  const other = await vs.req('/api/v1/workspaces/other/policies');
  assert.equal(other.status, 403, `a viewer of other, not granted there: ${other.status} ${other.body}`);

  const del = await session.req(`/api/v1/workspaces/default/policies/${id}`, { method: 'DELETE' });
  assert.equal(del.status, 204, del.body);
  assert.equal((await vs.req('/api/v1/workspaces/default/policies')).status, 403, 'grant removed');

  await app.server.audit.chainPending();
  const events = (await app.server.audit.search({ actionPrefix: 'access.policy', limit: 100 })).events;
  assert.ok(events.some((e) => e.action === 'access.policy.create' && e.outcome === 'success'));
  assert.ok(events.some((e) => e.action === 'access.policy.delete' && e.outcome === 'success'));
  assert.ok(events.some((e) => e.action === 'access.policy.list' && e.outcome === 'denied'));
});
