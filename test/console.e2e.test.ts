/**
 * The web console end to end in real Chromium (Debian `chromium` + playwright-core) against the
 * real server (HTTPS, PGlite) and a real Azurite: sign-in with MFA enrolment and TOTP, the
 * Mount New Drive wizard (a wrong key shows DRIVE_AUTH_FAILED with its hint; the right one
 * passes and is added), a 50 MB upload with the progress bar reaching 100 % and a download whose
 * SHA-256 matches, a secret created, revealed after re-authentication and deleted, those actions
 * found on the Audit page, session expiry returning to the same page, and a viewer who sees no
 * admin action and gets a clear message on a deep link. No page may break the CSP.
 *
 * The server's clock is the test's clock plus `offset`: moving it forward gives fresh TOTP steps
 * (each code is single-use), makes the sign-in older than the re-authentication window, and ends
 * the session — without waiting.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import type { Page } from 'playwright-core';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { SCREENSHOTS, buildConsole, chromiumMissing, openBrowser, type BrowserSession } from './helpers/browser.ts';
import { GOOD_PASSWORD, createUser, createWorkspace, totpNow } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type AzuritePeer } from './peers/azurite/azurite.ts';

const OWNER = 'owner@console.test';
const VIEWER = 'viewer@console.test';
const FILE_BYTES = 50 * 1024 * 1024;
const SECRET_VALUE = `pw-${randomBytes(6).toString('hex')}`;

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

describe('console in Chromium', () => {
  let app: TestApp;
  let az: AzuritePeer;
  let browser: BrowserSession;
  let page: Page;
  let base: string;
  let skip = false;
  let offset = 0;
  let totpSecret = '';
  let work: string;
  const cspViolations: string[] = [];
  const now = () => Date.now() + offset;
  /** A code for a TOTP step no earlier code used (each step is burnt once used). */
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
    await rm(SCREENSHOTS, { recursive: true, force: true }); // this run's pictures only
    work = await mkdtemp(path.join(os.tmpdir(), 'sr-console-'));
    az = await startAzurite();
    await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('datasets').create();
    app = await startTestApp('pglite', { env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' }, now: () => new Date(now()) });
    const owner = await createUser(app, OWNER, { role: 'owner', displayName: 'Olive Owner' });
    // A second workspace where the same person is only an analyst (for the workspace switcher).
    await createWorkspace(app, 'lab');
    await app.server.database.db.insertInto('memberships').values({ workspace_id: 'lab', user_id: owner.id, role: 'analyst' }).execute();
    await createUser(app, VIEWER, { role: 'viewer', displayName: 'Vic Viewer' });
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
    await az?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the server serves the console: hashed assets cached for a year, index.html never, strict CSP, API 404s stay problem+json', async (t) => {
    if (skip) return t.skip('no chromium');
    const index = await app.req('/datasets', { headers: { accept: 'text/html' } });
    assert.equal(index.status, 200);
    assert.equal(index.headers['cache-control'], 'no-store');
    assert.match(index.body, /<div id="root"><\/div>/);
    assert.doesNotMatch(index.body, /<script>|<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    const csp = String(index.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /img-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|data:/);
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(index.body)?.[1];
    assert.ok(asset, 'index.html names its script under /assets/');
    const js = await app.req(asset);
    assert.equal(js.status, 200);
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    const missing = await app.req('/assets/nope-123.js');
    assert.equal(missing.status, 404);
    assert.match(String(missing.headers['content-type']), /problem\+json/);
    const api404 = await app.req('/api/v1/no-such-route', { headers: { accept: 'text/html' } });
    assert.equal(api404.status, 404);
    assert.match(String(api404.headers['content-type']), /problem\+json/);
    const traversal = await app.req('/assets/..%2f..%2fpackage.json');
    assert.notEqual(traversal.status, 200);
  });

  test('sign in on a deep link: MFA enrolment with a QR code, then back on the page asked for', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/drives`);
    await page.getByLabel('Email').waitFor();
    assert.equal(await page.getByText('Your session ended').count(), 0, 'a first visit is not told a session ended');
    await page.getByLabel('Email').fill(OWNER);
    await page.getByLabel('Password').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Start enrolment' }).click();
    await page.getByRole('img', { name: 'QR code of the authenticator secret' }).waitFor();
    totpSecret = (await page.getByTestId('totp-secret').textContent())!.trim();
    assert.match(totpSecret, /^[A-Z2-7]{16,}$/);
    await browser.shot('01-mfa-enrolment');
    await page.getByLabel('Code from the app').fill(freshCode());
    await page.getByRole('button', { name: 'Turn on MFA' }).click();
    const codes = await page.getByTestId('recovery-codes').textContent();
    assert.ok(codes && codes.length > 20, 'recovery codes are shown');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Data Store' }).waitFor();
    assert.match((await page.getByTestId('signed-in-as').textContent()) ?? '', /Signed in as owner@console\.test/);
    assert.equal(await page.getByLabel('Workspace').inputValue(), 'default');
    await browser.shot('02-data-store');
  });

  test('sign out, then sign in with password and TOTP', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Email').fill(OWNER);
    await page.getByLabel('Password').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Authentication code').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    assert.match((await page.getByTestId('problem').textContent()) ?? '', /code is not valid/i);
    await browser.shot('03-signin-bad-code');
    await page.getByLabel('Authentication code').fill(freshCode());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('signed-in-as').waitFor();
  });

  test('Mount New Drive wizard with Azurite: a wrong key is DRIVE_AUTH_FAILED with a hint; the right key passes and the drive is added', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.getByRole('link', { name: 'Data Store' }).click();
    await page.getByRole('link', { name: 'Mount New Drive' }).click();
    await page.getByRole('radio', { name: /Azure Blob Storage/ }).click();
    await page.getByLabel('Drive name').fill('azure-lake');
    await page.getByRole('button', { name: 'Next', exact: true }).click();
    await page.getByLabel('Container', { exact: true }).fill('datasets');
    await page.getByLabel('Blob service endpoint (optional)').fill(az.blobEndpoint);
    await page.getByLabel('Storage account name').fill(AZURITE_ACCOUNT);
    await page.getByLabel('Account key', { exact: true }).fill(Buffer.alloc(64, 9).toString('base64'));
    assert.equal(await page.getByLabel('Account key', { exact: true }).getAttribute('type'), 'password');
    await page.getByRole('button', { name: 'Next: test' }).click();
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    const diagnosis = page.getByTestId('diagnosis');
    await diagnosis.getByText('Test failed: DRIVE_AUTH_FAILED').waitFor();
    assert.match((await diagnosis.textContent()) ?? '', /Hint: /);
    assert.ok(await page.getByRole('button', { name: 'Add Drive' }).isDisabled(), 'Add Drive waits for a passing test');
    await browser.shot('04-mount-wrong-key');

    await page.getByRole('button', { name: 'Back to settings' }).click();
    await page.getByLabel('Account key', { exact: true }).fill(AZURITE_KEY);
    await page.getByRole('button', { name: 'Next: test' }).click();
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    await diagnosis.getByText('Test passed').waitFor();
    assert.ok((await diagnosis.locator('[data-status="pass"]').count()) >= 3, 'each passing step is listed');
    await browser.shot('05-mount-test-passed');
    await page.getByRole('button', { name: 'Add Drive' }).click();
    const row = page.getByTestId('drive-azure-lake');
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /Azure Blob Storage/);
    assert.doesNotMatch(await page.content(), new RegExp(AZURITE_KEY.slice(0, 20).replace(/[+/]/g, '.')), 'the key is never shown again');
    await browser.shot('06-drives-after-add');
  });

  let file = '';
  let expected = '';
  /** Slow the browser's uploads down (Chromium's own network emulation) so cancel and resume can be exercised. */
  const throttle = async (bytesPerSecond: number) => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond });
    return () => cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 }).then(() => cdp.detach());
  };
  const openUpload = async (dataset: string) => {
    await page.goto(`${base}/datasets`);
    await page.getByRole('button', { name: 'Upload', exact: true }).first().click();
    const panel = page.getByRole('region', { name: 'Upload a file' });
    await panel.getByLabel('Dataset name').fill(dataset);
    await panel.getByLabel('File to upload').setInputFiles(file);
    await panel.getByRole('button', { name: 'Upload', exact: true }).click();
    return panel;
  };
  const progressValue = async () => Number(await page.getByRole('progressbar', { name: 'Upload progress' }).getAttribute('value'));
  /** Poll the page from the test (waitForFunction would eval a string, which the console's CSP forbids). */
  const progressAbove = async (bytes: number) => {
    for (let i = 0; i < 600 && !((await progressValue()) > bytes); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok((await progressValue()) > bytes, `upload progress passed ${bytes} bytes`);
  };

  test('upload a 50 MB file to the Azure drive with the progress bar reaching 100 %, then download it with the same SHA-256', async (t) => {
    if (skip) return t.skip('no chromium');
    file = path.join(work, 'measurements.bin');
    const chunk = randomBytes(1024 * 1024);
    const parts: Buffer[] = [];
    for (let i = 0; i < FILE_BYTES / chunk.length; i++) parts.push(Buffer.concat([chunk.subarray(0, chunk.length - 4), Buffer.from(i.toString(16).padStart(4, '0'))]));
    await writeFile(file, Buffer.concat(parts));
    expected = await sha256File(file);

    await page.getByRole('link', { name: 'Datasets' }).click();
    await page.getByText('No datasets yet').waitFor();
    await browser.shot('07-datasets-empty');
    await page.getByRole('button', { name: 'Upload', exact: true }).first().click();
    const panel = page.getByRole('region', { name: 'Upload a file' });
    await page.getByLabel('Dataset name').fill('measurements');
    await page.getByLabel('Drive', { exact: true }).selectOption('azure-lake');
    await page.getByLabel('Tags (optional)').fill('lab, raw');
    await page.getByLabel('File to upload').setInputFiles(file);
    await panel.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByText('Version 1 of measurements is stored').waitFor({ timeout: 180_000 });
    const stats = (await page.getByTestId('upload-stats').textContent()) ?? '';
    assert.match(stats, /100 %/);
    assert.match(stats, /50\.0 MiB of 50\.0 MiB/);
    assert.match(stats, /resumable, in 7 parts/, 'a large file goes through an upload session in 8 MiB parts');
    const bar = page.getByRole('progressbar', { name: 'Upload progress' });
    assert.equal(await bar.getAttribute('value'), String(FILE_BYTES));
    assert.equal(await bar.getAttribute('max'), String(FILE_BYTES));
    await browser.shot('08-upload-done');

    await page.getByRole('link', { name: 'Open dataset' }).click();
    const row = page.getByTestId('version-1');
    await row.waitFor();
    assert.equal((await row.getByTestId('sha256').textContent())?.trim(), expected, 'the page shows the SHA-256 of the uploaded bytes');
    assert.match((await row.textContent()) ?? '', /azure-lake/);
    assert.match((await row.textContent()) ?? '', /by you \(owner@console\.test\)/);
    await browser.shot('09-dataset-page');
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: 'Download' }).click()]);
    const saved = await download.path();
    assert.equal(download.suggestedFilename(), 'measurements.bin');
    assert.equal(await sha256File(saved), expected, 'the downloaded bytes hash the same');

    await page.getByRole('link', { name: '← Datasets' }).click();
    await page.getByLabel('Tag').fill('raw');
    await page.getByRole('link', { name: 'measurements' }).waitFor();
    await page.getByLabel('Tag').fill('nope');
    await page.getByText('Nothing matches').waitFor();
    await page.getByLabel('Tag').fill('');
  });

  test('cancel stops an upload and leaves no version; an interrupted upload resumes when the same file is picked again', async (t) => {
    if (skip) return t.skip('no chromium');
    let unthrottle = await throttle(4 * 1024 * 1024);
    let panel = await openUpload('cancelled-upload');
    await panel.getByText(/ left/).waitFor();
    await progressAbove(0);
    await browser.shot('09b-upload-in-progress');
    await panel.getByRole('button', { name: 'Cancel upload' }).click();
    await panel.getByText('Upload cancelled').waitFor();
    await unthrottle();
    await page.goto(`${base}/datasets`);
    await page.getByRole('link', { name: 'measurements' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'cancelled-upload' }).count(), 0, 'a cancelled upload leaves no dataset');

    unthrottle = await throttle(6 * 1024 * 1024);
    panel = await openUpload('resumed-upload');
    // More than three parts' worth sent: at least one part is stored (three at most are in flight).
    await progressAbove(25 * 1024 * 1024);
    const before = await progressValue();
    await page.reload(); // the connection is gone mid-upload
    await unthrottle();
    panel = await openUpload('resumed-upload');
    await panel.getByText('Version 1 of resumed-upload is stored').waitFor({ timeout: 120_000 });
    assert.match((await page.getByTestId('upload-stats').textContent()) ?? '', /resumed where it stopped/);
    assert.ok(before > 0);
    await browser.shot('09c-upload-resumed');
    await page.getByRole('link', { name: 'Open dataset' }).click();
    assert.equal((await page.getByTestId('version-1').getByTestId('sha256').textContent())?.trim(), expected, 'the resumed upload stored the same bytes');
  });

  test('Vault: create a password secret, reveal it after re-authentication (audited, shown for a short time), delete it', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.getByRole('link', { name: 'Vault' }).click();
    // The drive added through the wizard keeps its credentials here (never shown).
    await page.getByRole('button', { name: 'credentials' }).click();
    await page.getByRole('heading', { name: 'drives/azure-lake/credentials' }).waitFor();
    assert.match((await page.getByText(/cloud-credential · version 1/).textContent()) ?? '', /cloud-credential/);
    await page.getByRole('button', { name: 'New secret' }).first().click();
    const form = page.getByRole('form', { name: 'New secret' });
    await form.getByLabel('Path').fill('team/warehouse/password');
    await form.getByLabel('Username (optional)').fill('etl');
    await form.getByLabel('Password', { exact: true }).fill(SECRET_VALUE);
    await form.getByLabel('Description (optional)').fill('Warehouse loader account');
    await form.getByRole('button', { name: 'Save secret' }).click();
    await page.getByRole('heading', { name: 'team/warehouse/password' }).waitFor();
    assert.ok(!(await page.content()).includes(SECRET_VALUE), 'the value is not on the page after saving');
    await browser.shot('10-vault-secret');

    offset += 6 * 60_000; // the sign-in is now older than the 5-minute re-authentication window
    await page.getByRole('button', { name: 'Reveal', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: "Confirm it's you" });
    await dialog.getByLabel('Your password').fill(GOOD_PASSWORD);
    await dialog.getByLabel('Authenticator code').fill(freshCode());
    await browser.shot('11-vault-reauth');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    const revealed = page.getByTestId('revealed');
    await revealed.waitFor();
    const text = (await revealed.textContent()) ?? '';
    assert.ok(text.includes(SECRET_VALUE), 'the revealed value is shown');
    assert.match(text, /recorded in the audit trail/);
    assert.match(text, /hidden again in \d+ s/);
    await browser.shot('12-vault-revealed');
    await page.getByRole('button', { name: 'Hide now' }).click();
    assert.ok(!(await page.content()).includes(SECRET_VALUE), 'hidden again');

    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('dialog', { name: 'Delete version 1?' }).getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByTestId('secret-version-1').getByText('deleted', { exact: true }).waitFor();
    assert.ok(await page.getByRole('button', { name: 'Reveal', exact: true }).isDisabled());
    await browser.shot('13-vault-deleted');
  });

  test("Audit: the secret's create, reveal and delete are found, with detail and a verified chain", async (t) => {
    if (skip) return t.skip('no chromium');
    await page.getByRole('link', { name: 'Audit' }).click();
    const integrity = page.getByTestId('integrity');
    await integrity.getByText(/Chain verified up to event \d+ at /).waitFor();
    await page.getByLabel('Action').fill('vault.secret');
    await page.getByRole('button', { name: 'Search' }).click();
    const table = page.getByRole('table', { name: 'Events' });
    await table.getByText('vault.secret.reveal').first().waitFor();
    const body = (await table.textContent()) ?? '';
    for (const action of ['vault.secret.create', 'vault.secret.reveal', 'vault.secret.delete']) assert.ok(body.includes(action), `${action} is listed`);
    assert.ok(body.includes('secret:team/warehouse/password'));
    assert.ok(!body.includes('dataset.version.create'), 'the action filter applies');
    await browser.shot('14-audit-search');
    await table.getByText('vault.secret.reveal').first().click();
    const detail = page.getByTestId('event-json');
    assert.match((await detail.textContent()) ?? '', /"action": "vault.secret.reveal"/);
    assert.ok(!((await detail.textContent()) ?? '').includes(SECRET_VALUE), 'no value in the audit trail');
    await browser.shot('15-audit-event');
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Verify now' }).click();
    await integrity.getByText(/Chain verified up to event \d+ at /).waitFor();
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
    const { readFile } = await import('node:fs/promises');
    assert.match(await readFile(await csv.path(), 'utf8'), /vault\.secret\.reveal/);
  });

  test('an ended session asks for sign-in and returns to the same page', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.getByRole('link', { name: 'Datasets' }).click();
    await page.getByRole('link', { name: 'measurements' }).click();
    await page.getByTestId('version-1').waitFor();
    offset += 2 * 3600_000; // past the idle timeout
    await page.getByRole('link', { name: 'Data Store' }).click();
    await page.getByText('Your session ended').waitFor();
    assert.ok(page.url().endsWith('/drives'));
    await browser.shot('16-session-ended');
    await page.getByLabel('Email').fill(OWNER);
    await page.getByLabel('Password').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Authentication code').fill(freshCode());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('drive-azure-lake').waitFor();
    assert.ok(page.url().endsWith('/drives'));
  });

  test('the workspace switcher changes workspace and, with it, the roles and the menu', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.getByLabel('Workspace').selectOption('lab');
    await page.getByText('Data Store is not available to you').waitFor();
    const nav = (await page.getByRole('navigation', { name: 'Main' }).textContent()) ?? '';
    assert.ok(nav.includes('Datasets') && !nav.includes('Users & roles') && !nav.includes('Vault'), 'an analyst in lab sees the data pages only');
    await page.getByRole('link', { name: 'Datasets' }).click();
    await page.getByText('No datasets yet').waitFor();
    assert.equal(await page.getByRole('link', { name: 'measurements' }).count(), 0, "default's datasets are not shown in lab");
    await browser.shot('16b-workspace-lab');
    await page.getByLabel('Workspace').selectOption('default');
    await page.getByRole('link', { name: 'measurements' }).waitFor();
  });

  test('keyboard first: the skip link and the menu are reachable with Tab; a narrow window does not scroll sideways', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/datasets`);
    await page.getByRole('link', { name: 'measurements' }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement && document.activeElement.textContent'), 'Skip to content');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.match(String(await page.evaluate('document.activeElement && document.activeElement.textContent')), /Data Store/);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Data Store' }).waitFor();
    await page.setViewportSize({ width: 420, height: 800 });
    for (const [where, name] of [['/datasets', 'narrow-datasets'], ['/drives', 'narrow-data-store'], ['/audit', 'narrow-audit']] as const) {
      await page.goto(`${base}${where}`);
      await page.getByRole('heading', { level: 1 }).waitFor();
      await browser.shot(`19-${name}`);
      assert.equal(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth + 1'), true, `${where} fits a narrow window`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('a viewer sees no admin action and gets a clear message on deep links to them', async (t) => {
    if (skip) return t.skip('no chromium');
    // The owner's tests are done: drop their session and sign in as the viewer in a new tab.
    await browser.context.clearCookies();
    const vp = await browser.context.newPage();
    vp.setDefaultTimeout(20_000);
    vp.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    await vp.goto(`${base}/users`);
    await vp.getByLabel('Email').fill(VIEWER);
    await vp.getByLabel('Password').fill(GOOD_PASSWORD);
    await vp.getByRole('button', { name: 'Sign in' }).click();
    await vp.getByText('Users & roles is not available to you').waitFor();
    assert.match((await vp.getByRole('alert').or(vp.getByRole('status')).first().textContent()) ?? '', /owners and admins/);
    const nav = (await vp.getByRole('navigation', { name: 'Main' }).textContent()) ?? '';
    for (const item of ['Users & roles', 'Audit', 'Data Store', 'Vault']) assert.ok(!nav.includes(item), `${item} is not in a viewer's menu`);
    assert.ok(nav.includes('Datasets'));
    await browser.shot('17-viewer-users-deep-link', vp);
    await vp.goto(`${base}/audit`);
    await vp.getByText('Audit is not available to you').waitFor();
    await vp.goto(`${base}/drives/new`);
    await vp.getByText('Mounting a drive is not available to you').waitFor();
    await vp.goto(`${base}/vault`);
    await vp.getByText('Vault is not available to you').waitFor();
    await vp.getByRole('link', { name: 'Datasets' }).click();
    await vp.getByRole('link', { name: 'measurements' }).waitFor();
    assert.equal(await vp.getByRole('button', { name: 'Upload' }).count(), 0, 'no upload for a viewer');
    await browser.shot('18-viewer-datasets', vp);
    await vp.close();
  });

  test('no page broke the Content Security Policy', (t) => {
    if (skip) return t.skip('no chromium');
    assert.deepEqual(cspViolations, []);
  });
});
