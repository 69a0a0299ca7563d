/**
 * Events the pipeline records for refusals made after its decision and for public routes:
 * role-rule refusals and a second decision (`deny`, 403) are `denied` with one detail shape
 * (`reason` + `error`), sign-in and setup are recorded from their declarations, the MFA step's bad
 * code is a failure, and `GET /auth/me` records no success (it answers only the caller's own
 * identity) but still records a refusal. Each request's events are found by its request id.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { GOOD_PASSWORD, createUser, enrolMfa, jsonBody, login, ownerSession } from './helpers/identity.ts';

let app: TestApp;
before(async () => {
  app = await startTestApp('pglite');
});
after(async () => {
  await app.close();
});

const rid = () => `req-${randomBytes(6).toString('hex')}`;
async function eventsOf(requestId: string) {
  await app.server.audit.chainPending();
  return (await app.server.audit.search({ limit: 1000 })).events.filter((e) => e.requestId === requestId);
}

test('a role-rule refusal is one denied event with the rule as its reason; nothing is created', async () => {
  const admin = await createUser(app, 'rules-admin@corp.test', { role: 'admin' });
  const s = (await enrolMfa(app, await login(app, 'rules-admin@corp.test'))).session;
  const id = rid();
  const res = await s.req('/api/v1/workspaces/default/users', {
    ...jsonBody({ email: 'would-be-owner@corp.test', displayName: 'X', role: 'owner' }),
    headers: { 'content-type': 'application/json', 'x-request-id': id },
  });
  assert.equal(res.status, 403, res.body);
  const evs = await eventsOf(id);
  assert.equal(evs.length, 1, JSON.stringify(evs));
  assert.equal(evs[0]!.action, 'identity.user.create');
  assert.equal(evs[0]!.outcome, 'denied');
  assert.equal(evs[0]!.actor.id, admin.id);
  assert.match(String(evs[0]!.details.reason), /Only an owner/);
  assert.deepEqual(Object.keys(evs[0]!.details).sort(), ['error', 'reason']);
  assert.equal(evs[0]!.details.error, 'FORBIDDEN');
  assert.equal(await app.server.identity.users.findByEmail('would-be-owner@corp.test'), undefined);
});

test('an allowed change is one success event in the same transaction as the work', async () => {
  const { session } = await ownerSession(app);
  const target = await createUser(app, 'rules-target@corp.test', { role: 'analyst' });
  const id = rid();
  const res = await session.req(`/api/v1/workspaces/default/users/${target.id}/roles`, {
    ...jsonBody({ roles: ['viewer'] }, 'PUT'),
    headers: { 'content-type': 'application/json', 'x-request-id': id },
  });
  assert.equal(res.status, 200, res.body);
  const evs = await eventsOf(id);
  assert.deepEqual(
    evs.map((e) => [e.action, e.outcome, e.resource.id, e.details.roles]),
    [['identity.membership.update', 'success', target.id, ['viewer']]],
  );
});

test('sign-in: one event per attempt, the user as actor on success, anonymous on failure', async () => {
  const user = await createUser(app, 'events-login@corp.test');
  const bad = rid();
  const refused = await app.req('/api/v1/auth/login', {
    ...jsonBody({ email: 'events-login@corp.test', password: 'not it at all 123' }),
    headers: { 'content-type': 'application/json', 'x-request-id': bad },
  });
  assert.equal(refused.status, 401);
  const good = rid();
  const ok = await app.req('/api/v1/auth/login', {
    ...jsonBody({ email: 'events-login@corp.test', password: GOOD_PASSWORD }),
    headers: { 'content-type': 'application/json', 'x-request-id': good },
  });
  assert.equal(ok.status, 200, ok.body);
  const [f] = await eventsOf(bad);
  assert.deepEqual(
    [f?.action, f?.outcome, f?.actor.kind, f?.details.reason],
    ['identity.session.create', 'failure', 'anonymous', 'bad-password'],
  );
  const s = await eventsOf(good);
  assert.deepEqual(
    s.map((e) => [e.action, e.outcome, e.actor.id, e.details.strength]),
    [['identity.session.create', 'success', user.id, 'password']],
  );
});

test('the MFA step: a bad code is one failure event (its throttle attempt still counts), a good one swaps the session', async () => {
  await createUser(app, 'events-mfa@corp.test');
  const { secret } = await enrolMfa(app, await login(app, 'events-mfa@corp.test'));
  const pending = await login(app, 'events-mfa@corp.test');
  const id = rid();
  const wrong = await pending.req('/api/v1/auth/mfa', {
    ...jsonBody({ code: '000000' }),
    headers: { 'content-type': 'application/json', 'x-request-id': id },
  });
  assert.equal(wrong.status, 401, wrong.body);
  const evs = await eventsOf(id);
  assert.deepEqual(
    evs.map((e) => [e.action, e.outcome, e.details.step, e.details.reason]),
    [['identity.session.create', 'failure', 'mfa', 'bad-code']],
  );
  const user = await app.server.identity.users.findByEmail('events-mfa@corp.test');
  const row = await app.server.database.db
    .selectFrom('login_throttle')
    .selectAll()
    .where('key', '=', `mfa:${user!.id}`)
    .executeTakeFirst();
  assert.equal(row?.attempts, 1, 'the failed attempt was counted although its request failed');
  assert.ok(secret);
});

test('GET /auth/me: a page load records no event; a refused one is still recorded as denied', async () => {
  const { session } = await ownerSession(app);
  const ids = [rid(), rid(), rid()];
  for (const id of ids) {
    const me = await session.req('/api/v1/auth/me', { headers: { 'x-request-id': id } });
    assert.equal(me.status, 200, me.body);
  }
  for (const id of ids) assert.deepEqual(await eventsOf(id), [], 'no event for a read of the caller itself');
  const bad = rid();
  const refused = await app.req('/api/v1/auth/me', {
    headers: { cookie: '__Host-sr_session=not-a-live-session-id', 'x-request-id': bad },
  });
  assert.equal(refused.status, 401, refused.body);
  assert.deepEqual(
    (await eventsOf(bad)).map((e) => [e.action, e.outcome, e.details.reason]),
    [['identity.self.read', 'denied', 'bad credential']],
  );
});

test('a second decision in a handler (a drive using a secret the caller may not update) is denied, not an error', async () => {
  const { session } = await ownerSession(app);
  const policy = await session.req('/api/v1/workspaces/default/policies', {
    ...jsonBody({ text: 'forbid(principal, action == Action::"vault.secret.update", resource);' }),
  });
  assert.equal(policy.status, 201, policy.body);
  try {
    const id = rid();
    const res = await session.req('/api/v1/workspaces/default/drives/test', {
      ...jsonBody({
        name: 'uses-secret',
        kind: 's3',
        config: { bucket: 'some-bucket', region: 'us-east-1', endpoint: 'https://127.0.0.1:9', pathStyle: true },
        credentialSecret: 'team/not-mine',
      }),
      headers: { 'content-type': 'application/json', 'x-request-id': id },
    });
    assert.equal(res.status, 403, res.body);
    assert.equal(res.json().detail, 'You are not allowed to use that credential secret.');
    assert.deepEqual(
      (await eventsOf(id)).map((e) => [e.action, e.outcome, e.details]),
      [
        [
          'drive.drive.test',
          'denied',
          { credentialSecret: 'team/not-mine', reason: 'may not use the credential secret', error: 'FORBIDDEN' },
        ],
      ],
    );
  } finally {
    const del = await session.req(`/api/v1/workspaces/default/policies/${policy.json<{ id: string }>().id}`, {
      method: 'DELETE',
    });
    assert.equal(del.status, 204, del.body);
  }
});

test('setup is recorded from its declaration: a wrong token is one failure event with its error code', async () => {
  const id = rid();
  const res = await app.req('/api/v1/setup', {
    ...jsonBody({ token: 'srs_wrong-token-123', email: 'x@corp.test', password: GOOD_PASSWORD, displayName: 'X' }),
    headers: { 'content-type': 'application/json', 'x-request-id': id },
  });
  assert.equal(res.status, 403, res.body);
  assert.deepEqual(
    (await eventsOf(id)).map((e) => [e.action, e.outcome, e.actor.kind, e.resource.type, e.details]),
    [['identity.user.create', 'failure', 'anonymous', 'system', { via: 'setup token', error: 'FORBIDDEN' }]],
  );
  assert.ok(!JSON.stringify(await eventsOf(id)).includes('srs_wrong'), 'the presented token is not recorded');
});
