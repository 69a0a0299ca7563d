/** Workspaces are created by the operator; the named user becomes owner; users cannot create them. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { createUser, jsonBody, ownerSession } from './helpers/identity.ts';

let app: TestApp;
before(async () => {
  app = await startTestApp('pglite');
});
after(async () => {
  await app.close();
});

test('the operator creates a workspace with its first owner; duplicates and bad ids are refused', async () => {
  const owner = await createUser(app, 'ws-owner@corp.test', { role: 'viewer' });
  const res = await app.asOperator(
    '/api/v1/workspaces',
    jsonBody({ id: 'finance', name: 'Finance', ownerEmail: 'ws-owner@corp.test' }),
  );
  assert.equal(res.status, 201, res.body);
  assert.deepEqual(res.json(), { id: 'finance', name: 'Finance', ownerId: owner.id });
  assert.deepEqual(await app.server.identity.users.rolesIn(owner.id, 'finance'), ['owner']);

  const dup = await app.asOperator('/api/v1/workspaces', jsonBody({ id: 'finance', name: 'Again' }));
  assert.equal(dup.status, 409);
  for (const id of ['../etc', '', 'a'.repeat(70), 'fin ance']) {
    const bad = await app.asOperator('/api/v1/workspaces', jsonBody({ id, name: 'x' }));
    assert.equal(bad.status, 422, `${JSON.stringify(id)} → ${bad.status}`);
  }
  const nobody = await app.asOperator(
    '/api/v1/workspaces',
    jsonBody({ id: 'hr', name: 'HR', ownerEmail: 'nobody@corp.test' }),
  );
  assert.equal(nobody.status, 422);
  assert.equal(
    await app.server.database.db.selectFrom('workspaces').select('id').where('id', '=', 'hr').executeTakeFirst(),
    undefined,
    'nothing written',
  );

  await app.server.audit.chainPending();
  const ev = (await app.server.audit.search({ actionPrefix: 'operator.workspace.create', limit: 50 })).events;
  assert.deepEqual(
    ev.map((e) => e.outcome),
    ['success', 'failure', 'failure', 'failure', 'failure', 'failure', 'failure'],
  );
});

test('a signed-in owner of another workspace cannot create workspaces', async () => {
  const { session } = await ownerSession(app);
  const res = await session.req('/api/v1/workspaces', jsonBody({ id: 'shadow', name: 'Shadow' }));
  assert.equal(res.status, 403, res.body);
});
