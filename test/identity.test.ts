/**
 * Sessions, CSRF, MFA, re-authentication, API tokens and workspace isolation over HTTPS on both
 * backends, with an injected clock for expiry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createHash } from 'node:crypto';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';
import {
  GOOD_PASSWORD,
  createUser,
  createWorkspace,
  enrolMfa,
  jsonBody,
  login,
  ownerSession,
  sessionFrom,
  totpNow,
} from './helpers/identity.ts';

const MIN = 60_000;

for (const backend of BACKENDS) {
  describe(`identity: sessions, MFA, tokens on ${backend}`, () => {
    let app: TestApp;
    let skip = false;
    let offset = 0;
    const now = () => new Date(Date.now() + offset);
    before(async (t) => {
      if (
        backend === 'postgres' &&
        !requirePeer(t as never, 'PostgreSQL', await postgresAvailable(), 'pg_ctlcluster 15 main start')
      ) {
        skip = true;
        return;
      }
      app = await startTestApp(backend, { now, env: { STRONGROOM_SESSION_ABSOLUTE_SECONDS: '7200' } });
    });
    after(async () => {
      if (!skip) await app.close();
    });

    test('me without a session → 401 problem+json', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const r = await app.req('/api/v1/auth/me');
      assert.equal(r.status, 401);
      assert.match(String(r.headers['content-type']), /application\/problem\+json/);
      assert.equal(r.json().code, 'UNAUTHENTICATED');
    });

    test('session cookie attributes exactly; id stored only hashed', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await createUser(app, 'cookie@corp.test');
      const s = await login(app, 'cookie@corp.test');
      const set = ([] as string[]).concat(s.res.headers['set-cookie']!)[0]!;
      const [nameValue, ...attrs] = set.split('; ');
      assert.match(nameValue!, /^__Host-sr_session=[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(attrs.map((a) => a.toLowerCase()).sort(), ['httponly', 'path=/', 'samesite=strict', 'secure']);
      const rows = await app.server.database.db.selectFrom('sessions').select('id_hash').execute();
      assert.ok(rows.some((r) => r.id_hash === createHash('sha256').update(s.id).digest('hex')));
      assert.ok(!JSON.stringify(rows).includes(s.id));
      assert.equal((await s.req('/api/v1/auth/me')).status, 200);
    });

    test('rotation at login: the presented session id is replaced and stops working', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await createUser(app, 'rotate@corp.test');
      const first = await login(app, 'rotate@corp.test');
      const again = await app.req('/api/v1/auth/login', {
        ...jsonBody({ email: 'rotate@corp.test', password: GOOD_PASSWORD }),
        headers: { 'content-type': 'application/json', cookie: first.cookie },
      });
      assert.equal(again.status, 200);
      const second = sessionFrom(app, again);
      assert.notEqual(second.id, first.id);
      assert.equal((await first.req('/api/v1/auth/me')).status, 401);
      assert.equal((await second.req('/api/v1/auth/me')).status, 200);
    });

    test('idle expiry (1 h) and absolute expiry (here 2 h) with an injected clock', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await createUser(app, 'clock@corp.test');
      const idle = await login(app, 'clock@corp.test');
      const busy = await login(app, 'clock@corp.test');
      try {
        offset += 50 * MIN;
        assert.equal((await busy.req('/api/v1/auth/me')).status, 200);
        offset += 50 * MIN; // idle: 100 min since last use
        assert.equal((await idle.req('/api/v1/auth/me')).status, 401, 'idle timeout');
        assert.equal((await busy.req('/api/v1/auth/me')).status, 200, 'used 50 min ago');
        offset += 25 * MIN; // 125 min since sign-in, used 25 min ago
        assert.equal((await busy.req('/api/v1/auth/me')).status, 401, 'absolute timeout');
      } finally {
        offset = 0;
      }
    });

    test('logout, disable and sign-out-everywhere revoke at once', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const u = await createUser(app, 'revoke@corp.test');
      const a = await login(app, 'revoke@corp.test');
      assert.equal((await a.req('/api/v1/auth/logout', { method: 'POST' })).status, 200);
      assert.equal((await a.req('/api/v1/auth/me')).status, 401, 'logout');
      const b = await login(app, 'revoke@corp.test');
      const c = await login(app, 'revoke@corp.test');
      assert.equal((await b.req('/api/v1/auth/sessions/revoke-all', { method: 'POST' })).status, 200);
      assert.equal((await b.req('/api/v1/auth/me')).status, 401, 'everywhere: this one');
      assert.equal((await c.req('/api/v1/auth/me')).status, 401, 'everywhere: the other one');
      const d = await login(app, 'revoke@corp.test');
      const { session: admin } = await ownerSession(app);
      assert.equal(
        (await admin.req(`/api/v1/workspaces/default/users/${u.id}/disable`, { method: 'POST' })).status,
        200,
      );
      assert.equal((await d.req('/api/v1/auth/me')).status, 401, 'disabled');
      assert.equal(
        (await app.req('/api/v1/auth/login', jsonBody({ email: 'revoke@corp.test', password: GOOD_PASSWORD }))).status,
        401,
      );
    });

    test('CSRF: cookie-authenticated POST without or with a wrong token → 403; with it → 200', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await createUser(app, 'csrf@corp.test');
      const s = await login(app, 'csrf@corp.test');
      const none = await s.req('/api/v1/auth/sessions/revoke-all', { method: 'POST', csrf: false });
      assert.equal(none.status, 403);
      assert.match(none.json().detail as string, /CSRF/);
      assert.equal(
        (await s.req('/api/v1/auth/sessions/revoke-all', { method: 'POST', csrf: 'A'.repeat(43) })).status,
        403,
      );
      assert.equal((await s.req('/api/v1/auth/me')).status, 200, 'still signed in');
      assert.equal((await s.req('/api/v1/auth/me')).json().csrfToken, s.csrf, 'me returns the token');
      assert.equal((await s.req('/api/v1/auth/logout', { method: 'POST' })).status, 200);
    });

    test('TOTP: enrol, two-step login, replay refused, recovery code single use', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const u = await createUser(app, 'totp@corp.test');
      const s = await login(app, 'totp@corp.test');
      const enrolledAt = now().getTime();
      const enrolled = await enrolMfa(app, s, enrolledAt);
      assert.match(enrolled.start.json<any>().otpauthUri, /^otpauth:\/\/totp\/Strongroom:totp%40corp\.test\?/);
      assert.equal(enrolled.recoveryCodes.length, 10);
      const sealed = await app.server.database.db
        .selectFrom('totp_secrets')
        .select('sealed')
        .where('user_id', '=', u.id)
        .executeTakeFirstOrThrow();
      assert.ok(!Buffer.from(sealed.sealed).toString('latin1').includes(enrolled.secret), 'seed sealed');

      const p = await login(app, 'totp@corp.test');
      assert.equal(p.res.json().mfaRequired, true);
      assert.equal((await p.req('/api/v1/auth/me')).status, 401, 'pending session can do nothing else');
      // The code of the enrolment step itself (not "now": on a loaded machine the step may have moved on).
      const usedCode = totpNow(enrolled.secret, enrolledAt);
      assert.equal(
        (await p.req('/api/v1/auth/mfa', jsonBody({ code: usedCode }))).status,
        401,
        'replay of the enrolment code',
      );
      offset += 31_000;
      try {
        const code = totpNow(enrolled.secret, now().getTime());
        const ok = await p.req('/api/v1/auth/mfa', jsonBody({ code }));
        assert.equal(ok.status, 200, ok.body);
        const full = sessionFrom(app, ok, p);
        assert.notEqual(full.id, p.id, 'rotated');
        assert.equal((await p.req('/api/v1/auth/me')).status, 401, 'the pending id is dead');
        const me = await full.req('/api/v1/auth/me');
        assert.equal(me.json().strength, 'password+totp');
        const q = await login(app, 'totp@corp.test');
        assert.equal((await q.req('/api/v1/auth/mfa', jsonBody({ code }))).status, 401, 'replay within the window');
        const rc = enrolled.recoveryCodes[0]!;
        assert.equal((await q.req('/api/v1/auth/mfa', jsonBody({ code: rc }))).status, 200);
        const r2 = await login(app, 'totp@corp.test');
        assert.equal(
          (await r2.req('/api/v1/auth/mfa', jsonBody({ code: rc }))).status,
          401,
          'recovery code used twice',
        );
      } finally {
        offset = 0;
      }
    });

    test('owner without MFA: 403 MFA_REQUIRED except enrolment, me and logout', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await createUser(app, 'newowner@corp.test', { role: 'owner' });
      const s = await login(app, 'newowner@corp.test');
      assert.equal(s.res.json().mfaEnrolmentRequired, true);
      const blocked = await s.req('/api/v1/workspaces/default/users');
      assert.equal(blocked.status, 403);
      assert.equal(blocked.json().code, 'MFA_REQUIRED');
      assert.equal((await s.req('/api/v1/tokens')).json().code, 'MFA_REQUIRED');
      assert.equal((await s.req('/api/v1/auth/me')).status, 200);
      const { session } = await enrolMfa(app, s);
      assert.equal((await session.req('/api/v1/workspaces/default/users')).status, 200);
    });

    test('re-authentication: token creation needs a proof ≤ 5 min old', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await createUser(app, 'reauth@corp.test');
      const s = await login(app, 'reauth@corp.test');
      const body = { name: 'ci', workspace: 'default', scopes: ['identity.self.read'], expiresInDays: 1 };
      offset += 6 * MIN;
      try {
        const stale = await s.req('/api/v1/tokens', jsonBody(body));
        assert.equal(stale.status, 403);
        assert.equal(stale.json().code, 'REAUTH_REQUIRED');
        assert.equal(
          (await s.req('/api/v1/auth/reauth', jsonBody({ password: 'not my password at all' }))).status,
          401,
        );
        assert.equal((await s.req('/api/v1/auth/reauth', jsonBody({ password: GOOD_PASSWORD }))).status, 200);
        assert.equal((await s.req('/api/v1/tokens', jsonBody(body))).status, 201);
      } finally {
        offset = 0;
      }
    });

    test('API tokens: shown once, hashed at rest, scoped, last-used, revoked/expired → 401', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await createUser(app, 'tokens@corp.test');
      const s = await login(app, 'tokens@corp.test');
      const created = await s.req(
        '/api/v1/tokens',
        jsonBody({ name: 'read-me', workspace: 'default', scopes: ['identity.self.read'], expiresInDays: 1 }),
      );
      assert.equal(created.status, 201, created.body);
      const { token, info } = created.json<any>();
      assert.match(token, /^srt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
      const list = await s.req('/api/v1/tokens');
      assert.ok(!list.body.includes(token.slice(17)), 'never shown again');
      const row = await app.server.database.db
        .selectFrom('api_tokens')
        .selectAll()
        .where('id', '=', info.id)
        .executeTakeFirstOrThrow();
      assert.equal(row.hash, createHash('sha256').update(token).digest('hex'));
      assert.ok(!JSON.stringify(row).includes(token.slice(17)));
      assert.equal(row.last_used_at, null);
      const bearer = { headers: { authorization: `Bearer ${token}` } };
      const me = await app.req('/api/v1/auth/me', bearer);
      assert.equal(me.status, 200, me.body);
      assert.equal(me.json<any>().strength, 'api-token');
      const used = await app.server.database.db
        .selectFrom('api_tokens')
        .select('last_used_at')
        .where('id', '=', info.id)
        .executeTakeFirstOrThrow();
      assert.ok(used.last_used_at !== null, 'last use recorded');
      const outside = await app.req('/api/v1/tokens', bearer);
      assert.equal(outside.status, 403, 'outside its scope');
      assert.equal(
        (await app.req('/api/v1/auth/sessions/revoke-all', { method: 'POST', ...bearer })).status,
        403,
        'bearer needs no CSRF, still scoped',
      );
      offset += 2 * 86_400_000;
      try {
        assert.equal((await app.req('/api/v1/auth/me', bearer)).status, 401, 'expired');
      } finally {
        offset = 0;
      }
      const t2 = (
        await s.req('/api/v1/tokens', jsonBody({ name: 'two', workspace: 'default', scopes: ['identity.self.*'] }))
      ).json<any>();
      assert.equal(
        (await app.req('/api/v1/auth/me', { headers: { authorization: `Bearer ${t2.token}` } })).status,
        200,
      );
      assert.equal((await s.req(`/api/v1/tokens/${t2.info.id}`, { method: 'DELETE' })).status, 200);
      assert.equal(
        (await app.req('/api/v1/auth/me', { headers: { authorization: `Bearer ${t2.token}` } })).status,
        401,
        'revoked',
      );
      assert.equal(
        (await app.req('/api/v1/auth/me', { headers: { authorization: `Bearer ${token.slice(0, -2)}xx` } })).status,
        401,
        'forged',
      );
    });

    test("another workspace's resources answer 404, not 403", async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await createWorkspace(app, 'other');
      const { session } = await ownerSession(app);
      const otherUser = await createUser(app, 'insider@corp.test', { workspace: 'other' });
      const list = await session.req('/api/v1/workspaces/other/users');
      assert.equal(list.status, 404);
      assert.equal((await session.req('/api/v1/workspaces/nonexistent/users')).status, 404);
      assert.equal(
        (await session.req(`/api/v1/workspaces/default/users/${otherUser.id}/disable`, { method: 'POST' })).status,
        404,
        'a user of another workspace',
      );
      await createUser(app, 'viewer@corp.test', { role: 'viewer' });
      const viewer = await login(app, 'viewer@corp.test');
      assert.equal(
        (
          await viewer.req('/api/v1/workspaces/default/users/00000000-0000-0000-0000-000000000000/disable', {
            method: 'POST',
          })
        ).status,
        403,
        'member without the right: 403',
      );
    });
  });
}
