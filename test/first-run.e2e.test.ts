/**
 * The first run entirely in real Chromium (issue 15, items 1, 2, 8, 9): a server on a fresh data
 * directory and an empty database; the browser opens `/setup` (served by the console, not a JSON
 * 404), sees "Create the first owner", is told what the password lacks as it types, is refused a
 * wrong setup token at its field, creates the owner with the token the server printed, goes
 * straight into MFA enrolment (with "Not you? Sign out"), saves the recovery codes and lands
 * signed in. Then, as that owner: Your account shows the recovery codes left and this browser's
 * session; the Access rules page lists the pii rule; the owner gives themselves clearance on
 * Users & roles; signing out shows "Sign in", not the first run again.
 *
 * The server's clock is the test's clock plus `offset` (each TOTP step is single-use).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { buildConsole, chromiumMissing, openBrowser, type BrowserSession } from './helpers/browser.ts';
import { GOOD_PASSWORD, totpNow } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';
import { setupTokenPath } from '../src/installation/setup-token.ts';

const EMAIL = 'founder@first.test';
const NAME = 'Frida Founder';

/** The message a form shows at the field labelled `label`. */
const fieldError = (p: Page, label: string) => p.locator(`[data-error-for="${label}"]`);

describe('first run in Chromium', () => {
  let app: TestApp;
  let browser: BrowserSession;
  let page: Page;
  let base: string;
  let skip = false;
  let offset = 0;
  let totpSecret = '';
  let recoveryCode = '';
  const cspViolations: string[] = [];
  const now = () => Date.now() + offset;
  const freshCode = () => {
    offset += 60_000;
    return totpNow(totpSecret, now());
  };

  before(async (t) => {
    if (!requirePeer(t as never, 'chromium', chromiumMissing() === undefined, chromiumMissing() ?? '')) {
      skip = true;
      return;
    }
    buildConsole();
    app = await startTestApp('pglite', { now: () => new Date(now()) });
    assert.ok(app.setupToken, 'a start without users issues a setup token');
    base = `https://127.0.0.1:${app.server.httpsPort}`;
    browser = await openBrowser();
    page = browser.page;
    page.setDefaultTimeout(20_000);
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('from an empty installation to a signed-in owner with MFA, all in the browser', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/setup`);
    await page.getByRole('heading', { name: 'Create the first owner' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign in', exact: true }).count(), 1, 'a way to sign in');

    await page.getByLabel('Setup token').fill('srs_not-the-right-token');
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Your name').fill(NAME);
    // The rules answer as the password is typed.
    await page.getByLabel('Password', { exact: true }).fill('short');
    await fieldError(page, 'Password').getByText('At least 15 characters').waitFor();
    assert.match((await page.getByTestId('password-rules').textContent()) ?? '', /5 so far/);
    await page.getByLabel('Password', { exact: true }).fill('frida founder of the vault');
    await fieldError(page, 'Password').getByText('Not your name or email address').waitFor();
    await page.getByRole('button', { name: 'Create owner and continue' }).click();
    assert.equal(await page.getByTestId('problem').count(), 0, 'the console stopped the form: nothing was sent');
    await browser.shot('fr-01-password-rules');
    await page.getByLabel('Password', { exact: true }).fill(GOOD_PASSWORD);
    assert.equal(await fieldError(page, 'Password').count(), 0);
    await page.getByRole('button', { name: 'Create owner and continue' }).click();
    assert.match((await page.getByTestId('problem').textContent()) ?? '', /setup token is not valid/);
    await browser.shot('fr-02-wrong-token');

    await page.getByLabel('Setup token').fill(app.setupToken!);
    await page.getByRole('button', { name: 'Create owner and continue' }).click();
    // Straight into MFA enrolment, with a way out for the wrong person.
    await page.getByRole('heading', { name: 'Protect your account' }).waitFor();
    assert.match((await page.getByText(/Signed in as .* Not you\?/).textContent()) ?? '', /founder@first\.test/);
    assert.equal(existsSync(setupTokenPath(app.home)), false, 'the token file is gone once used');
    await page.getByRole('button', { name: 'Start enrolment' }).click();
    totpSecret = (await page.getByTestId('totp-secret').textContent())!.replaceAll(' ', '').trim();
    await page.getByLabel('Code from the app').fill(freshCode());
    await page.getByRole('button', { name: 'Turn on MFA' }).click();
    await page.getByTestId('recovery-codes').waitFor();
    recoveryCode = (await page.getByTestId('recovery-codes').locator('div').first().textContent())!.trim();
    await browser.shot('fr-03-recovery-codes');
    await page.getByLabel('I have saved my recovery codes').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByTestId('signed-in-as').getByText(EMAIL).waitFor();
    await page.getByRole('heading', { name: 'Datasets' }).waitFor();
    await browser.shot('fr-04-signed-in');

    const owner = await app.server.identity.users.findByEmail(EMAIL);
    assert.ok(owner?.mfaEnabled, 'the owner has MFA');
    assert.deepEqual(await app.server.identity.users.rolesIn(owner.id, 'default'), ['owner']);
    await expectAudit(app, { action: 'identity.user.create', actorId: owner.id, details: { via: 'setup token' } });
    await expectAudit(app, { action: 'identity.mfa.enrol', actorId: owner.id, details: { step: 'activated' } });
  });

  test('Your account shows the recovery codes left and this browser among the sessions', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.getByRole('link', { name: 'Your account' }).click();
    await page.getByTestId('recovery-codes-left').getByText('10 recovery codes left').waitFor();
    const sessions = page.getByRole('region', { name: 'Sessions' });
    await sessions.getByText('this browser').waitFor();
    await browser.shot('fr-05-account');
  });

  test('the built-in rules are readable, and the owner gives themselves clearance for pii', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.getByRole('link', { name: 'Access rules' }).click();
    const pii = page.getByTestId('rule-abac.pii-needs-clearance-and-mfa');
    await pii.getByText('clearance 2 or more').waitFor();
    await browser.shot('fr-06-access-rules');
    await page.getByRole('link', { name: 'Users & roles' }).click();
    await page.getByRole('button', { name: `Edit attributes of ${EMAIL}` }).click();
    await page.getByLabel('Clearance').fill('2');
    await page.getByLabel('Region').fill('eu');
    await page.getByRole('button', { name: 'Save attributes' }).click();
    const row = page.getByTestId(`user-${EMAIL}`);
    await row.getByText('clearance 2').waitFor();
    assert.match((await row.textContent()) ?? '', /region eu/);
    assert.doesNotMatch((await row.textContent()) ?? '', /never/, 'the last sign-in is shown');
    await browser.shot('fr-07-attributes');
  });

  test('after signing out, the console offers Sign in, not the first run again', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Create the first owner' }).count(), 0);
    await page.goto(`${base}/setup`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Create the first owner' }).count(), 0);
  });

  test('signing in with a recovery code says how many are left', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Not you?').waitFor();
    await page.getByLabel('Authentication code').fill(recoveryCode);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('recovery-codes-left-notice').getByText('9 left').waitFor();
    await browser.shot('fr-08-recovery-code-sign-in');
  });

  test('no page broke the Content Security Policy', (t) => {
    if (skip) return t.skip('no chromium');
    assert.deepEqual(cspViolations, []);
  });
});
