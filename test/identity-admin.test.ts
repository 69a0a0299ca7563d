/** Account administration over HTTPS: password change, role changes ending sessions, service-account tokens. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { GOOD_PASSWORD, createUser, jsonBody, login, totpNow } from './helpers/identity.ts';

let app: TestApp;
before(async () => {
  app = await startTestApp('pglite');
});
after(async () => {
  await app.close();
});

test('change password: rules enforced, old password refused afterwards, audited without the value', async () => {
  await createUser(app, 'pw-change@corp.test', { role: 'analyst' });
  const s = await login(app, 'pw-change@corp.test');
  const weak = await s.req('/api/v1/auth/password', jsonBody({ password: 'password' }));
  assert.equal(weak.status, 422, weak.body);
  const NEW = 'a completely different passphrase 77';
  const ok = await s.req('/api/v1/auth/password', jsonBody({ password: NEW }));
  assert.equal(ok.status, 200, ok.body);
  const old = await app.req('/api/v1/auth/login', jsonBody({ email: 'pw-change@corp.test', password: GOOD_PASSWORD }));
  assert.equal(old.status, 401, 'the old password no longer works');
  await login(app, 'pw-change@corp.test', NEW);
  await app.server.audit.chainPending();
  const ev = (await app.server.audit.search({ actionPrefix: 'identity.user.password-change', limit: 10 })).events;
  assert.ok(ev.some((e) => e.outcome === 'success'));
  assert.ok(!JSON.stringify(ev).includes(NEW), 'the new password is not in the audit trail');
});

test('a role change signs the user out everywhere (privilege change ends the old sessions)', async () => {
  const { ownerSession } = await import('./helpers/identity.ts');
  const { session: owner } = await ownerSession(app);
  const user = await createUser(app, 'role-change@corp.test', { role: 'analyst' });
  const s = await login(app, 'role-change@corp.test');
  assert.equal((await s.req('/api/v1/auth/me')).status, 200);
  const change = await owner.req(
    `/api/v1/workspaces/default/users/${user.id}/roles`,
    jsonBody({ roles: ['engineer'] }, 'PUT'),
  );
  assert.ok(change.status >= 200 && change.status < 300, change.body);
  assert.equal((await s.req('/api/v1/auth/me')).status, 401, 'the old session ended with the privilege change');
  const again = await login(app, 'role-change@corp.test');
  assert.equal((await again.req('/api/v1/auth/me')).status, 200);
});

test('a service account acts only through its scoped token, with its role', async () => {
  const { ownerSession } = await import('./helpers/identity.ts');
  const { session: owner, secret } = await ownerSession(app);
  const reauth = await owner.req(
    '/api/v1/auth/reauth',
    jsonBody({ password: GOOD_PASSWORD, code: totpNow(secret, Date.now() + 30_000) }),
  ); // the current code was spent on enrolment (no replay)
  assert.equal(reauth.status, 200, reauth.body);
  const sa = await owner.req(
    '/api/v1/workspaces/default/service-accounts',
    jsonBody({ name: 'etl-bot', role: 'auditor' }),
  );
  assert.equal(sa.status, 201, sa.body);
  const tok = await owner.req(
    `/api/v1/workspaces/default/service-accounts/${sa.json<any>().id}/tokens`,
    jsonBody({ name: 'ci', scopes: ['audit.event.list'], expiresInDays: 1 }),
  );
  assert.equal(tok.status, 201, tok.body);
  const token = tok.json<any>().token as string;
  assert.match(token, /^srt_/);
  const bearer = { headers: { authorization: `Bearer ${token}` } };
  const list = await app.req('/api/v1/workspaces/default/audit/events?limit=1', bearer);
  assert.equal(list.status, 200, list.body);
  const installation = await app.req('/api/v1/audit/events?limit=1', bearer);
  assert.equal(
    installation.status,
    403,
    "the installation-wide trail is the operator's, whatever the token's workspace role",
  );
  const outOfScope = await app.req('/api/v1/workspaces/default/audit/verify', bearer);
  assert.equal(outOfScope.status, 403, 'an action outside the token scope is refused');
  const notRole = await app.req('/api/v1/workspaces/default/users', bearer);
  assert.equal(notRole.status, 403, 'the role (auditor) or scope does not allow user administration');
});
