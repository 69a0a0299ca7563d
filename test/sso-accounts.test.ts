/**
 * No account takeover through single sign-on, against two real IdPs (`oidc-provider` ×2):
 * accounts are keyed on (issuer, subject), never found by email; an IdP asserting the email of an
 * existing local admin — verified or not — does not sign in as them unless email linking is on
 * for that domain AND the email is verified; a second IdP cannot use the first's subjects;
 * required groups hold for every IdP; linking by proving both; SSO enforcement with break-glass.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { expectAudit } from './helpers/audit.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { Browser } from './helpers/browser-flow.ts';
import { createUser, GOOD_PASSWORD, jsonBody, login, ownerSession, totpNow, type Session } from './helpers/identity.ts';
import { addOidcProvider, callbackUrl, oidcSignIn, refusalReason, rootsOf } from './helpers/sso.ts';
import { startOidcIdp, type OidcIdp } from './peers/idp/oidc-idp.ts';

describe('single sign-on and existing accounts (two IdPs)', () => {
  let app: TestApp;
  let corp: OidcIdp;
  let other: OidcIdp;
  let owner: { session: Session; secret: string; user: { id: string } };

  before(async () => {
    app = await startTestApp('pglite', { env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32' } });
    corp = await startOidcIdp({ redirectUris: [callbackUrl(app, 'corp')] });
    other = await startOidcIdp({ redirectUris: [callbackUrl(app, 'other')] });
    owner = await ownerSession(app, 'root@corp.test');
    assert.equal((await addOidcProvider(app, corp, 'corp')).status, 201);
    assert.equal((await addOidcProvider(app, other, 'other')).status, 201);
    for (const p of ['corp', 'other']) {
      const r = await owner.session.req(
        `/api/v1/workspaces/default/sso/mappings/${p}`,
        jsonBody({ mappings: [{ group: 'eng', role: 'engineer' }] }, 'PUT'),
      );
      assert.equal(r.status, 200, r.body);
    }
    await createUser(app, 'boss@corp.test', { role: 'admin' });
  });
  after(async () => {
    await corp?.close();
    await other?.close();
    await app?.close();
  });

  test('an IdP asserting a local admin’s email never signs in as that admin, verified or not', async () => {
    for (const verified of [false, true]) {
      corp.accounts.set(`mallory-${verified}`, {
        claims: { email: 'boss@corp.test', email_verified: verified, groups: ['eng'] },
      });
      const { res } = await oidcSignIn(app, corp, 'corp', `mallory-${verified}`);
      assert.equal(refusalReason(res), 'email-in-use', `email_verified ${verified}`);
    }
    await expectAudit(app, {
      action: 'identity.session.create',
      outcome: 'failure',
      details: { provider: 'corp', reason: 'email-in-use' },
    });
  });

  test('email linking: only for a listed domain AND a verified email, and audited', async () => {
    const current = (await app.asOperator('/api/v1/sso/providers/corp')).json<{ settings: Record<string, unknown> }>();
    const put = await app.asOperator(
      '/api/v1/sso/providers/corp',
      jsonBody(
        {
          kind: 'oidc',
          displayName: 'Corp',
          issuer: corp.issuer,
          clientId: corp.clientId,
          caPem: corp.ca,
          emailLinkDomains: ['corp.test'],
        },
        'PUT',
      ),
    );
    assert.equal(put.status, 200, put.body);
    assert.ok(current.settings);
    const unverified = await oidcSignIn(app, corp, 'corp', 'mallory-false');
    assert.equal(refusalReason(unverified.res), 'email-in-use', 'an unverified email never links');
    await createUser(app, 'dana@corp.test', { role: 'viewer' });
    corp.accounts.set('dana-sub', { claims: { email: 'dana@corp.test', email_verified: true, groups: ['eng'] } });
    const linked = await oidcSignIn(app, corp, 'corp', 'dana-sub');
    assert.equal(linked.res.status, 200, linked.res.body);
    const dana = await app.server.identity.users.findByEmail('dana@corp.test');
    assert.equal(linked.res.json<{ user: { id: string } }>().user.id, dana!.id);
    await expectAudit(app, { action: 'sso.identity.link', resource: { id: dana!.id }, details: { provider: 'corp' } });
  });

  test('a second IdP cannot use the first one’s subjects (accounts are keyed on issuer + subject)', async () => {
    corp.accounts.set('shared-sub', { claims: { email: 'erin@corp.test', email_verified: true, groups: ['eng'] } });
    const erin = await oidcSignIn(app, corp, 'corp', 'shared-sub');
    assert.equal(erin.res.status, 200, erin.res.body);
    other.accounts.set('shared-sub', { claims: { email: 'erin@corp.test', email_verified: true, groups: ['eng'] } });
    const impostor = await oidcSignIn(app, other, 'other', 'shared-sub');
    assert.equal(refusalReason(impostor.res), 'email-in-use', 'same subject at another issuer is another person');
    other.accounts.set('shared-sub', { claims: { email: 'someone@other.test', groups: ['eng'] } });
    const distinct = await oidcSignIn(app, other, 'other', 'shared-sub');
    assert.equal(distinct.res.status, 200, distinct.res.body);
    assert.notEqual(
      distinct.res.json<{ user: { id: string } }>().user.id,
      erin.res.json<{ user: { id: string } }>().user.id,
    );
  });

  test('required groups are enforced for every IdP', async () => {
    for (const [id, idp] of [
      ['corp', corp],
      ['other', other],
    ] as const) {
      const put = await app.asOperator(
        `/api/v1/sso/providers/${id}`,
        jsonBody(
          {
            kind: 'oidc',
            displayName: id,
            issuer: idp.issuer,
            clientId: idp.clientId,
            caPem: idp.ca,
            requiredGroups: ['strongroom-users'],
            emailLinkDomains: id === 'corp' ? ['corp.test'] : [],
          },
          'PUT',
        ),
      );
      assert.equal(put.status, 200, put.body);
      idp.accounts.set('outsider', { claims: { email: `outsider@${id}.test`, groups: ['eng'] } });
      const { res } = await oidcSignIn(app, idp, id, 'outsider');
      assert.equal(refusalReason(res), 'required-group-missing', id);
      idp.accounts.set('insider', { claims: { email: `insider@${id}.test`, groups: ['eng', 'strongroom-users'] } });
      assert.equal((await oidcSignIn(app, idp, id, 'insider')).res.status, 200, id);
    }
  });

  test('linking by proving both: signed in locally (recently), then completes SSO; another’s identity is refused', async () => {
    await createUser(app, 'frank@corp.test', { role: 'viewer' });
    const frank = await login(app, 'frank@corp.test');
    corp.accounts.set('frank-at-idp', {
      claims: { email: 'f.something@elsewhere.test', groups: ['eng', 'strongroom-users'] },
    });
    const browser = new Browser(rootsOf(app, corp));
    browser.setCookie(app.base, '__Host-sr_session', frank.id);
    const attempt = await oidcSignIn(app, corp, 'corp', 'frank-at-idp', {
      browser,
      start: () =>
        browser.fetch(`${app.base}/api/v1/auth/sso/corp/link`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': frank.csrf },
          body: '{}',
        }),
    });
    assert.equal(attempt.res.status, 200, attempt.res.body);
    const frankUser = await app.server.identity.users.findByEmail('frank@corp.test');
    assert.equal(attempt.res.json<{ user: { id: string } }>().user.id, frankUser!.id);
    await expectAudit(app, {
      action: 'sso.identity.link',
      resource: { id: frankUser!.id },
      details: { via: 'signed-in user completed single sign-on' },
    });
    // Frank cannot take over Erin's SSO identity by linking it.
    const again = await login(app, 'frank@corp.test');
    const b2 = new Browser(rootsOf(app, corp));
    b2.setCookie(app.base, '__Host-sr_session', again.id);
    corp.accounts.get('shared-sub')!.claims.groups = ['eng', 'strongroom-users'];
    const steal = await oidcSignIn(app, corp, 'corp', 'shared-sub', {
      browser: b2,
      start: () =>
        b2.fetch(`${app.base}/api/v1/auth/sso/corp/link`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': again.csrf },
          body: '{}',
        }),
    });
    assert.equal(refusalReason(steal.res), 'identity-linked-elsewhere');
  });

  test('SSO enforcement: password sign-in refused for SSO users; an owner with MFA may break glass (audited)', async () => {
    const on = await owner.session.req(
      '/api/v1/workspaces/default/sso/enforcement',
      jsonBody({ enforce: true }, 'PUT'),
    );
    assert.equal(on.status, 200, on.body);
    await expectAudit(app, { action: 'sso.enforcement.update', details: { enforce: true } });
    // Frank (linked above) has a password and an SSO identity: refused.
    const refused = await app.req(
      '/api/v1/auth/login',
      jsonBody({ email: 'frank@corp.test', password: GOOD_PASSWORD }),
    );
    assert.equal(refused.status, 401);
    assert.equal(refused.json<{ reason: string }>().reason, 'sso-enforced');
    await expectAudit(app, {
      action: 'identity.session.create',
      outcome: 'failure',
      details: { reason: 'sso-enforced' },
    });
    // A local user without an SSO identity still signs in with a password.
    assert.equal((await login(app, 'boss@corp.test')).res.status, 200);
    // The owner links an SSO identity, then uses the password anyway: break-glass (MFA still asked).
    // Roles follow the IdP groups at every sign-in: the owner's group maps to owner (else the last owner would go: 409).
    const map = await owner.session.req(
      '/api/v1/workspaces/default/sso/mappings/corp',
      jsonBody(
        {
          mappings: [
            { group: 'eng', role: 'engineer' },
            { group: 'owners', role: 'owner' },
          ],
        },
        'PUT',
      ),
    );
    assert.equal(map.status, 200, map.body);
    corp.accounts.set('root-at-idp', { claims: { email: 'root@idp.test', groups: ['owners', 'strongroom-users'] } });
    const b = new Browser(rootsOf(app, corp));
    b.setCookie(app.base, '__Host-sr_session', owner.session.id);
    const linked = await oidcSignIn(app, corp, 'corp', 'root-at-idp', {
      browser: b,
      start: () =>
        b.fetch(`${app.base}/api/v1/auth/sso/corp/link`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': owner.session.csrf },
          body: '{}',
        }),
    });
    assert.equal(linked.res.status, 200, linked.res.body);
    assert.equal(linked.res.json<{ strength: string }>().strength, 'sso-pending-mfa', 'local TOTP still applies');
    const mfa = await linked.session!.req(
      '/api/v1/auth/mfa',
      jsonBody({ code: totpNow(owner.secret, Date.now() + 30_000) }),
    );
    assert.equal(mfa.status, 200, mfa.body);
    assert.equal(mfa.json<{ strength: string }>().strength, 'sso+totp');
    const glass = await app.req('/api/v1/auth/login', jsonBody({ email: 'root@corp.test', password: GOOD_PASSWORD }));
    assert.equal(glass.status, 200, glass.body);
    await expectAudit(app, {
      action: 'identity.session.create',
      outcome: 'success',
      actorId: owner.user.id,
      details: { breakGlass: true },
    });
  });
});
