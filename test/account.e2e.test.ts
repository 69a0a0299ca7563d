/**
 * Your account and member administration in real Chromium (issue 15, item 8): new recovery codes
 * after re-authentication, a password change checked as typed, ending another session and then
 * signing out everywhere; as an admin, re-enabling a disabled user and resetting a member's MFA
 * (after confirming it is you), with the last sign-in shown; a viewer sees no Access rules.
 *
 * The server's clock is the test's clock plus `offset`: moving it gives fresh TOTP steps and
 * makes the sign-in older than the re-authentication window.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { buildConsole, chromiumMissing, openBrowser, type BrowserSession } from './helpers/browser.ts';
import { GOOD_PASSWORD, createUser, enrolMfa, login, totpNow } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';

const OWNER = 'olga@account.test';
const NEW_PASSWORD = 'a quiet lighthouse keeps the harbour';
const MIN = 60_000;

describe('account and member administration in Chromium', () => {
  let app: TestApp;
  let browser: BrowserSession;
  let page: Page;
  let base: string;
  let skip = false;
  let offset = 0;
  let secret = '';
  const now = () => Date.now() + offset;
  const freshCode = () => {
    offset += MIN;
    return totpNow(secret, now());
  };
  /** Answer the "Confirm it's you" dialog. */
  const confirmItsMe = async (password: string) => {
    const dialog = page.getByRole('dialog', { name: "Confirm it's you" });
    await dialog.getByLabel('Your password').fill(password);
    await dialog.getByLabel('Authenticator code').fill(freshCode());
    await dialog.getByRole('button', { name: 'Confirm' }).click();
  };

  before(async (t) => {
    if (!requirePeer(t as never, 'chromium', chromiumMissing() === undefined, chromiumMissing() ?? '')) {
      skip = true;
      return;
    }
    buildConsole();
    app = await startTestApp('pglite', { now: () => new Date(now()) });
    await createUser(app, OWNER, { role: 'owner', displayName: 'Olga Owner' });
    secret = (await enrolMfa(app, await login(app, OWNER), now())).secret;
    base = `https://127.0.0.1:${app.server.httpsPort}`;
    browser = await openBrowser();
    page = browser.page;
    page.setDefaultTimeout(20_000);
    await page.goto(`${base}/account`);
    await page.getByLabel('Email').fill(OWNER);
    await page.getByLabel('Password', { exact: true }).fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Authentication code').fill(freshCode());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('new recovery codes after confirming it is you; the count is back to 10', async (t) => {
    if (skip) return t.skip('no chromium');
    offset += 10 * MIN; // the sign-in is now older than the re-authentication window
    await page.getByRole('button', { name: 'New recovery codes' }).click();
    await confirmItsMe(GOOD_PASSWORD);
    await page.getByTestId('recovery-codes').waitFor();
    await page.getByLabel('I have saved my recovery codes').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByTestId('recovery-codes-left').getByText('10 recovery codes left').waitFor();
    await expectAudit(app, { action: 'identity.mfa.recovery-codes', outcome: 'success' });
    await browser.shot('ac-01-recovery-codes');
  });

  test('change the password: the rules answer as it is typed, then it is changed', async (t) => {
    if (skip) return t.skip('no chromium');
    const form = page.getByRole('form', { name: 'Change password' });
    await form.getByLabel('New password').fill('olga');
    await page.locator('[data-error-for="New password"]').getByText('At least 8 characters').waitFor();
    await form.getByLabel('New password').fill(NEW_PASSWORD);
    await form.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Password changed').waitFor();
    await login(app, OWNER, NEW_PASSWORD);
    await expectAudit(app, {
      action: 'identity.user.password-change',
      outcome: 'success',
      mustNotContain: [NEW_PASSWORD],
    });
  });

  test('sessions: sign out another one, then everywhere', async (t) => {
    if (skip) return t.skip('no chromium');
    const other = await login(app, OWNER, NEW_PASSWORD);
    await page.reload();
    const region = page.getByRole('region', { name: 'Sessions' });
    await region.getByText('this browser').waitFor();
    const buttons = region.getByRole('button', { name: 'Sign out', exact: true });
    assert.ok((await buttons.count()) >= 1);
    await buttons.first().click();
    await expectAudit(app, { action: 'identity.session.revoke', details: { scope: 'one session' } });
    assert.equal((await other.req('/api/v1/auth/me')).status, 401, 'that session ended');
    await browser.shot('ac-02-sessions');
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });

  test('an admin re-enables a disabled user and resets a member’s MFA, after confirming it is them', async (t) => {
    if (skip) return t.skip('no chromium');
    const dis = await createUser(app, 'dina@account.test', { role: 'viewer' });
    await app.server.database.db.transaction().execute((trx) => app.server.identity.users.disable(trx, dis.id));
    await createUser(app, 'max@account.test', { role: 'engineer' });
    await enrolMfa(app, await login(app, 'max@account.test'), now());
    await page.getByLabel('Email').fill(OWNER);
    await page.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Authentication code').fill(freshCode());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('link', { name: 'Users & roles' }).click();

    const dina = page.getByTestId('user-dina@account.test');
    assert.match((await dina.textContent()) ?? '', /disabled.*never/);
    await dina.getByRole('button', { name: 'Enable' }).click();
    await dina.getByText('active').waitFor();
    await expectAudit(app, { action: 'identity.user.enable', resource: { id: dis.id } });

    offset += 10 * MIN;
    const max = page.getByTestId('user-max@account.test');
    assert.doesNotMatch((await max.textContent()) ?? '', /never/, 'their last sign-in is shown');
    await max.getByRole('button', { name: 'Reset MFA' }).click();
    await page
      .getByRole('dialog', { name: /Reset the MFA of max@account\.test/ })
      .getByRole('button', { name: 'Reset MFA' })
      .click();
    await confirmItsMe(NEW_PASSWORD);
    await max.getByText('off').waitFor();
    await expectAudit(app, { action: 'identity.user.mfa-reset', outcome: 'success' });
    await expectAudit(app, { action: 'identity.session.reauth-required', details: { for: 'identity.user.mfa-reset' } });
    await browser.shot('ac-03-users');
  });

  test('a viewer has no Access rules in the menu and a clear message on the page', async (t) => {
    if (skip) return t.skip('no chromium');
    await createUser(app, 'vera@account.test', { role: 'viewer' });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(`${base}/rules`);
    await page.getByLabel('Email').fill('vera@account.test');
    await page.getByLabel('Password', { exact: true }).fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Access rules is not available to you').waitFor();
    assert.equal(await page.getByRole('link', { name: 'Access rules' }).count(), 0);
  });
});
