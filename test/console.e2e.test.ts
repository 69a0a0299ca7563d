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

/** The message a form shows at the field labelled `label` (client-side check or server issue). */
const fieldError = (p: Page, label: string) => p.locator(`[data-error-for="${label}"]`);

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
    app = await startTestApp('pglite', {
      env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
      now: () => new Date(now()),
    });
    const owner = await createUser(app, OWNER, { role: 'owner', displayName: 'Olive Owner' });
    // A second workspace where the same person is only an analyst (for the workspace switcher).
    await createWorkspace(app, 'lab');
    await app.server.database.db
      .insertInto('memberships')
      .values({ workspace_id: 'lab', user_id: owner.id, role: 'analyst' })
      .execute();
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

  test('sign-in: the browser check shows at the Email field and blocks sending; a refusal says why', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/drives`);
    await page.getByLabel('Email').fill('nope');
    await page.getByLabel('Password').fill('x');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await fieldError(page, 'Email').getByText('Enter an email address').waitFor();
    assert.equal(await page.getByLabel('Email').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByTestId('problem').count(), 0, 'the browser stopped the form: nothing was sent');
    await page.getByLabel('Email').fill('a@b'); // the browser accepts it; no such account
    assert.equal(await fieldError(page, 'Email').count(), 0, 'editing the field clears its message');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.match((await page.getByTestId('problem').textContent()) ?? '', /Incorrect email or password/);
    await browser.shot('00-signin-field-error');
  });

  test('sign in on a deep link: MFA enrolment with a QR code, then back on the page asked for', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/drives`);
    await page.getByLabel('Email').waitFor();
    assert.equal(await page.getByText('Your session ended').count(), 0, 'a first visit is not told a session ended');
    await page.getByLabel('Email').fill(OWNER);
    await page.getByLabel('Password').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.match(
      (await page.getByText(/Signed in as .* Not you\?/).textContent()) ?? '',
      /owner@console\.test/,
      'the enrolment screen says who is signed in, with a way out',
    );
    await page.getByRole('button', { name: 'Start enrolment' }).click();
    await page.getByRole('img', { name: 'QR code of the authenticator secret' }).waitFor();
    const shown = (await page.getByTestId('totp-secret').textContent())!.trim();
    assert.match(shown, /^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/, 'the secret is shown in groups of four');
    totpSecret = shown.replaceAll(' ', '');
    assert.match(totpSecret, /^[A-Z2-7]{16,}$/);
    await page.getByLabel('Code from the app').fill('12');
    await page.getByRole('button', { name: 'Turn on MFA' }).click();
    await fieldError(page, 'Code from the app').getByText('Enter the 6 digits').waitFor();
    await browser.shot('01-mfa-enrolment');
    await page.getByLabel('Code from the app').fill(freshCode());
    await page.getByRole('button', { name: 'Turn on MFA' }).click();
    const codes = (await page.getByTestId('recovery-codes').textContent()) ?? '';
    assert.ok(codes.length > 20, 'recovery codes are shown');
    assert.ok(
      await page.getByRole('button', { name: 'Continue' }).isDisabled(),
      'Continue waits for "I have saved them"',
    );
    const [saved] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download as a file' }).click(),
    ]);
    const { readFile } = await import('node:fs/promises');
    const file = await readFile(await saved.path(), 'utf8');
    const first = (await page.getByTestId('recovery-codes').locator('div').first().textContent())!;
    assert.ok(file.includes(first), 'the downloaded file holds the codes');
    assert.equal(saved.suggestedFilename(), 'strongroom-recovery-codes.txt');
    await browser.shot('01b-recovery-codes');
    await page.getByLabel('I have saved my recovery codes').check();
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
    // "Not you?" leaves the half-done sign-in and starts again.
    await page.getByLabel('Authentication code').waitFor();
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
    for (const radio of await page.getByRole('radio').all()) {
      assert.equal((await radio.locator('svg').first().boundingBox())?.width, 40, 'a provider logo keeps its size');
    }
    await page.getByRole('radio', { name: /Azure Blob Storage/ }).click();
    // The browser's own check runs (the pattern compiles under the `v` flag) and says why at the field.
    await page.getByLabel('Drive name').fill('Bad Name!');
    await page.getByRole('button', { name: 'Next', exact: true }).click();
    await fieldError(page, 'Drive name').getByText('1–63 characters of a–z, 0–9 and -').waitFor();
    assert.equal(
      await page
        .getByLabel('Drive name')
        .evaluate((el) => (el as unknown as { validity: { patternMismatch: boolean } }).validity.patternMismatch),
      true,
      'the pattern attribute is a valid expression and applies',
    );
    await browser.shot('03b-mount-name-invalid');
    await page.getByLabel('Drive name').fill('azure-lake');
    await page.getByRole('button', { name: 'Next', exact: true }).click();
    // An empty required field is caught by the browser; values the server refuses come back to their fields.
    await page.getByRole('button', { name: 'Next: test' }).click();
    await fieldError(page, 'Container').waitFor();
    await page.getByLabel('Container', { exact: true }).fill('Bad_Container');
    await page.getByLabel('Storage account name').fill('Bad Name');
    await page.getByLabel('Account key', { exact: true }).fill('abc');
    await page.getByRole('button', { name: 'Next: test' }).click();
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    await fieldError(page, 'Container').getByText('an Azure container name').waitFor();
    await fieldError(page, 'Storage account name').getByText('an Azure storage account name').waitFor();
    await browser.shot('03c-mount-server-issues');
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
    // Added: the drive's page says it is ready and offers the first upload.
    await page.getByText('Drive azure-lake is ready').waitFor();
    await page.getByRole('button', { name: 'Upload a dataset to this drive' }).waitFor();
    await page.getByRole('link', { name: 'Data Store' }).first().click();
    const row = page.getByTestId('drive-azure-lake');
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /Azure Blob Storage/);
    assert.doesNotMatch(
      await page.content(),
      new RegExp(AZURITE_KEY.slice(0, 20).replace(/[+/]/g, '.')),
      'the key is never shown again',
    );
    await browser.shot('06-drives-after-add');
  });

  let file = '';
  let expected = '';
  /** Slow the browser's uploads down (Chromium's own network emulation) so cancel and resume can be exercised. */
  const throttle = async (bytesPerSecond: number) => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: bytesPerSecond,
    });
    return () =>
      cdp
        .send('Network.emulateNetworkConditions', {
          offline: false,
          latency: 0,
          downloadThroughput: -1,
          uploadThroughput: -1,
        })
        .then(() => cdp.detach());
  };
  const openUpload = async (dataset: string) => {
    await page.goto(`${base}/datasets`);
    await page.getByRole('button', { name: 'Upload', exact: true }).first().click();
    const panel = page.getByRole('form', { name: 'Upload a file' });
    await panel.getByLabel('Dataset name').fill(dataset);
    await panel.getByLabel('File to upload').setInputFiles(file);
    await panel.getByRole('button', { name: 'Upload', exact: true }).click();
    return panel;
  };
  const progressValue = async () =>
    Number(await page.getByRole('progressbar', { name: 'Upload progress' }).getAttribute('value'));
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
    for (let i = 0; i < FILE_BYTES / chunk.length; i++)
      parts.push(Buffer.concat([chunk.subarray(0, chunk.length - 4), Buffer.from(i.toString(16).padStart(4, '0'))]));
    await writeFile(file, Buffer.concat(parts));
    expected = await sha256File(file);

    await page.getByRole('link', { name: 'Datasets' }).click();
    await page.getByText('No datasets yet').waitFor();
    await browser.shot('07-datasets-empty');
    await page.getByRole('button', { name: 'Upload', exact: true }).first().click();
    const panel = page.getByRole('form', { name: 'Upload a file' });
    await page.getByLabel('Dataset name').fill('measurements');
    await page.getByLabel('Drive', { exact: true }).selectOption('azure-lake');
    await page.getByLabel('Tags (optional)').fill('lab, raw');
    await page.getByLabel('File to upload').setInputFiles(file);
    await panel.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByText('Version 1 of measurements is stored').waitFor({ timeout: 180_000 });
    assert.ok(
      await panel.getByRole('button', { name: 'Upload', exact: true }).isDisabled(),
      'the Upload button resets: the stored file is not offered again',
    );
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
    assert.equal(
      (await row.getByTestId('sha256').textContent())?.trim(),
      expected,
      'the page shows the SHA-256 of the uploaded bytes',
    );
    assert.match((await row.textContent()) ?? '', /azure-lake/);
    assert.match((await row.textContent()) ?? '', /by you \(owner@console\.test\)/);
    await browser.shot('09-dataset-page');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.getByRole('button', { name: 'Download' }).click(),
    ]);
    const saved = await download.path();
    assert.equal(download.suggestedFilename(), 'measurements.bin');
    assert.equal(await sha256File(saved), expected, 'the downloaded bytes hash the same');

    await page.getByRole('link', { name: '← Datasets' }).click();
    await page.getByLabel('Tag', { exact: true }).fill('raw');
    await page.getByRole('link', { name: 'measurements' }).waitFor();
    await page.getByLabel('Tag', { exact: true }).fill('nope');
    await page.getByText('Nothing matches').waitFor();
    await page.getByLabel('Tag', { exact: true }).fill('');
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
    assert.equal(
      await page.getByRole('link', { name: 'cancelled-upload' }).count(),
      0,
      'a cancelled upload leaves no dataset',
    );

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
    assert.equal(
      (await page.getByTestId('version-1').getByTestId('sha256').textContent())?.trim(),
      expected,
      'the resumed upload stored the same bytes',
    );
  });

  test('upload form: the name comes from the file and is checked as typed; a tag says what it does; an identical file is pointed out; a refused download says why', async (t) => {
    if (skip) return t.skip('no chromium');
    const notes = path.join(work, 'Q3 Sales (final).csv');
    await writeFile(notes, 'region,amount\neu,1\nus,2\n');
    await page.goto(`${base}/datasets`);
    await page.getByRole('button', { name: 'Upload', exact: true }).first().click();
    const panel = page.getByRole('form', { name: 'Upload a file' });
    await panel.getByLabel('File to upload').setInputFiles(notes);
    assert.equal(
      await panel.getByLabel('Dataset name').inputValue(),
      'Q3-Sales-final',
      'the name is suggested from the file name',
    );
    for (const [bad, says] of [
      ['my data', 'No spaces'],
      ['daten-ä', '"ä" cannot be used'],
      ['x'.repeat(130), 'At most 128 characters: this name has 130'],
    ] as const) {
      await panel.getByLabel('Dataset name').fill(bad);
      await fieldError(page, 'Dataset name').getByText(says).waitFor();
    }
    await panel.getByRole('button', { name: 'Upload', exact: true }).click(); // the form refuses to send it
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await panel.getByText(/is stored/).count(), 0);
    assert.equal(await panel.getByTestId('problem').count(), 0, 'nothing reached the server');
    await browser.shot('09d-upload-name-check');
    await panel.getByLabel('Dataset name').fill('q3-sales');
    await panel.getByLabel('Tags (optional)').fill('finance, Bad Tag');
    await fieldError(page, 'Tags (optional)').getByText('Tag "bad tag"').waitFor();
    assert.equal(await panel.getByLabel('Tags (optional)').getAttribute('placeholder'), null, 'no tag is suggested');
    assert.doesNotMatch((await panel.textContent()) ?? '', /e\.g\. finance, pii/);
    await panel.getByLabel('Tags (optional)').fill('finance, pii');
    const warning = panel.getByText('The tag pii restricts downloads');
    await warning.waitFor();
    assert.match(
      (await panel.getByRole('status').filter({ hasText: 'restricts downloads' }).textContent()) ?? '',
      /clearance 2 or more.*You do not meet it/,
    );
    await browser.shot('09e-upload-pii-warning');
    await panel.getByRole('button', { name: 'Upload', exact: true }).click();
    await panel.getByText('Version 1 of q3-sales is stored').waitFor();
    // The same bytes again: pointed out before they are stored twice.
    await panel.getByLabel('File to upload').setInputFiles(notes);
    await panel.getByText('This file is identical to version 1').waitFor();
    await browser.shot('09f-upload-identical');
    await panel.getByRole('button', { name: 'Upload anyway' }).click();
    await panel.getByText('Version 2 of q3-sales is stored').waitFor();
    // pii needs a clearance nobody here has: the server refuses, and the page says so and why.
    await panel.getByRole('link', { name: 'Open dataset' }).click();
    await page.getByText('Downloads of this dataset are restricted').waitFor();
    await page.getByTestId('version-2').getByRole('button', { name: 'Download' }).click();
    const refusal = page.getByTestId('download-refused');
    await refusal.getByText('Version 2 could not be downloaded').waitFor();
    const said = (await refusal.textContent()) ?? '';
    assert.match(
      said,
      /Refused by rule abac\.pii-needs-clearance-and-mfa: .*needs clearance ≥ 2 and MFA/,
      'the server names the rule',
    );
    assert.match(said, /FORBIDDEN/);
    assert.match(said, /the tag pii allows only people with clearance 2 or more/);
    await browser.shot('09g-download-refused');
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
    // What the server refuses comes back to the field it is about.
    await form.getByLabel('Path').fill('team//password');
    await form.getByLabel('Username (optional)').fill('etl');
    await form.getByLabel('Password', { exact: true }).fill(SECRET_VALUE);
    await form.getByRole('button', { name: 'Save secret' }).click();
    await fieldError(page, 'Path').getByText('no empty segments').waitFor();
    await form.getByLabel('Path').fill('team/warehouse/password');
    await form.getByLabel('Rotate every (optional)').fill('soon');
    await form.getByRole('button', { name: 'Save secret' }).click();
    await fieldError(page, 'Rotate every (optional)').getByText('a duration like 90d').waitFor();
    await browser.shot('10a-vault-field-error');
    await form.getByLabel('Rotate every (optional)').fill('90d');
    await form.getByLabel('Description (optional)').fill('Warehouse loader account');
    await form.getByRole('button', { name: 'Save secret' }).click();
    await page.getByRole('heading', { name: 'team/warehouse/password' }).waitFor();
    // The path tree: a filter, and folders that fold (not the one holding the selected secret).
    await page.getByLabel('Filter paths').fill('warehouse');
    assert.equal(await page.getByRole('button', { name: 'credentials' }).count(), 0, 'the filter hides other paths');
    await page.getByLabel('Filter paths').fill('zzz');
    await page.getByText('No secret path contains “zzz”').waitFor();
    await page.getByLabel('Filter paths').fill('');
    const drivesFolder = page.getByRole('button', { name: 'drives/' });
    await drivesFolder.click();
    assert.equal(await drivesFolder.getAttribute('aria-expanded'), 'false');
    assert.equal(
      await page.getByRole('button', { name: 'credentials' }).count(),
      0,
      'a folded folder hides its secrets',
    );
    assert.ok(
      await page.getByRole('button', { name: 'team/' }).isDisabled(),
      "the selected secret's folder stays open",
    );
    await drivesFolder.click();
    await page.getByRole('button', { name: 'credentials' }).waitFor();
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
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await revealed.getByRole('button', { name: 'Copy password' }).click();
    await revealed.getByRole('button', { name: 'Copy password' }).getByText('Copied').waitFor();
    assert.equal(
      await page.evaluate('navigator.clipboard.readText()'),
      SECRET_VALUE,
      'the copy button put the value on the clipboard',
    );
    // A new version starts from the non-secret fields of the revealed one; the password stays empty.
    await page.getByRole('button', { name: 'New version' }).click();
    const next = page.getByRole('form', { name: 'New version' });
    assert.equal(await next.getByLabel('Username (optional)').inputValue(), 'etl');
    assert.equal(await next.getByLabel('Password', { exact: true }).inputValue(), '');
    assert.equal(await next.getByLabel('Description (optional)').inputValue(), 'Warehouse loader account');
    assert.equal(await next.getByLabel('Rotate every (optional)').inputValue(), '90d');
    await browser.shot('12b-vault-new-version-prefilled');
    await next.getByRole('button', { name: 'Cancel' }).click();
    await page.evaluate('navigator.clipboard.writeText("")');
    await page.getByRole('button', { name: 'Hide now' }).click();
    assert.ok(!(await page.content()).includes(SECRET_VALUE), 'hidden again');

    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page
      .getByRole('dialog', { name: 'Delete version 1?' })
      .getByRole('button', { name: 'Delete', exact: true })
      .click();
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
    for (const action of ['vault.secret.create', 'vault.secret.reveal', 'vault.secret.delete'])
      assert.ok(body.includes(action), `${action} is listed`);
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
    const [csv] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Export CSV' }).click(),
    ]);
    const { readFile } = await import('node:fs/promises');
    assert.match(await readFile(await csv.path(), 'utf8'), /vault\.secret\.reveal/);
  });

  test('Users: a refused password shows at its field and a role change is confirmed first; Tokens: a bad scope shows at its field, the new token can be copied', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.getByRole('link', { name: 'Users & roles' }).click();
    await page.getByRole('button', { name: 'Create user' }).first().click();
    const form = page.getByRole('form', { name: 'Create user' });
    await form.getByLabel('Email').fill('nina@console.test');
    await form.getByLabel('Name').fill('Nina New');
    await form.getByLabel('First password').fill('short');
    await form.getByRole('button', { name: 'Create user' }).click();
    await fieldError(page, 'First password').getByText('at least 15 characters').waitFor();
    await browser.shot('16c-users-field-error');
    await form.getByLabel('First password').fill(GOOD_PASSWORD);
    await form.getByRole('button', { name: 'Create user' }).click();
    const role = page.getByLabel('Role of nina@console.test');
    await role.waitFor();
    assert.equal(await role.inputValue(), 'engineer');
    await role.selectOption('analyst');
    const confirm = page.getByRole('dialog', { name: 'Make nina@console.test analyst?' });
    await confirm.waitFor();
    assert.match((await confirm.textContent()) ?? '', /is now engineer/);
    await browser.shot('16d-users-confirm-role');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await role.inputValue(), 'engineer', 'cancelling changes nothing');
    await role.selectOption('analyst');
    await confirm.getByRole('button', { name: 'Change role' }).click();
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    for (let i = 0; i < 50 && (await role.inputValue()) !== 'analyst'; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(await role.inputValue(), 'analyst');

    await page.getByRole('link', { name: 'Your account' }).click();
    const tokens = page.getByRole('form', { name: 'New API token' });
    await tokens.getByLabel('Name').fill('ci');
    await tokens.getByLabel('Scopes').fill('bad scope!');
    await tokens.getByRole('button', { name: 'Create token' }).click();
    await fieldError(page, 'Scopes').getByText('an action name').waitFor();
    await browser.shot('16e-token-field-error');
    await tokens.getByLabel('Scopes').fill('dataset.*');
    await tokens.getByRole('button', { name: 'Create token' }).click();
    const reauth = page.getByRole('dialog', { name: "Confirm it's you" });
    await reauth.or(page.getByTestId('new-token')).first().waitFor();
    if (await reauth.isVisible()) {
      await reauth.getByLabel('Your password').fill(GOOD_PASSWORD);
      await reauth.getByLabel('Authenticator code').fill(freshCode());
      await reauth.getByRole('button', { name: 'Confirm' }).click();
    }
    const token = (await page.getByTestId('new-token').textContent())!.trim();
    await page.getByRole('button', { name: 'Copy the token' }).click();
    await page.getByRole('button', { name: 'Copy the token' }).getByText('Copied').waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), token);
    await page.evaluate('navigator.clipboard.writeText("")');
  });

  test('an address the console does not know shows its "No such page"', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/drives/nope/extra`);
    await page.getByTestId('no-such-page').getByText('No such page').waitFor();
    assert.match((await page.getByTestId('no-such-page').textContent()) ?? '', /\/drives\/nope\/extra/);
    await page.goto(`${base}/datasets`);
    await page.getByRole('heading', { name: 'Datasets' }).waitFor();
    // A client-side move to an unknown page (the server's own answer for /settings is its business).
    await page.evaluate("history.pushState(null, '', '/settings'); dispatchEvent(new PopStateEvent('popstate'))");
    await page.getByTestId('no-such-page').waitFor();
    await browser.shot('16f-no-such-page');
    await page.getByRole('link', { name: 'Go to Datasets' }).click();
    await page.getByRole('heading', { name: 'Datasets' }).waitFor();
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
    assert.ok(
      nav.includes('Datasets') && !nav.includes('Users & roles') && !nav.includes('Vault'),
      'an analyst in lab sees the data pages only',
    );
    await page.getByRole('link', { name: 'Datasets' }).click();
    await page.getByText('No datasets yet').waitFor();
    assert.equal(
      await page.getByRole('link', { name: 'measurements' }).count(),
      0,
      "default's datasets are not shown in lab",
    );
    await browser.shot('16b-workspace-lab');
    await page.getByLabel('Workspace').selectOption('default');
    await page.getByRole('link', { name: 'measurements' }).waitFor();
  });

  test('keyboard first: the skip link and the menu are reachable with Tab; a narrow window does not scroll sideways', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/datasets`);
    await page.getByRole('link', { name: 'measurements' }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(
      await page.evaluate('document.activeElement && document.activeElement.textContent'),
      'Skip to content',
    );
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.match(
      String(await page.evaluate('document.activeElement && document.activeElement.textContent')),
      /Data Store/,
    );
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Data Store' }).waitFor();
    await page.setViewportSize({ width: 420, height: 800 });
    const pages = [
      ['/datasets', 'narrow-datasets', undefined],
      ['/drives', 'narrow-data-store', undefined],
      ['/audit', 'narrow-audit', undefined],
      [
        '/datasets/measurements',
        'narrow-dataset',
        () => page.getByTestId('version-1').getByRole('button', { name: 'Download' }),
      ],
      [
        '/vault?path=team%2Fwarehouse%2Fpassword',
        'narrow-vault',
        () => page.getByRole('button', { name: 'New version' }),
      ],
      ['/drives/new', 'narrow-mount', () => page.getByRole('radio', { name: /Google Cloud Storage/ })],
    ] as const;
    for (const [where, name, action] of pages) {
      await page.goto(`${base}${where}`);
      await page.getByRole('heading', { level: 1 }).waitFor();
      if (action) await action().waitFor();
      await browser.shot(`19-${name}`);
      assert.equal(
        await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth + 1'),
        true,
        `${where} fits a narrow window`,
      );
      // No table scrolls sideways inside its box either: every action is reachable.
      assert.equal(
        await page.evaluate(
          '[...document.querySelectorAll("table")].every((t) => t.parentElement.scrollWidth <= t.parentElement.clientWidth + 1)',
        ),
        true,
        `${where}: no table wider than its box`,
      );
      if (action) {
        const box = await action().boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= 420, `${where}: the action is inside the window`);
      }
    }
    for (const radio of await page.getByRole('radio').all())
      assert.equal((await radio.locator('svg').first().boundingBox())?.width, 40, 'logos keep their size at 420 px');
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
    assert.match(
      (await vp.getByRole('alert').or(vp.getByRole('status')).first().textContent()) ?? '',
      /owners and admins/,
    );
    const nav = (await vp.getByRole('navigation', { name: 'Main' }).textContent()) ?? '';
    for (const item of ['Users & roles', 'Audit', 'Data Store', 'Vault'])
      assert.ok(!nav.includes(item), `${item} is not in a viewer's menu`);
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
    await vp.getByRole('link', { name: 'measurements' }).click();
    const row = vp.getByTestId('version-1');
    await row.waitFor();
    for (const action of ['Download', 'Delete', 'Upload new version'])
      assert.equal(await vp.getByRole('button', { name: action }).count(), 0, `no ${action} for a viewer`);
    assert.equal(await vp.getByRole('link', { name: 'Download' }).count(), 0);
    const uploaded = (await row.textContent()) ?? '';
    assert.match(uploaded, /by Olive Owner \(owner@console\.test\)/, 'the uploader by name, for a viewer too');
    assert.doesNotMatch(uploaded, /user [0-9a-f]{8}/, 'no id fragment for a person');
    await browser.shot('18b-viewer-dataset', vp);
    await vp.close();
  });

  test('no page broke the Content Security Policy', (t) => {
    if (skip) return t.skip('no chromium');
    assert.deepEqual(cspViolations, []);
  });
});
