/**
 * Issue 15 in the console, in real Chromium against the real server (HTTPS, PGlite) and a real
 * s3rver drive: tags edited on the dataset page (a restricting tag says what it does first); a
 * new version stays on the dataset's drive, the form names it and warns on a change; deleting a
 * version asks for confirmation and a fresh sign-in, deleting the whole dataset too; the audit
 * export of more than 1000 events is one `.jsonl` file holding every one of them, the person
 * filter takes an email and "hide reads" hides reads; a drive page shows it is ready after Add
 * Drive, its usage, health history and a default-drive switch; removing a drive in use names the
 * datasets; the Mount New Drive wizard reports a name that does not resolve as such; the vault
 * shows each certificate version's subject, expiry and fingerprint, a "due" view, and after the
 * current version is deleted points to the live one with a rollback.
 *
 * The owner signs in through the API (MFA enrolled) and the session cookie is handed to the
 * browser; the console picks up its CSRF token from /auth/me.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { generateSelfSigned } from '../src/installation/tls.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { buildConsole, chromiumMissing, openBrowser, type BrowserSession } from './helpers/browser.ts';
import { GOOD_PASSWORD, jsonBody, ownerSession, totpNow, type Session } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3Peer } from './peers/s3/s3rver.ts';

const EMAIL = 'data-owner@console.test';
const WS = '/api/v1/workspaces/default';
const BULK = 1100;

describe('console data pages in Chromium', () => {
  let app: TestApp;
  let s3: S3Peer;
  let browser: BrowserSession;
  let page: Page;
  let base: string;
  let owner: Session;
  let ownerId: string;
  let secret: string;
  let work: string;
  let skip = false;

  const put = (name: string, body: string, query = '') =>
    owner.req(`${WS}/datasets/${name}/versions${query}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });

  before(async (t) => {
    if (!requirePeer(t as never, 'chromium', chromiumMissing() === undefined, chromiumMissing() ?? '')) {
      skip = true;
      return;
    }
    buildConsole();
    work = await mkdtemp(path.join(os.tmpdir(), 'sr-console-data-'));
    s3 = await startS3rver(['lake']);
    app = await startTestApp('pglite', {
      env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
    });
    const o = await ownerSession(app, EMAIL);
    owner = o.session;
    ownerId = o.user.id;
    secret = o.secret;
    const added = await owner.req(
      `${WS}/drives`,
      jsonBody({
        name: 'lake',
        kind: 's3',
        config: { bucket: 'lake', endpoint: s3.endpoint, pathStyle: true },
        credentials: { provider: 's3', ...S3RVER_CREDENTIALS },
      }),
    );
    assert.equal(added.status, 201, added.body);
    assert.equal((await put('sales', 'region,amount\neu,1\n', '?drive=lake&tag=finance')).status, 201);
    assert.equal((await put('keep', 'a\n1\n', '?drive=lake')).status, 201);
    for (let start = 0; start < BULK; start += 200)
      await Promise.all(
        Array.from({ length: Math.min(200, BULK - start) }, (_, k) =>
          app.server.audit.recordCommitted({
            actor: { id: ownerId, kind: 'user' },
            action: 'dataset.dataset.read',
            resource: { type: 'dataset', id: `bulk-${start + k}`, workspace: 'default' },
            outcome: 'success',
            details: { bulk: start + k },
          }),
        ),
      );
    base = `https://127.0.0.1:${app.server.httpsPort}`;
    browser = await openBrowser();
    page = browser.page;
    page.setDefaultTimeout(20_000);
    await browser.context.addCookies([
      { name: '__Host-sr_session', value: owner.id, url: base, secure: true, httpOnly: true, sameSite: 'Strict' },
    ]);
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    await s3?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('tags are edited on the dataset page; a restricting tag says what it does before it is saved', async (t) => {
    if (skip) return t.skip('no chromium');
    // A data policy on a tag: adding the tag names the policy that starts to apply.
    const policy = await owner.req(
      `${WS}/data-policies/q3-viewers`,
      jsonBody({ policy: { target: { tag: 'q3' }, when: { roles: ['viewer'] }, hide: ['amount'] } }, 'PUT'),
    );
    assert.equal(policy.status, 201, policy.body);
    await page.goto(`${base}/datasets/sales`);
    await page.getByRole('button', { name: 'Edit tags' }).click();
    const form = page.getByRole('form', { name: 'Dataset settings' });
    assert.equal(await form.getByLabel('Tags').inputValue(), 'finance');
    await form.getByLabel('Tags').fill('finance, pii');
    await form.getByText('The tag pii restricts downloads').waitFor();
    assert.match((await form.textContent()) ?? '', /You do not meet it: you could not download this dataset/);
    await browser.shot('30-dataset-edit-pii-warning');
    await form.getByLabel('Tags').fill('finance, q3');
    assert.equal(await form.getByTestId('tag-policies-added').textContent(), 'q3-viewers (tag q3)');
    await form.getByLabel('Description').fill('Sales by region');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Sales by region').waitFor();
    const detail = (await owner.req(`${WS}/datasets/sales`)).json<{ tags: string[]; description: string }>();
    assert.deepEqual(detail.tags, ['finance', 'q3']);
    assert.equal(detail.description, 'Sales by region');
    // Removing the tag again names the policy it lifts.
    await page.getByRole('button', { name: 'Edit tags' }).click();
    await form.getByLabel('Tags').fill('finance');
    assert.equal(await form.getByTestId('tag-policies-lifted').textContent(), 'q3-viewers (tag q3)');
    await form.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await owner.req(`${WS}/data-policies/q3-viewers`, { method: 'DELETE' })).status, 204);
  });

  test('a new version stays on the dataset drive: the form names it and warns on a change', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/datasets/sales`);
    await page.getByRole('button', { name: 'Upload new version' }).click();
    const panel = page.getByRole('form', { name: 'Upload a file' });
    const drive = panel.getByLabel('Drive', { exact: true });
    assert.equal(await drive.locator('option:checked').textContent(), "lake (this dataset's drive)");
    assert.equal(await panel.getByLabel('Tags (optional)').count(), 0, 'no tag field that would be ignored');
    await panel.getByTestId('tags-elsewhere').waitFor();
    await drive.selectOption('default');
    await panel.getByText('This version goes to another drive').waitFor();
    await browser.shot('31-new-version-drive-change');
    await drive.selectOption('');
    assert.equal(await panel.getByText('This version goes to another drive').count(), 0);
    const file = path.join(work, 'sales-v2.csv');
    await writeFile(file, 'region,amount\neu,1\nus,2\n');
    await panel.getByLabel('File to upload').setInputFiles(file);
    await panel.getByRole('button', { name: 'Upload', exact: true }).click();
    await panel.getByText('Version 2 of sales is stored').waitFor();
    assert.match((await panel.textContent()) ?? '', /on drive lake/);
    await page.getByTestId('version-2').getByText('lake').waitFor();
  });

  test('the audit export is one .jsonl file with every event of the search; person and hide-reads filters', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/audit`);
    await page.getByLabel('Person').fill(EMAIL);
    await page.getByLabel('Category').selectOption('dataset.');
    await page.getByRole('button', { name: 'Search' }).click();
    const table = page.getByRole('table', { name: 'Events' });
    await table.getByText('dataset.dataset.read').first().waitFor();
    assert.ok(!((await table.textContent()) ?? '').includes('drive.drive'), 'the category applies');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Export JSON lines' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'audit-events-default.jsonl');
    const lines = (await readFile(await download.path(), 'utf8')).trim().split('\n');
    const bulk = new Set(lines.map((l) => (JSON.parse(l) as { details: { bulk?: number } }).details.bulk));
    for (let i = 0; i < BULK; i++) assert.ok(bulk.has(i), `event ${i} is in the export`);
    assert.ok(lines.length > 1000);
    const actors = new Set(lines.map((l) => (JSON.parse(l) as { actor: { id: string } }).actor.id));
    assert.deepEqual([...actors], [ownerId], 'the person filter (an email) applies to the export');

    await page.getByLabel('Hide reads (show changes, refusals and failures)').check();
    await page.getByRole('button', { name: 'Search' }).click();
    await table.getByText('dataset.version.create').first().waitFor();
    assert.ok(!((await table.textContent()) ?? '').includes('dataset.dataset.read'), 'no reads listed');
    await page.getByLabel('Person').fill('nobody-here@console.test');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('[data-error-for="Person"]').getByText('No member of this workspace').waitFor();
    await browser.shot('32-audit-filters');
  });

  test('drive page: ready after Add Drive, usage with datasets, health history, default switch; removal names datasets', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/drives/lake?added=1`);
    await page.getByText('Drive lake is ready').waitFor();
    await page.getByRole('button', { name: 'Upload a dataset to this drive' }).waitFor();
    const usage = page.getByTestId('drive-usage');
    await usage.getByText(/3 versions/).waitFor();
    const usageSection = page.getByRole('region', { name: 'Usage' });
    await usageSection.getByRole('link', { name: 'keep' }).waitFor();
    await usageSection.getByRole('link', { name: 'sales' }).waitFor();
    const settings = (await page.getByTestId('drive-settings').textContent()) ?? '';
    assert.match(settings, /drives\/lake\/credentials/);
    assert.ok(!settings.includes(S3RVER_CREDENTIALS.secretAccessKey + '"'), 'no secret shown');
    await page.getByRole('button', { name: 'Test now' }).click();
    await page.getByTestId('diagnosis').getByText('Test passed').waitFor();
    const history = page.getByRole('table', { name: 'Health history' });
    await history.locator('tbody tr').nth(1).waitFor();
    await browser.shot('33-drive-page');
    await page.getByRole('button', { name: 'Make default drive' }).click();
    await page.getByText('default drive', { exact: true }).waitFor();
    const drives = (await owner.req(`${WS}/drives`)).json<{ drives: { name: string; isDefault: boolean }[] }>();
    assert.deepEqual(
      drives.drives.filter((d) => d.isDefault).map((d) => d.name),
      ['lake'],
    );
    assert.equal((await owner.req(`${WS}/default-drive`, jsonBody({ drive: 'default' }, 'PUT'))).status, 200);

    await page.goto(`${base}/drives`);
    await page.getByTestId('drive-lake').getByRole('button', { name: 'Remove' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove drive lake?' });
    await dialog.getByRole('button', { name: 'Remove drive' }).click();
    await dialog.getByText(/keep, sales/).waitFor();
    await browser.shot('34-drive-remove-in-use');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  test('the wizard reports a name that does not resolve as such', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/drives/new`);
    await page.getByRole('radio', { name: /Amazon S3/ }).click();
    await page.getByLabel('Drive name').fill('typo');
    await page.getByRole('button', { name: 'Next', exact: true }).click();
    await page.getByLabel('Bucket', { exact: true }).fill('lake');
    await page.getByLabel(/^Endpoint URL/).fill('http://no-such-bucket-host.invalid:9000');
    await page.getByLabel('Access key ID').fill('AKIAEXAMPLE');
    await page.getByLabel('Secret access key').fill('not-a-real-secret');
    await page.getByRole('button', { name: 'Next: test' }).click();
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    const diagnosis = page.getByTestId('diagnosis');
    await diagnosis.getByText('cannot resolve no-such-bucket-host.invalid').waitFor();
    assert.match((await diagnosis.textContent()) ?? '', /spelling of the host name/);
    assert.doesNotMatch((await diagnosis.textContent()) ?? '', /rejected the credentials/);
    await browser.shot('35-wizard-dns');
  });

  test('the wizard takes a GCS key from a file or a masked field, never shown in the clear', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/drives/new`);
    await page.getByRole('radio', { name: /Google Cloud Storage/ }).click();
    await page.getByLabel('Drive name').fill('gcs-key');
    await page.getByRole('button', { name: 'Next', exact: true }).click();
    const field = page.getByLabel('Key file (JSON)');
    assert.equal(await field.getAttribute('type'), 'password', 'a masked field, not a plain textarea');
    assert.equal(await page.locator('textarea').count(), 0);
    const keyFile = path.join(work, 'sa-key.json');
    const key = { type: 'service_account', client_email: 'loader@proj.iam.gserviceaccount.com', private_key: 'KEY' };
    await writeFile(keyFile, JSON.stringify(key));
    await page.getByLabel('Key file', { exact: true }).setInputFiles(keyFile);
    await page.getByTestId('key-file-state').getByText('sa-key.json loaded — service account loader@proj').waitFor();
    assert.equal(JSON.parse(await field.inputValue()).client_email, key.client_email, 'the file fills the field');
    assert.ok(!(await page.locator('body').innerText()).includes('private_key'), 'the key is not shown');
    await browser.shot('35b-wizard-gcs-key');
  });

  test('vault: certificate facts per version, the due view, a pointer to the live version and a rollback', async (t) => {
    if (skip) return t.skip('no chromium');
    const soon = new Date(Date.now() + 86_400_000).toISOString();
    for (let i = 0; i < 2; i++) {
      const { cert } = await generateSelfSigned();
      const res = await owner.req(
        `${WS}/secrets/data/tls/site`,
        jsonBody(
          {
            type: 'certificate',
            value: { certificate: cert },
            ...(i === 0 ? { metadata: { description: 'site certificate', expiresAt: soon } } : {}),
          },
          'PUT',
        ),
      );
      assert.equal(res.status, i === 0 ? 201 : 200, res.body);
    }
    await page.goto(`${base}/vault`);
    await page.getByRole('button', { name: 'Due', exact: true }).click();
    const due = page.getByTestId('secrets-due');
    await due.getByRole('link', { name: 'tls/site' }).waitFor();
    assert.match((await due.textContent()) ?? '', /expires soon/);
    await due.getByRole('link', { name: 'tls/site' }).click();
    const facts = page.getByTestId('certificate-2');
    await facts.waitFor();
    assert.match((await facts.textContent()) ?? '', /subject .*expires .*SHA-256 [0-9A-F:]{95}/i);
    await page.getByTestId('certificate-1').waitFor();
    await browser.shot('37-vault-certificate-due');

    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('dialog', { name: 'Delete version 2?' }).getByRole('button', { name: 'Delete' }).click();
    const pointer = page.getByText('The current version 2 is deleted');
    await pointer.waitFor();
    assert.match((await page.getByRole('status').filter({ hasText: 'is deleted' }).textContent()) ?? '', /v1/);
    await page.getByRole('button', { name: 'Roll back to v1' }).click();
    await page
      .getByRole('dialog', { name: 'Roll back to version 1?' })
      .getByRole('button', { name: 'Roll back' })
      .click();
    await page.getByTestId('secret-version-3').waitFor();
    await pointer.waitFor({ state: 'detached' });
    const meta = (await owner.req(`${WS}/secrets/metadata/tls/site`)).json<{ currentVersion: number }>();
    assert.equal(meta.currentVersion, 3);
    await browser.shot('38-vault-rolled-back');
  });

  test('deleting a version, then the dataset: confirmation, then a fresh sign-in', async (t) => {
    if (skip) return t.skip('no chromium');
    await app.server.database.db
      .updateTable('sessions')
      .set({ authenticated_at: new Date(Date.now() - 3600_000) })
      .execute();
    await page.goto(`${base}/datasets/sales`);
    await page.getByTestId('version-1').getByRole('button', { name: 'Delete', exact: true }).click();
    await page
      .getByRole('dialog', { name: 'Delete version 1?' })
      .getByRole('button', { name: 'Delete version' })
      .click();
    const reauth = page.getByRole('dialog', { name: "Confirm it's you" });
    await reauth.getByLabel('Your password').fill(GOOD_PASSWORD);
    await reauth.getByLabel('Authenticator code').fill(totpNow(secret, Date.now() + 30_000));
    await browser.shot('36-version-delete-reauth');
    await reauth.getByRole('button', { name: 'Confirm' }).click();
    await page.getByTestId('version-1').waitFor({ state: 'detached' });
    await page.getByTestId('version-2').waitFor();

    await page.getByRole('button', { name: 'Delete dataset' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete dataset sales?' });
    assert.match((await confirm.textContent()) ?? '', /All 1 version and their encrypted objects/);
    await confirm.getByRole('button', { name: 'Delete dataset' }).click();
    await page.waitForURL(`${base}/datasets`);
    assert.equal((await owner.req(`${WS}/datasets/sales`)).status, 404);
  });
});
