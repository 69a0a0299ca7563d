/**
 * The identity events the request pipeline cannot record (identity.events.ts): role-rule
 * refusals, sign-in and the MFA step. Each request leaves exactly one event with the expected
 * outcome and reason, found by its request id.
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
