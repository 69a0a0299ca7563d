/**
 * Single sign-on in the console, in real Chromium against the real server (PGlite) and a real
 * OpenID Connect IdP (`oidc-provider` on loopback): the sign-in page shows the provider's button,
 * one click goes to the IdP and comes back signed in with the mapped role; an owner opens
 * Settings → Single sign-on (providers, mappings, enforcement) and makes a SCIM token, shown
 * once. No page breaks the CSP. Screenshots go to test-output/console/sso-*.png.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { buildConsole, chromiumMissing, openBrowser, type BrowserSession } from './helpers/browser.ts';
import { GOOD_PASSWORD, jsonBody, ownerSession, totpNow } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';
import { addOidcProvider, callbackUrl } from './helpers/sso.ts';
import { startOidcIdp, type OidcIdp } from './peers/idp/oidc-idp.ts';

const OWNER = 'sso-owner@corp.test';

describe('single sign-on in the console (Chromium, oidc-provider)', () => {
  let app: TestApp;
  let idp: OidcIdp;
  let browser: BrowserSession | undefined;
  let skip = false;
  let ownerSecret = '';
  /** The server's clock runs ahead on demand, so each TOTP code is from a fresh window (codes work once). */
  let offset = 0;
  const freshCode = () => {
    offset += 60_000;
    return totpNow(ownerSecret, Date.now() + offset);
  };
  const csp: string[] = [];

  async function open(): Promise<Page> {
    browser = await openBrowser();
    const page = browser.page;
    page.setDefaultTimeout(30_000);
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
    });
    return page;
  }

  before(async (t) => {
    if (!requirePeer(t as never, 'chromium', chromiumMissing() === undefined, chromiumMissing() ?? '')) {
      skip = true;
      return;
    }
    buildConsole();
    app = await startTestApp('pglite', {
      env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32' },
      now: () => new Date(Date.now() + offset),
    });
    idp = await startOidcIdp({ redirectUris: [callbackUrl(app, 'corp')] });
    const owner = await ownerSession(app, OWNER);
    ownerSecret = owner.secret;
    assert.equal((await addOidcProvider(app, idp, 'corp', { displayName: 'Corp account' })).status, 201);
    const map = await owner.session.req(
      '/api/v1/workspaces/default/sso/mappings/corp',
      jsonBody({ mappings: [{ group: 'eng', role: 'engineer' }] }, 'PUT'),
    );
    assert.equal(map.status, 200, map.body);
    idp.accounts.set('ada-sub', {
      claims: { email: 'ada@corp.test', email_verified: true, name: 'Ada Lovelace', groups: ['eng'] },
    });
  });
  after(async () => {
    await browser?.close();
    await idp?.close();
    await app?.close();
  });

  test('the sign-in page offers the provider; one click through the IdP signs in with the mapped role', async (t) => {
    if (skip) return t.skip('no chromium');
    const page = await open();
    // The public origin (the callback URL and the __Host- cookies name it).
    await page.goto(`${app.base}/datasets`);
    const button = page.getByRole('navigation', { name: 'Single sign-on' }).getByRole('link', { name: 'Corp account' });
    await button.waitFor();
    // The sign-in form's password field is the shared one: no rule checklist when signing in.
    assert.equal(await page.getByTestId('password-rules').count(), 0);
    await browser!.shot('sso-01-signin');
    idp.nextAccount = 'ada-sub';
    await button.click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    assert.ok(new URL(page.url()).pathname.startsWith('/datasets'), page.url());
    await page.getByText('ada@corp.test').first().waitFor();
    // An engineer: no Users & roles, no Single sign-on settings.
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.equal(await nav.getByRole('link', { name: 'Users & roles' }).count(), 0);
    assert.equal(await nav.getByRole('link', { name: 'Single sign-on' }).count(), 0);
    await browser!.shot('sso-02-signed-in');
    await expectAudit(app, {
      action: 'identity.session.create',
      outcome: 'success',
      details: { method: 'oidc', provider: 'corp', email: 'ada@corp.test' },
    });
    await browser!.close();
    browser = undefined;
  });

  test('an owner sees Settings → Single sign-on and makes a SCIM token, shown once', async (t) => {
    if (skip) return t.skip('no chromium');
    const page = await open();
    await page.goto(`${app.base}/sso`);
    await page.getByLabel('Email').fill(OWNER);
    await page.getByLabel('Password').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Authentication code').fill(freshCode());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Single sign-on' }).waitFor();
    const providers = page.getByRole('region', { name: 'Providers' });
    await providers.getByText('Corp account').waitFor();
    assert.match((await providers.textContent()) ?? '', /OpenID Connect/);
    const mappings = page.getByRole('form', { name: 'Group to role mappings for corp' });
    assert.equal(await mappings.getByLabel('IdP group').first().inputValue(), 'eng');
    assert.equal(await mappings.getByLabel('Role').first().inputValue(), 'engineer');
    await browser!.shot('sso-03-settings');

    // Add a mapping row and save: the server has it.
    await mappings.getByRole('button', { name: 'Add mapping' }).click();
    await mappings.getByLabel('IdP group').nth(1).fill('auditors');
    await mappings.getByLabel('Role').nth(1).selectOption('auditor');
    await mappings.getByRole('button', { name: 'Save mappings' }).click();
    await expectAudit(app, { action: 'sso.mapping.update', outcome: 'success', details: { mappings: 2 } });

    const scim = page.getByRole('region', { name: 'SCIM provisioning' });
    await scim.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.getByTestId('scim-token').textContent()) ?? '';
    assert.match(token, /^srscim_[A-Za-z0-9_-]{40,}$/);
    await scim.getByRole('button', { name: 'Rotate token' }).waitFor();
    await browser!.shot('sso-04-scim-token');
    const list = await app.req('/scim/v2/Users', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(list.status, 200, 'the token shown works');
    await expectAudit(app, { action: 'sso.scim-token.rotate', outcome: 'success', mustNotContain: [token] });
    assert.deepEqual(csp, [], 'no CSP violation');
  });
});
