/** Password change: needs a recent sign-in, applies the password rules, and the old password stops working. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { GOOD_PASSWORD, createUser, jsonBody, login } from './helpers/identity.ts';

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
  const change = await owner.req(`/api/v1/workspaces/default/users/${user.id}/roles`, jsonBody({ roles: ['engineer'] }, 'PUT'));
  assert.ok(change.status >= 200 && change.status < 300, change.body);
  assert.equal((await s.req('/api/v1/auth/me')).status, 401, 'the old session ended with the privilege change');
  const again = await login(app, 'role-change@corp.test');
  assert.equal((await again.req('/api/v1/auth/me')).status, 200);
});
