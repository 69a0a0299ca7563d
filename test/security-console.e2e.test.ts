/**
 * The console's Security page in Chromium: an owner (MFA) sees every control with its status;
 * an admin without MFA in the workspace turns the MFA control to fail after "Check now", with
 * what to do; a control's detail shows its evidence, frameworks and history; "Download evidence"
 * saves a pack that verifies with the downloaded public key; the workspace allowlist editor shows
 * bad lines inline, refuses a list that locks the owner out (offering their address) and saves; a
 * viewer is told who may see it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestApp, type TestApp } from './helpers/app.ts';
import type { BrowserSession } from './helpers/browser.ts';
import { consoleReady, openConsole, signInConsole } from './helpers/console.ts';
import { createUser, ownerSession } from './helpers/identity.ts';
import { verifyEvidencePack } from '../src/modules/posture/index.ts';

describe('Security page in Chromium', () => {
  let app: TestApp;
  let browser: BrowserSession;
  let page: Page;
  let base: string;
  let skip = false;
  let secret = '';

  before(async (t) => {
    if (!consoleReady(t as never)) {
      skip = true;
      return;
    }
    app = await startTestApp('pglite', {
      env: { STRONGROOM_POSTURE_CHECK_SECONDS: '0', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
    });
    const owner = await ownerSession(app, 'sec-owner@console.test');
    secret = owner.secret;
    await createUser(app, 'sec-viewer@console.test', { role: 'viewer' });
    ({ browser, page, base } = await openConsole(app, 30_000));
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  async function signIn(email: string, mfa: boolean) {
    await signInConsole(browser, `${base}/security`, email, {
      mfaSecret: mfa ? secret : undefined,
      shot: 'security-00-no-signin',
    });
  }

  test('status of every control; an admin without MFA fails it after Check now, with the fix', async (t) => {
    if (skip) return t.skip('no chromium');
    await signIn('sec-owner@console.test', true);
    const rows = page.getByTestId('posture-controls').locator('tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 29); // every control a workspace owner sees, backups, retention and break-glass included
    assert.equal(await page.locator('tr[data-control="identity.mfa-privileged"]').getAttribute('data-status'), 'pass');
    assert.equal(await page.locator('tr[data-control="tls.protocols"]').getAttribute('data-status'), 'pass');
    const network = page.getByTestId('network-allowlist');
    await network.getByTestId('your-address').waitFor();
    assert.match((await network.textContent()) ?? '', /Installation: every address/);
    assert.match((await network.getByTestId('your-address').textContent()) ?? '', /127\.0\.0\.1 allowed/);
    await browser.shot('security-01-overview');

    await createUser(app, 'sec-admin@console.test', { role: 'admin' });
    await page.getByRole('button', { name: 'Check now' }).click();
    const mfaRow = page.locator('tr[data-control="identity.mfa-privileged"][data-status="fail"]');
    await mfaRow.waitFor();
    assert.match((await mfaRow.textContent()) ?? '', /1 of 2 owner\/admin account\(s\) without MFA/);
    assert.match((await mfaRow.textContent()) ?? '', /enrols TOTP/);
    // Failing controls come first.
    assert.equal(await rows.first().getAttribute('data-status'), 'fail');

    await mfaRow.getByRole('button').click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('sec-admin@console.test').waitFor();
    assert.match((await dialog.textContent()) ?? '', /PCI DSS 4\.0: 8\.4\.1/);
    const history = dialog.getByTestId('posture-history').locator('tbody tr');
    await history.nth(1).waitFor();
    assert.equal(await history.count(), 2);
    await browser.shot('security-02-control-detail');
    await page.keyboard.press('Escape');
  });

  test('Download evidence: a signed pack that verifies with the downloaded key', async (t) => {
    if (skip) return t.skip('no chromium');
    const downloads: Promise<import('playwright-core').Download>[] = [];
    page.on('download', (d) => downloads.push(Promise.resolve(d)));
    await page.getByRole('button', { name: 'Download evidence' }).click();
    await page.getByTestId('evidence-done').waitFor();
    for (let i = 0; i < 50 && downloads.length < 3; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(downloads.length, 3);
    const files = await Promise.all(
      downloads.map(async (d) => {
        const dl = await d;
        const file = path.join(browser.downloads, dl.suggestedFilename());
        await dl.saveAs(file);
        return { name: dl.suggestedFilename(), text: await readFile(file, 'utf8') };
      }),
    );
    const pack = JSON.parse(files.find((f) => f.name.endsWith('.json'))!.text) as unknown;
    const key = files.find((f) => f.name === 'audit-public-key.pem')!.text;
    assert.equal(verifyEvidencePack(pack, key).ok, true);
    assert.match(files.find((f) => f.name.endsWith('.html'))!.text, /Strongroom security evidence/);
  });

  test('allowlist editor: bad lines shown inline, a list locking the owner out refused, then saved and removed', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/security`);
    const network = page.getByTestId('network-allowlist');
    await network.getByTestId('your-address').waitFor();
    const editor = network.getByLabel('This workspace’s allowlist');
    await editor.fill('192.168.0.0/16\n10.1.2.3/8\nsomewhere');
    await network.getByRole('button', { name: 'Save allowlist' }).click();
    const issues = network.getByTestId('allowlist-issues');
    await issues.waitFor();
    assert.deepEqual(await issues.locator('li').evaluateAll((els) => els.map((e) => e.getAttribute('data-line'))), [
      '2',
      '3',
    ]);
    assert.match(
      (await issues.locator('li[data-line="2"]').textContent()) ?? '',
      /host bits set; write 10\.0\.0\.0\/8/,
    );
    assert.match((await issues.locator('li[data-line="3"]').textContent()) ?? '', /not address\/prefix/);
    assert.equal(await editor.getAttribute('aria-invalid'), 'true');
    await browser.shot('security-03-allowlist-issues');

    // Fixed lines, but none holds the owner's own address: the server refuses, the editor says why.
    await editor.fill('192.168.0.0/16\n10.0.0.0/8');
    await network.getByRole('button', { name: 'Save allowlist' }).click();
    await network.getByTestId('allowlist-lockout').waitFor();
    assert.match((await network.getByTestId('allowlist-lockout').textContent()) ?? '', /127\.0\.0\.1/);
    assert.match((await network.getByTestId('workspace-list').textContent()) ?? '', /no further restriction/);
    await network.getByRole('button', { name: 'Add my address (127.0.0.1/32)' }).click();
    assert.equal(await editor.inputValue(), '192.168.0.0/16\n10.0.0.0/8\n127.0.0.1/32');
    await network.getByRole('button', { name: 'Save allowlist' }).click();
    await network.getByTestId('allowlist-saved').waitFor();
    assert.match((await network.getByTestId('allowlist-saved').textContent()) ?? '', /Saved: 3 block\(s\)/);
    assert.equal(await network.getByTestId('workspace-list').textContent(), '192.168.0.0/16, 10.0.0.0/8, 127.0.0.1/32');
    const stored = await app.server.database.db
      .selectFrom('workspace_network_allowlists')
      .select('cidrs')
      .where('workspace_id', '=', 'default')
      .executeTakeFirstOrThrow();
    const cidrs = typeof stored.cidrs === 'string' ? (JSON.parse(stored.cidrs) as unknown) : stored.cidrs;
    assert.deepEqual(cidrs, ['192.168.0.0/16', '10.0.0.0/8', '127.0.0.1/32']);
    await browser.shot('security-04-allowlist-saved');

    await network.getByRole('button', { name: 'Remove the restriction' }).click();
    await network.getByText('Saved: no restriction.').waitFor();
    assert.match((await network.getByTestId('workspace-list').textContent()) ?? '', /no further restriction/);
  });

  test('a viewer is told who may see the page', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.context().clearCookies();
    await signIn('sec-viewer@console.test', false);
    await page.getByText(/owners, admins and auditors/).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Security' }).count(), 0, 'no menu entry for a viewer');
  });
});
