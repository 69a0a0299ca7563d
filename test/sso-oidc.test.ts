/**
 * OpenID Connect sign-in end to end against a real IdP (`oidc-provider` on loopback, HTTPS):
 * provider configuration through the egress guard, authorization code + PKCE + state + nonce,
 * just-in-time provisioning with group → role mapping, and every refusal the issue names —
 * wrong state, another browser, missing/wrong nonce, another issuer or audience, expired,
 * `alg: none`, a callback without a pending sign-in — each with its own reason and audit event.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { expectAudit } from './helpers/audit.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { Browser } from './helpers/browser-flow.ts';
import { createUser, jsonBody, login, ownerSession, type Session } from './helpers/identity.ts';
import { addOidcProvider, callbackUrl, oidcSignIn, refusalReason, rootsOf } from './helpers/sso.ts';
import { startOidcIdp, type OidcIdp } from './peers/idp/oidc-idp.ts';

describe('OpenID Connect sign-in (oidc-provider on loopback)', () => {
  let app: TestApp;
  let idp: OidcIdp;
  let owner: Session;

  before(async () => {
    app = await startTestApp('pglite', { env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32' } });
    idp = await startOidcIdp({ redirectUris: [callbackUrl(app, 'corp')] });
    owner = (await ownerSession(app)).session;
    idp.accounts.set('alice-sub', {
      claims: { email: 'alice@corp.test', email_verified: true, name: 'Alice', groups: ['eng'] },
    });
  });
  after(async () => {
    await idp?.close();
    await app?.close();
  });

  test('a provider is configured by the operator only; its secret never comes back', async () => {
    const asOwner = await owner.req('/api/v1/sso/providers', jsonBody({ id: 'x', kind: 'oidc' }));
    assert.equal(asOwner.status, 403);
    const created = await addOidcProvider(app, idp, 'corp');
    assert.equal(created.status, 201, created.body);
    const p = created.json<{ hasSecret: boolean; issuer: string }>();
    assert.equal(p.hasSecret, true);
    assert.equal(p.issuer, idp.issuer);
    const read = await app.asOperator('/api/v1/sso/providers/corp');
    assert.ok(!read.body.includes(idp.clientSecret), 'the client secret is never answered');
    await expectAudit(app, {
      action: 'operator.sso-provider.create',
      outcome: 'success',
      details: { provider: 'corp', kind: 'oidc' },
      mustNotContain: [idp.clientSecret],
    });
    const dup = await addOidcProvider(app, idp, 'corp-again');
    assert.equal(dup.status, 409, 'one provider per issuer: two providers never share a subject space');
    const list = await app.req('/api/v1/auth/sso/providers');
    assert.deepEqual(list.json<{ providers: unknown[] }>().providers, [
      { id: 'corp', kind: 'oidc', displayName: 'Sign in with corp' },
    ]);
  });

  test('an issuer on a refused address is refused by the egress guard, in every spelling', async () => {
    for (const issuer of [
      'https://127.0.0.2:9/',
      'https://2130706434:9/',
      'https://0x7f.0.0.2:9/',
      'https://[::1]:9/',
    ]) {
      const res = await app.asOperator(
        '/api/v1/sso/providers',
        jsonBody({ id: 'evil', kind: 'oidc', displayName: 'Evil', issuer, clientId: 'c' }),
      );
      assert.equal(res.status, 422, `${issuer}: ${res.body}`);
      assert.equal(res.json<{ code: string }>().code, 'EGRESS_DENIED', issuer);
    }
    const http = await app.asOperator(
      '/api/v1/sso/providers',
      jsonBody({ id: 'plain', kind: 'oidc', displayName: 'Plain', issuer: 'http://localhost:1/', clientId: 'c' }),
    );
    assert.equal(http.status, 422, 'plain http is never an issuer');
    assert.equal((await app.asOperator('/api/v1/sso/providers/evil')).status, 404, 'nothing was saved');
  });

  test('group → role mappings: owners and admins, never above their own role', async () => {
    const put = await owner.req(
      '/api/v1/workspaces/default/sso/mappings/corp',
      jsonBody(
        {
          mappings: [
            { group: 'eng', role: 'engineer' },
            { group: 'admins', role: 'admin' },
          ],
        },
        'PUT',
      ),
    );
    assert.equal(put.status, 200, put.body);
    const read = await owner.req('/api/v1/workspaces/default/sso');
    assert.equal(read.json<{ mappings: unknown[] }>().mappings.length, 2);
    await expectAudit(app, { action: 'sso.mapping.update', outcome: 'success', details: { provider: 'corp' } });
  });

  test('an admin cannot map a group to a role above their own: 403, recorded as denied with the reason', async () => {
    await createUser(app, 'mapper-admin@corp.test', { role: 'admin' });
    const admin = await login(app, 'mapper-admin@corp.test');
    const put = await admin.req(
      '/api/v1/workspaces/default/sso/mappings/corp',
      jsonBody({ mappings: [{ group: 'eng', role: 'owner' }] }, 'PUT'),
    );
    assert.equal(put.status, 403, put.body);
    const [ev] = await expectAudit(app, { action: 'sso.mapping.update', outcome: 'denied' });
    assert.deepEqual(ev!.resource, { type: 'workspace', id: 'default', workspace: 'default' });
    assert.equal(typeof ev!.details.reason, 'string');
    const read = await owner.req('/api/v1/workspaces/default/sso');
    assert.equal(read.json<{ mappings: unknown[] }>().mappings.length, 2, 'the refused mapping changed nothing');
  });

  test('sign-in: code + PKCE + state + nonce, a provisioned account with its mapped role, audited', async () => {
    const { res, session } = await oidcSignIn(app, idp, 'corp', 'alice-sub');
    assert.equal(res.status, 200, res.body);
    const body = res.json<{ user: { email: string; id: string }; strength: string }>();
    assert.equal(body.user.email, 'alice@corp.test');
    assert.equal(body.strength, 'sso');
    const me = await session!.req('/api/v1/auth/me');
    assert.equal(me.status, 200);
    assert.equal((await session!.req('/api/v1/workspaces/default/drives')).status, 200, 'engineer may list drives');
    assert.equal((await session!.req('/api/v1/workspaces/default/users')).status, 403, 'engineer is no admin');
    await expectAudit(app, { action: 'sso.user.provision', details: { provider: 'corp', email: 'alice@corp.test' } });
    await expectAudit(app, {
      action: 'identity.session.create',
      outcome: 'success',
      actorId: body.user.id,
      details: { method: 'oidc', provider: 'corp', strength: 'sso' },
    });
    // The same person signs in again: the same account (keyed on issuer + subject), no second provisioning.
    const again = await oidcSignIn(app, idp, 'corp', 'alice-sub');
    assert.equal(again.res.json<{ user: { id: string } }>().user.id, body.user.id);
  });

  test('roles follow the groups at every sign-in; no group left → refused and sessions revoked', async () => {
    const first = await oidcSignIn(app, idp, 'corp', 'alice-sub');
    idp.accounts.get('alice-sub')!.claims.groups = ['eng', 'admins'];
    idp.accounts.get('alice-sub')!.amr = ['pwd', 'mfa'];
    const admin = await oidcSignIn(app, idp, 'corp', 'alice-sub');
    assert.equal(admin.res.json<{ strength: string }>().strength, 'sso+mfa', 'the IdP asserted MFA');
    assert.equal((await admin.session!.req('/api/v1/workspaces/default/users')).status, 200, 'now an admin');
    assert.equal((await first.session!.req('/api/v1/auth/me')).status, 401, 'a role change revokes old sessions');
    await expectAudit(app, { action: 'sso.membership.sync', details: { roles: ['admin', 'engineer'] } });

    idp.accounts.get('alice-sub')!.amr = undefined;
    const noMfa = await oidcSignIn(app, idp, 'corp', 'alice-sub');
    assert.equal(noMfa.res.json<{ strength: string }>().strength, 'sso');
    const gated = await noMfa.session!.req('/api/v1/workspaces/default/users');
    assert.equal(gated.status, 403, 'an admin without MFA from the IdP must enrol local MFA');
    assert.equal(gated.json<{ code: string }>().code, 'MFA_REQUIRED');

    idp.accounts.get('alice-sub')!.claims.groups = ['marketing'];
    const none = await oidcSignIn(app, idp, 'corp', 'alice-sub');
    assert.equal(refusalReason(none.res), 'no-role');
    assert.equal((await admin.session!.req('/api/v1/auth/me')).status, 401, 'losing every role ends every session');
    await expectAudit(app, { action: 'identity.session.create', outcome: 'failure', details: { reason: 'no-role' } });
    idp.accounts.get('alice-sub')!.claims.groups = ['eng'];
  });

  test('thousands of groups are read (no silent truncation); an Entra-style overage is refused, not "no roles"', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => `group-${i}`);
    idp.accounts.set('big-sub', {
      claims: { email: 'big@corp.test', email_verified: true, groups: [...many, 'eng'] },
    });
    const big = await oidcSignIn(app, idp, 'corp', 'big-sub');
    assert.equal(big.res.status, 200, big.res.body);
    idp.accounts.set('over-sub', { claims: { email: 'over@corp.test', email_verified: true, hasgroups: true } });
    const over = await oidcSignIn(app, idp, 'corp', 'over-sub');
    assert.equal(refusalReason(over.res), 'groups-overage');
    assert.match(over.res.json<{ detail: string }>().detail, /too many/);
    const p = (await app.asOperator('/api/v1/sso/providers/corp')).json<{ lastError?: { message: string } }>();
    assert.match(p.lastError?.message ?? '', /overage/i, 'the admin sees the overage on the provider');
    await expectAudit(app, {
      action: 'identity.session.create',
      outcome: 'failure',
      details: { reason: 'groups-overage' },
    });
  });

  describe('refusals, each with its own reason', () => {
    const cases: [string, (h: Record<string, unknown>, p: Record<string, unknown>) => 'unsigned' | void, string][] = [
      ['wrong nonce', (_h, p) => void (p.nonce = 'not-the-nonce'), 'nonce-mismatch'],
      ['missing nonce', (_h, p) => void delete p.nonce, 'nonce-mismatch'],
      ['another issuer', (_h, p) => void (p.iss = 'https://login.other-issuer.test'), 'issuer-mismatch'],
      ['another audience', (_h, p) => void (p.aud = 'some-other-client'), 'audience-mismatch'],
      [
        'expired',
        (_h, p) => {
          const now = Math.floor(Date.now() / 1000);
          Object.assign(p, { iat: now - 7200, exp: now - 3600 });
        },
        'token-expired',
      ],
      ['alg: none', () => 'unsigned', 'bad-signature'],
    ];
    for (const [name, tamper, reason] of cases) {
      test(`ID token with ${name} → ${reason}`, async () => {
        idp.tamper = tamper;
        try {
          const { res } = await oidcSignIn(app, idp, 'corp', 'alice-sub');
          assert.equal(refusalReason(res), reason, res.body);
        } finally {
          idp.tamper = undefined;
        }
        await expectAudit(app, {
          action: 'identity.session.create',
          outcome: 'failure',
          details: { method: 'oidc', provider: 'corp', reason },
        });
      });
    }

    test('a callback delivered to another browser is refused; a wrong state finds no pending sign-in', async () => {
      const victim = new Browser(rootsOf(app, idp));
      const attacker = new Browser(rootsOf(app, idp));
      await attacker.fetch(`${app.base}/api/v1/auth/sso/corp/start`, { headers: { accept: 'application/json' } });
      const stolen = await oidcSignIn(app, idp, 'corp', 'alice-sub', {
        browser: victim,
        beforeCallback: (u) => u,
      });
      assert.equal(stolen.res.status, 200);
      // Login CSRF: the attacker's own callback URL pushed into the victim's browser.
      const attackerStart = await attacker.fetch(`${app.base}/api/v1/auth/sso/corp/start`, {
        headers: { accept: 'application/json' },
      });
      idp.nextAccount = 'alice-sub';
      const cb = callbackUrl(app, 'corp');
      const { next } = await attacker.follow(attackerStart.json<{ redirectUrl: string }>().redirectUrl, (u) =>
        u.href.startsWith(cb),
      );
      const pushed = await victim.fetch(next.href, { headers: { accept: 'application/json' } });
      assert.equal(refusalReason(pushed), 'browser-mismatch');

      const wrongState = new URL(next.href);
      wrongState.searchParams.set('state', 'made-up-state');
      attacker.setCookie(app.base, '__Host-sr_sso', 'made-up-state');
      const res = await attacker.fetch(wrongState.href, { headers: { accept: 'application/json' } });
      assert.equal(refusalReason(res), 'no-pending-login');
      // The genuine callback, replayed after use, finds nothing either (the code is never exchanged twice).
      const realState = new URL(next.href).searchParams.get('state')!;
      attacker.setCookie(app.base, '__Host-sr_sso', realState);
      const first = await attacker.fetch(next.href, { headers: { accept: 'application/json' } });
      assert.equal(first.status, 200, first.body);
      attacker.setCookie(app.base, '__Host-sr_sso', realState);
      assert.equal(
        refusalReason(await attacker.fetch(next.href, { headers: { accept: 'application/json' } })),
        'no-pending-login',
      );
    });

    test('a callback with no pending sign-in creates nothing', async () => {
      const before = await app.server.database.db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirst();
      const b = new Browser(rootsOf(app));
      const res = await b.fetch(`${callbackUrl(app, 'corp')}?code=abc&state=nothing`, {
        headers: { accept: 'application/json' },
      });
      assert.equal(refusalReason(res), 'browser-mismatch');
      b.setCookie(app.base, '__Host-sr_sso', 'nothing');
      const res2 = await b.fetch(`${callbackUrl(app, 'corp')}?code=abc&state=nothing`, {
        headers: { accept: 'application/json' },
      });
      assert.equal(refusalReason(res2), 'no-pending-login');
      const after = await app.server.database.db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirst();
      assert.equal(Number(after!.n), Number(before!.n));
      const unknown = await b.fetch(`${app.base}/api/v1/auth/sso/nosuch/oidc/callback?state=x`, {
        headers: { accept: 'application/json' },
      });
      assert.equal(unknown.status, 404);
    });
  });
});
