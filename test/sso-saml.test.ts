/**
 * SAML 2.0 sign-in end to end with a real IdP (`samlify` + libxml2 schema validation) in the test
 * process: metadata import, the AuthnRequest it parses, signed responses it produces — accepted —
 * and every refusal the issue names, each with its own reason and audit event: unsigned response,
 * unsigned assertion, signature wrapping (a signed assertion moved next to a forged one; a
 * comment-truncated NameID), wrong audience, destination or recipient, expired, not yet valid,
 * replayed assertion, unsolicited, another certificate than the pinned one; and bad input
 * (malformed XML, an XML bomb, huge, bad base64, no pending sign-in) — 4xx, nothing created.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { expectAudit } from './helpers/audit.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { Browser } from './helpers/browser-flow.ts';
import { createUser, jsonBody, ownerSession, sessionFrom } from './helpers/identity.ts';
import type { TestResponse } from './helpers/https.ts';
import { refusalReason, rootsOf } from './helpers/sso.ts';
import {
  rsaSelfSigned,
  startSamlIdp,
  type ResponseOptions,
  type SamlIdp,
  type SamlUser,
} from './peers/idp/saml-idp.ts';

describe('SAML 2.0 sign-in (samlify IdP in process)', () => {
  let app: TestApp;
  let idp: SamlIdp;
  let sp: { entityId: string; acsUrl: string };
  const alice: SamlUser = { nameId: 'alice@saml.test', attributes: { groups: ['eng'], email: ['alice@saml.test'] } };

  const users = async () =>
    Number(
      (await app.server.database.db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirst())!.n,
    );

  /** Starts a sign-in in `browser`; returns the RelayState and the request id the IdP read. */
  async function start(browser: Browser) {
    const res = await browser.fetch(`${app.base}/api/v1/auth/sso/saml1/start`, {
      headers: { accept: 'application/json' },
    });
    assert.equal(res.status, 200, res.body);
    const { redirectUrl } = res.json<{ redirectUrl: string }>();
    assert.ok(redirectUrl.startsWith(idp.ssoUrl), redirectUrl);
    const relay = new URL(redirectUrl).searchParams.get('RelayState')!;
    return { relay, requestId: await idp.parseRequest(redirectUrl, sp.entityId, sp.acsUrl) };
  }
  const post = (browser: Browser, SAMLResponse: string, RelayState?: string): Promise<TestResponse> =>
    browser.fetch(sp.acsUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ SAMLResponse, ...(RelayState !== undefined ? { RelayState } : {}) }).toString(),
    });
  /** One whole sign-in; `tamper` edits the signed XML before it is posted. */
  async function signIn(user: SamlUser, opts: ResponseOptions & { tamper?: (xml: string) => string } = {}) {
    const browser = new Browser(rootsOf(app));
    const { relay, requestId } = await start(browser);
    let response = await idp.respond(requestId, user, sp, opts);
    if (opts.tamper)
      response = Buffer.from(opts.tamper(Buffer.from(response, 'base64').toString('utf8'))).toString('base64');
    return { res: await post(browser, response, relay), browser, relay, response };
  }

  before(async () => {
    app = await startTestApp('pglite', { env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32' } });
    idp = await startSamlIdp();
    sp = {
      entityId: `${app.base}/api/v1/auth/sso/saml1/saml/metadata`,
      acsUrl: `${app.base}/api/v1/auth/sso/saml1/saml/acs`,
    };
    const owner = (await ownerSession(app)).session;
    const created = await app.asOperator(
      '/api/v1/sso/providers',
      jsonBody({ id: 'saml1', kind: 'saml', displayName: 'Corp SAML', metadataXml: idp.metadataXml }),
    );
    assert.equal(created.status, 201, created.body);
    const s = created.json<{ issuer: string; settings: { wantResponseSigned?: boolean } }>();
    assert.equal(s.issuer, idp.entityId, 'entity id, SSO URL and certificate read from the IdP metadata');
    const map = await owner.req(
      '/api/v1/workspaces/default/sso/mappings/saml1',
      jsonBody({ mappings: [{ group: 'eng', role: 'engineer' }] }, 'PUT'),
    );
    assert.equal(map.status, 200, map.body);
  });
  after(async () => {
    await app?.close();
  });

  test('SP metadata at a stable URL names the ACS and wants signed assertions', async () => {
    const res = await app.req('/api/v1/auth/sso/saml1/saml/metadata');
    assert.equal(res.status, 200);
    assert.ok(res.body.includes(sp.acsUrl));
    assert.ok(res.body.includes(`entityID="${sp.entityId}"`));
    assert.match(res.body, /WantAssertionsSigned="true"/);
  });

  test('IdP metadata imported from a URL through the egress guard; refused addresses and bad answers are 4xx/502', async () => {
    const other = await startSamlIdp({ entityId: 'https://idp2.saml.test/metadata' });
    const served = await other.serveMetadata();
    try {
      const add = (extra: Record<string, unknown>) =>
        app.asOperator(
          '/api/v1/sso/providers',
          jsonBody({ id: 'saml-url', kind: 'saml', displayName: 'By URL', ...extra }),
        );
      const blocked = await add({ metadataUrl: 'https://127.0.0.2:9/metadata' });
      assert.equal(blocked.status, 422, blocked.body);
      assert.equal(blocked.json<{ code: string }>().code, 'EGRESS_DENIED');
      const plain = await add({ metadataUrl: served.url.replace('https:', 'http:') });
      assert.equal(plain.status, 422, 'the metadata URL is https only');
      const untrusted = await add({ metadataUrl: served.url });
      assert.equal(untrusted.status, 502, 'TLS stays verified: an unknown certificate is refused');
      assert.equal(untrusted.json<{ code: string }>().code, 'SSO_PROVIDER_ERROR');
      const missing = await add({ metadataUrl: served.url.replace('/metadata', '/nothing'), caPem: served.ca });
      assert.equal(missing.status, 502, missing.body);
      assert.ok(!missing.body.includes('secret-remote-text'), 'no remote text is echoed');
      assert.equal((await app.asOperator('/api/v1/sso/providers/saml-url')).status, 404, 'nothing saved');

      const ok = await add({ metadataUrl: served.url, caPem: served.ca });
      assert.equal(ok.status, 201, ok.body);
      const p = ok.json<{ issuer: string; settings: { idpCertPem: string[]; metadataUrl: string } }>();
      assert.equal(p.issuer, other.entityId);
      assert.equal(p.settings.metadataUrl, served.url);
      assert.equal(p.settings.idpCertPem.length, 1, 'the signing certificate from the metadata is pinned');
      const spMeta = await app.req('/api/v1/auth/sso/saml-url/saml/metadata');
      assert.equal(spMeta.status, 200);
      assert.match(String(spMeta.headers['content-type']), /application\/samlmetadata\+xml/);
      assert.ok(spMeta.body.includes(`${app.base}/api/v1/auth/sso/saml-url/saml/acs`));
      assert.equal((await app.asOperator('/api/v1/sso/providers/saml-url', { method: 'DELETE' })).status, 204);
    } finally {
      await served.close();
    }
  });

  test('a response and assertion signed by the pinned IdP sign the person in, with the mapped role', async () => {
    const { res } = await signIn(alice);
    assert.equal(res.status, 200, res.body);
    const body = res.json<{ user: { email: string; id: string } }>();
    assert.equal(body.user.email, 'alice@saml.test');
    const session = sessionFrom(app, res);
    assert.equal((await session.req('/api/v1/workspaces/default/drives')).status, 200);
    await expectAudit(app, {
      action: 'identity.session.create',
      outcome: 'success',
      actorId: body.user.id,
      details: { method: 'saml', provider: 'saml1' },
    });
  });

  const cases: [string, ResponseOptions & { tamper?: (xml: string) => string }, string][] = [
    ['unsigned response (assertion signed)', { signResponse: false }, 'unsigned-response'],
    ['unsigned assertion (response signed)', { signAssertion: false }, 'unsigned-assertion'],
    ['nothing signed', { signAssertion: false, signResponse: false }, 'unsigned-response'],
    ['wrong audience', { override: { Audience: 'https://other-sp.test/metadata' } }, 'wrong-audience'],
    ['wrong destination', { override: { Destination: 'https://other-sp.test/acs' } }, 'wrong-destination'],
    ['wrong recipient', { override: { SubjectRecipient: 'https://other-sp.test/acs' } }, 'wrong-recipient'],
    [
      'expired',
      {
        override: {
          ConditionsNotBefore: new Date(Date.now() - 3_600_000).toISOString(),
          ConditionsNotOnOrAfter: new Date(Date.now() - 1_800_000).toISOString(),
          SubjectConfirmationDataNotOnOrAfter: new Date(Date.now() - 1_800_000).toISOString(),
        },
      },
      'expired',
    ],
    [
      'not yet valid',
      { override: { ConditionsNotBefore: new Date(Date.now() + 3_600_000).toISOString() } },
      'not-yet-valid',
    ],
    [
      'answering another request (InResponseTo)',
      { override: { InResponseTo: '_not-our-request' } },
      'wrong-in-response-to',
    ],
    ['another issuer', { override: { Issuer: 'https://evil-idp.test/metadata' } }, 'wrong-issuer'],
  ];
  for (const [name, opts, reason] of cases) {
    test(`refused: ${name} → ${reason}`, async () => {
      const before = await users();
      const { res } = await signIn({ ...alice, nameId: 'newcomer@saml.test' }, opts);
      assert.equal(refusalReason(res), reason, res.body);
      assert.equal(await users(), before, 'nothing created');
      await expectAudit(app, {
        action: 'identity.session.create',
        outcome: 'failure',
        details: { method: 'saml', provider: 'saml1', reason },
      });
    });
  }

  test('signature wrapping: a forged assertion next to the signed one is refused', async () => {
    await createUser(app, 'boss@saml.test', { role: 'admin' });
    // Response signed only on the assertion: the attacker controls the envelope.
    const forge = (xml: string) => {
      const signed = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0];
      const forged = signed
        .replace(/ID="[^"]+"/, 'ID="_forged"')
        .replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '')
        .replace(/>newcomer@saml\.test</, '>boss@saml.test<');
      return [
        xml.replace(signed, `${forged}${signed}`), // forged first, signed second
        xml.replace(signed, `${signed}${forged}`), // signed first, forged second
        xml.replace(signed, `${forged}<samlp:Extensions>${signed}</samlp:Extensions>`), // signed one hidden
      ];
    };
    for (const signResponse of [false, true]) {
      for (let variant = 0; variant < 3; variant++) {
        const { res } = await signIn(
          { ...alice, nameId: 'newcomer@saml.test' },
          { signResponse, tamper: (xml) => forge(xml)[variant]! },
        );
        assert.equal(res.status, 401, `variant ${variant}, response signed ${signResponse}: ${res.body}`);
        assert.ok(
          ['bad-signature', 'unsigned-response', 'unsigned-assertion', 'invalid', 'malformed-xml'].includes(
            refusalReason(res),
          ),
          res.body,
        );
      }
    }
  });

  test('signature wrapping: a comment inside the NameID does not truncate it', async () => {
    const { res } = await signIn(
      { nameId: 'boss@saml.test.evil.test', attributes: { groups: ['eng'] } },
      { tamper: (xml) => xml.replace('>boss@saml.test.evil.test<', '>boss@saml.test<!---->.evil.test<') },
    );
    if (res.status === 200) {
      assert.equal(res.json<{ user: { email: string } }>().user.email, 'boss@saml.test.evil.test', 'the whole NameID');
    } else {
      assert.equal(res.status, 401, res.body);
    }
    const boss = await app.server.identity.users.findByEmail('boss@saml.test');
    const linked = await app.server.database.db
      .selectFrom('external_identities')
      .select('subject')
      .where('user_id', '=', boss!.id)
      .execute();
    assert.deepEqual(linked, [], 'the admin was never signed in or linked');
  });

  test('a certificate other than the pinned one is refused', async () => {
    const rogue = await startSamlIdp({ entityId: idp.entityId, keys: await rsaSelfSigned('rogue IdP') });
    const browser = new Browser(rootsOf(app));
    const { relay, requestId } = await start(browser);
    const res = await post(browser, await rogue.respond(requestId, alice, sp), relay);
    assert.equal(refusalReason(res), 'bad-signature');
  });

  test('a replayed assertion is refused; so is an unsolicited (IdP-initiated) response', async () => {
    const { res, browser, relay, response } = await signIn(alice);
    assert.equal(res.status, 200, res.body);
    browser.setCookie(new URL(app.base).origin, '__Host-sr_sso', relay);
    assert.equal(refusalReason(await post(browser, response, relay)), 'replayed-assertion');
    await expectAudit(app, {
      action: 'identity.session.create',
      outcome: 'failure',
      details: { reason: 'replayed-assertion' },
    });
    assert.equal(refusalReason(await post(browser, response)), 'unsolicited', 'no RelayState: not started here');
    const b2 = new Browser(rootsOf(app));
    const started = await start(b2);
    const unsolicited = await idp.respond(started.requestId, alice, sp, { override: { InResponseTo: '' } });
    assert.equal(refusalReason(await post(b2, unsolicited, started.relay)), 'unsolicited');
  });

  test('bad input: malformed XML, an XML bomb, bad base64, huge, no pending sign-in — 4xx, nothing created', async () => {
    const before = await users();
    const bomb =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol2;</samlp:Response>';
    const inputs: [string, string, string][] = [
      [
        'malformed XML',
        Buffer.from('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><unclosed>').toString('base64'),
        'malformed-xml',
      ],
      ['XML bomb', Buffer.from(bomb).toString('base64'), 'doctype-forbidden'],
      ['bad base64', '!!!not base64!!!', 'bad-encoding'],
    ];
    for (const [name, body, reason] of inputs) {
      const browser = new Browser(rootsOf(app));
      const { relay } = await start(browser);
      assert.equal(refusalReason(await post(browser, body, relay)), reason, name);
    }
    const browser = new Browser(rootsOf(app));
    const { relay } = await start(browser);
    const huge = await post(browser, 'A'.repeat(700 * 1024), relay);
    assert.equal(huge.status, 413, 'a huge response is refused before it is read whole');
    assert.match(String(huge.headers['content-type']), /problem\+json/);
    const none = new Browser(rootsOf(app));
    none.setCookie(new URL(app.base).origin, '__Host-sr_sso', 'never-started');
    assert.equal(
      refusalReason(await post(none, Buffer.from('<x/>').toString('base64'), 'never-started')),
      'no-pending-login',
    );
    const json = await app.req(`/api/v1/auth/sso/saml1/saml/acs`, jsonBody({ SAMLResponse: 'x' }));
    assert.equal(json.status, 415, 'the ACS takes a form post only');
    assert.equal(await users(), before, 'nothing created');
  });
});
