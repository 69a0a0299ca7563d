/**
 * Identity for a newcomer and their admins (issue 15, items 1, 2, 8, 10), over real HTTPS on
 * PGlite: the first run (public status, the setup token's 0600 file removed once used, the
 * console for a browser's unknown page while the API keeps problem+json); your sessions and
 * recovery codes; an admin re-enabling a user, setting attributes within the role rules,
 * resetting another user's MFA after re-authentication; members' names for every role; the
 * built-in rules listed and named in a refusal; members' sign-in events visible to their
 * workspace's auditors only; the re-authentication prompt recorded as what it is.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit, expectNoAudit } from './helpers/audit.ts';
import { buildConsole } from './helpers/browser.ts';
import {
  createUser,
  createWorkspace,
  enrolMfa,
  jsonBody,
  login,
  ownerSession,
  sessionFrom,
  totpNow,
  GOOD_PASSWORD,
  type Session,
} from './helpers/identity.ts';
import { setupTokenPath } from '../src/installation/setup-token.ts';

const MIN = 60_000;
const W = '/api/v1/workspaces/default';

describe('first run', () => {
  let app: TestApp;
  before(async () => {
    buildConsole(); // the server serves web/dist: the page answers below need a build
    app = await startTestApp('pglite');
  });
  after(() => app?.close());

  test('status says only whether an owner exists; the token file is 0600 and goes once the owner is made', async () => {
    const status = await app.req('/api/v1/setup');
    assert.equal(status.status, 200);
    assert.deepEqual(status.json(), { ownerExists: false });
    const file = setupTokenPath(app.home);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, 'utf8').trim(), app.setupToken);

    const bad = await app.req(
      '/api/v1/setup',
      jsonBody({ token: 'srs_wrong-token-xx', email: 'o@corp.test', displayName: 'O', password: GOOD_PASSWORD }),
    );
    assert.equal(bad.status, 403);
    assert.ok(existsSync(file), 'a refused token leaves the file');

    const ok = await app.req(
      '/api/v1/setup',
      jsonBody({
        token: app.setupToken,
        email: 'first@corp.test',
        displayName: 'First Owner',
        password: GOOD_PASSWORD,
      }),
    );
    assert.equal(ok.status, 201, ok.body);
    const ownerId = ok.json<{ user: { id: string } }>().user.id;
    assert.equal(existsSync(file), false, 'the file is deleted once used');
    assert.deepEqual((await app.req('/api/v1/setup')).json(), { ownerExists: true });
    await expectAudit(app, {
      action: 'identity.user.create',
      actorId: ownerId,
      resource: { type: 'user', id: ownerId, workspace: 'default' },
      details: { via: 'setup token', role: 'owner' },
      mustNotContain: [GOOD_PASSWORD, app.setupToken!],
    });
  });

  test('a browser asking for an unknown page gets the console; the API and non-HTML requests keep problem+json', async () => {
    const html = { accept: 'text/html,application/xhtml+xml' };
    for (const p of ['/setup', '/settings/profile', '/first-run?x=1']) {
      const r = await app.req(p, { headers: html });
      assert.equal(r.status, 200, p);
      assert.match(String(r.headers['content-type']), /text\/html/);
      assert.match(r.body, /<div id="root"><\/div>/);
    }
    for (const [p, headers] of [
      ['/api/v1/nope', html],
      ['/api/nope', html],
      ['/assets/nope.js', html],
      ['/setup', { accept: 'application/json' }],
    ] as const) {
      const r = await app.req(p, { headers });
      assert.equal(r.status, 404, p);
      assert.match(String(r.headers['content-type']), /application\/problem\+json/, p);
    }
  });
});

describe('accounts and their admins', () => {
  let app: TestApp;
  let offset = 0;
  let owner: Session;
  let ownerSecret: string;
  let admin: Session;
  const now = () => Date.now() + offset;
  const fresh = (secret: string) => {
    offset += MIN;
    return totpNow(secret, now());
  };

  before(async () => {
    app = await startTestApp('pglite', { now: () => new Date(now()) });
    const o = await ownerSession(app, 'owner@corp.test');
    owner = o.session;
    ownerSecret = o.secret;
    await createUser(app, 'admin@corp.test', { role: 'admin', displayName: 'Ada Admin' });
    admin = (await enrolMfa(app, await login(app, 'admin@corp.test'), now())).session;
  });
  after(() => app?.close());

  test('your sessions: listed with the current one marked; ending another signs it out', async () => {
    await createUser(app, 'sam@corp.test', { role: 'analyst', displayName: 'Sam' });
    const laptop = await login(app, 'sam@corp.test');
    const phone = await login(app, 'sam@corp.test');
    const list = await laptop.req('/api/v1/auth/sessions');
    assert.equal(list.status, 200, list.body);
    const sessions = list.json<{ sessions: { id: string; current: boolean }[] }>().sessions;
    assert.equal(sessions.length, 2);
    assert.equal(sessions.filter((s) => s.current).length, 1);
    assert.ok(!list.body.includes(laptop.id) && !list.body.includes(phone.id), 'never the cookie value');
    const other = sessions.find((s) => !s.current)!;
    const r = await laptop.req(`/api/v1/auth/sessions/${other.id}`, { method: 'DELETE' });
    assert.equal(r.status, 200, r.body);
    assert.equal((await phone.req('/api/v1/auth/me')).status, 401);
    assert.equal((await laptop.req('/api/v1/auth/me')).status, 200);
    assert.equal((await laptop.req(`/api/v1/auth/sessions/${other.id}`, { method: 'DELETE' })).status, 404);
    await expectAudit(app, { action: 'identity.session.revoke', details: { scope: 'one session', session: other.id } });
  });

  test('recovery codes: how many are left after using one; new ones replace the old', async () => {
    await createUser(app, 'rita@corp.test', { role: 'engineer' });
    const enrolled = await enrolMfa(app, await login(app, 'rita@corp.test'), now());
    assert.equal(
      (await enrolled.session.req('/api/v1/auth/me')).json<{ recoveryCodesLeft: number }>().recoveryCodesLeft,
      10,
    );
    const pending = await login(app, 'rita@corp.test');
    const used = enrolled.recoveryCodes[0]!;
    const viaCode = await pending.req('/api/v1/auth/mfa', jsonBody({ code: used }));
    assert.equal(viaCode.status, 200, viaCode.body);
    const s = sessionFrom(app, viaCode, pending);
    assert.equal((await s.req('/api/v1/auth/me')).json<{ recoveryCodesLeft: number }>().recoveryCodesLeft, 9);
    const again = await s.req('/api/v1/auth/mfa/recovery-codes', { method: 'POST' });
    assert.equal(again.status, 200, again.body);
    const codes = again.json<{ recoveryCodes: string[] }>().recoveryCodes;
    assert.equal(codes.length, 10);
    assert.equal((await s.req('/api/v1/auth/me')).json<{ recoveryCodesLeft: number }>().recoveryCodesLeft, 10);
    const old = await (
      await login(app, 'rita@corp.test')
    ).req('/api/v1/auth/mfa', jsonBody({ code: enrolled.recoveryCodes[1] }));
    assert.equal(old.status, 401, 'an earlier code no longer works');
    await expectAudit(app, {
      action: 'identity.mfa.recovery-codes',
      details: { step: 'regenerated' },
      mustNotContain: codes,
    });
  });

  test('re-enable a disabled user (an admin cannot re-enable an owner); they sign in again', async () => {
    const u = await createUser(app, 'dora@corp.test', { role: 'viewer' });
    assert.equal((await admin.req(`${W}/users/${u.id}/disable`, { method: 'POST' })).status, 200);
    await assert.rejects(login(app, 'dora@corp.test'));
    const r = await admin.req(`${W}/users/${u.id}/enable`, { method: 'POST' });
    assert.equal(r.status, 200, r.body);
    await login(app, 'dora@corp.test');
    await expectAudit(app, {
      action: 'identity.user.enable',
      outcome: 'success',
      resource: { id: u.id },
      details: { was: 'disabled' },
    });

    const other = await createUser(app, 'owner2@corp.test', { role: 'owner' });
    assert.equal((await owner.req(`${W}/users/${other.id}/disable`, { method: 'POST' })).status, 200);
    const refused = await admin.req(`${W}/users/${other.id}/enable`, { method: 'POST' });
    assert.equal(refused.status, 403);
    assert.match(refused.json<{ detail: string }>().detail, /Only an owner/);
    await expectAudit(app, { action: 'identity.user.enable', outcome: 'denied' });
  });

  test('attributes: no one gives a clearance above their own; an owner unlocks a pii secret by setting clearance', async () => {
    const analyst = await createUser(app, 'ana@corp.test', { role: 'analyst' });
    const set = (s: Session, id: string, attributes: unknown) =>
      s.req(`${W}/users/${id}/attributes`, jsonBody({ attributes }, 'PUT'));
    const tooHigh = await set(admin, analyst.id, { clearance: 2, region: '' });
    assert.equal(tooHigh.status, 403);
    assert.match(tooHigh.json<{ detail: string }>().detail, /clearance only up to your own/);
    await expectAudit(app, {
      action: 'identity.user.update',
      outcome: 'denied',
      details: { reason: 'You can give a clearance only up to your own; ask an owner.' },
    });
    assert.equal((await set(admin, analyst.id, { clearance: 'two' })).status, 422);
    assert.equal((await set(admin, analyst.id, { clearance: 0 })).status, 200);

    const secret = await owner.req(
      `${W}/secrets/data/hr/payroll`,
      jsonBody({ type: 'password', value: { password: 'pii-pw-31337' }, metadata: { tags: ['pii'] } }, 'PUT'),
    );
    assert.equal(secret.status, 201, secret.body);
    const locked = await owner.req(`${W}/secrets/reveal/hr/payroll`, { method: 'POST' });
    assert.equal(locked.status, 403);
    assert.match(
      locked.json<{ detail: string }>().detail,
      /Refused by rule abac\.pii-needs-clearance-and-mfa: .*clearance ≥ 2 and MFA/,
    );
    const me = (await owner.req('/api/v1/auth/me')).json<{ user: { id: string } }>().user.id;
    const ok = await set(owner, me, { clearance: 2, department: 'Finance', region: 'eu' });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(ok.json(), { attributes: { clearance: 2, department: 'Finance', region: 'eu' } });
    const open = await owner.req(`${W}/secrets/reveal/hr/payroll`, { method: 'POST' });
    assert.equal(open.status, 200, open.body);
    const [changed] = await expectAudit(app, {
      action: 'identity.user.update',
      outcome: 'success',
      resource: { id: me },
    });
    assert.deepEqual(changed!.details.attributes, { clearance: 2, department: 'Finance', region: 'eu' });
  });

  test("reset another user's MFA: asks for re-authentication first (recorded as such), then ends their sessions", async () => {
    await createUser(app, 'eve@corp.test', { role: 'engineer' });
    const eve = await enrolMfa(app, await login(app, 'eve@corp.test'), now());
    const eveId = (await eve.session.req('/api/v1/auth/me')).json<{ user: { id: string } }>().user.id;
    offset += 10 * MIN; // the owner's last proof is now older than the re-authentication window
    const stale = await owner.req(`${W}/users/${eveId}/mfa/reset`, { method: 'POST' });
    assert.equal(stale.status, 403);
    assert.equal(stale.json<{ code: string }>().code, 'REAUTH_REQUIRED');
    await expectAudit(app, {
      action: 'identity.session.reauth-required',
      outcome: 'success',
      details: { for: 'identity.user.mfa-reset' },
    });
    await expectNoAudit(app, { action: 'identity.user.mfa-reset', outcome: 'denied' });
    const re = await owner.req('/api/v1/auth/reauth', jsonBody({ password: GOOD_PASSWORD, code: fresh(ownerSecret) }));
    assert.equal(re.status, 200, re.body);
    const r = await owner.req(`${W}/users/${eveId}/mfa/reset`, { method: 'POST' });
    assert.equal(r.status, 200, r.body);
    assert.ok(r.json<{ sessionsEnded: number }>().sessionsEnded >= 1);
    assert.equal((await eve.session.req('/api/v1/auth/me')).status, 401, 'their sessions ended');
    const back = await login(app, 'eve@corp.test');
    assert.equal(back.res.json<{ mfaRequired: boolean }>().mfaRequired, false, 'the next sign-in is by password alone');
    await expectAudit(app, {
      action: 'identity.user.mfa-reset',
      outcome: 'success',
      resource: { id: eveId },
      details: { wasEnrolled: true },
    });
    const self = await owner.req(
      `${W}/users/${(await owner.req('/api/v1/auth/me')).json<{ user: { id: string } }>().user.id}/mfa/reset`,
      { method: 'POST' },
    );
    assert.equal(self.status, 409, 'your own MFA is reset from your account');
  });

  test('names for ids: every role lists the members; admins see the last sign-in', async () => {
    await createUser(app, 'vic@corp.test', { role: 'viewer', displayName: 'Vic Viewer' });
    const vic = await login(app, 'vic@corp.test');
    const r = await vic.req(`${W}/members`);
    assert.equal(r.status, 200, r.body);
    const members = r.json<{ members: { email: string; displayName: string }[] }>().members;
    assert.ok(members.some((m) => m.email === 'admin@corp.test' && m.displayName === 'Ada Admin'));
    assert.equal((await vic.req(`${W}/users`)).status, 403, 'the full user list stays with admins');
    const users = (await admin.req(`${W}/users`)).json<{ users: { email: string; lastSignInAt: string | null }[] }>()
      .users;
    assert.ok(users.find((u) => u.email === 'vic@corp.test')?.lastSignInAt);
    await createUser(app, 'never@corp.test', { role: 'viewer' });
    const again = (await admin.req(`${W}/users`)).json<{ users: { email: string; lastSignInAt: string | null }[] }>()
      .users;
    assert.equal(again.find((u) => u.email === 'never@corp.test')?.lastSignInAt, null);
  });

  test('built-in rules are listed read-only, in plain words and as written, for admins and auditors', async () => {
    const r = await admin.req(`${W}/policies/builtin`);
    assert.equal(r.status, 200, r.body);
    const rules = r.json<{ rules: { id: string; effect: string; summary: string; text: string }[] }>().rules;
    const pii = rules.find((x) => x.id === 'abac.pii-needs-clearance-and-mfa');
    assert.equal(pii?.effect, 'forbid');
    assert.match(pii?.summary ?? '', /clearance 2 or more/);
    assert.match(pii?.text ?? '', /principal\.clearance >= 2/);
    assert.ok(
      rules.every((x) => x.summary.length > 0),
      'every rule is explained',
    );
    const vic = await login(app, 'vic@corp.test');
    assert.equal((await vic.req(`${W}/policies/builtin`)).status, 403);
  });

  test("members' sign-ins and failed sign-ins are in their workspace's trail, not in another's", async () => {
    await createWorkspace(app, 'other');
    await createUser(app, 'aud@corp.test', { role: 'auditor' });
    await createUser(app, 'aud2@corp.test', { role: 'auditor', workspace: 'other' });
    const mallory = await createUser(app, 'mal@corp.test', { role: 'analyst' });
    await login(app, 'mal@corp.test');
    const wrong = await app.req(
      '/api/v1/auth/login',
      jsonBody({ email: 'mal@corp.test', password: 'not the password at all' }),
    );
    assert.equal(wrong.status, 401);
    // Narrowed to mallory's account and newest first: the suite's other sign-ins never crowd theirs out of a page.
    const search = async (s: Session, workspaceId: string) =>
      (
        await s.req(
          `/api/v1/workspaces/${workspaceId}/audit/events?action=identity.session.create&resource=user:${mallory.id}&order=desc&limit=100`,
        )
      ).json<{
        events: { outcome: string; actor: { id: string }; resource: { id?: string } }[];
      }>().events;
    const mine = (await search(await login(app, 'aud@corp.test'), 'default')).filter(
      (e) => e.actor.id === mallory.id || e.resource.id === mallory.id,
    );
    assert.ok(
      mine.some((e) => e.outcome === 'success'),
      'a sign-in',
    );
    assert.ok(
      mine.some((e) => e.outcome === 'failure'),
      'a failed sign-in',
    );
    const theirs = (await search(await login(app, 'aud2@corp.test'), 'other')).filter(
      (e) => e.actor.id === mallory.id || e.resource.id === mallory.id,
    );
    assert.deepEqual(theirs, [], 'another workspace sees nothing of them');
  });
});
