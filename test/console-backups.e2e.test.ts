/**
 * Settings → Backups and Settings → Retention in real Chromium against the real server (PGlite,
 * local drive target): an owner signs in, gives the operator token (held in the page's memory),
 * sees the status and targets, backs up now and follows it to complete, runs the restore drill,
 * reads restore instructions naming the new backup; on Retention edits the audit class, reads the
 * preview (cut-off date, a terminated workspace's new purge date) and saves it (the server has it,
 * audited). Forgetting the token hides the data. No CSP violation. Screenshots go to
 * test-output/console/backups-*.png.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { buildConsole, chromiumMissing, openBrowser, type BrowserSession } from './helpers/browser.ts';
import { GOOD_PASSWORD, createWorkspace, jsonBody, ownerSession, totpNow } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';

const OWNER = 'backup-owner@corp.test';

describe('backups and retention in the console (Chromium)', () => {
  let app: TestApp;
  let browser: BrowserSession | undefined;
  let skip = false;
  let ownerSecret = '';
  let offset = 0;
  const csp: string[] = [];

  before(async (t) => {
    if (!requirePeer(t as never, 'chromium', chromiumMissing() === undefined, chromiumMissing() ?? '')) {
      skip = true;
      return;
    }
    buildConsole();
    app = await startTestApp('pglite', { now: () => new Date(Date.now() + offset) });
    ownerSecret = (await ownerSession(app, OWNER)).secret;
    await createWorkspace(app, 'winding-down');
    await app.server.drives.ensureDefaults();
    const target = await app.asOperator(
      '/api/v1/backups/targets',
      jsonBody({ name: 'local', workspace: 'default', drive: 'default', prefix: 'bk' }),
    );
    assert.equal(target.status, 201, target.body);
    const term = await app.asOperator('/api/v1/retention/terminations', jsonBody({ workspace: 'winding-down' }));
    assert.ok(term.status === 200 || term.status === 201, term.body);
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('an owner with the operator token backs up, drills, reads how to restore, and edits retention with a preview', async (t) => {
    if (skip) return t.skip('no chromium');
    browser = await openBrowser();
    const page = browser.page;
    page.setDefaultTimeout(60_000);
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
    });
    await page.goto(`${app.base}/backups`);
    await page.getByLabel('Email').fill(OWNER);
    await page.getByLabel('Password').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    offset += 60_000;
    await page.getByLabel('Authentication code').fill(totpNow(ownerSecret, Date.now() + offset));
    await page.getByRole('button', { name: 'Verify' }).click();
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Backups' }).waitFor();
    assert.equal(await nav.getByRole('link', { name: 'Retention' }).count(), 1);

    // The page asks for the operator token first; a wrong one is a clear problem, not a blank page.
    const tokenForm = page.getByRole('form', { name: 'Operator token' });
    await tokenForm.getByLabel('Operator token').fill('sro_not-the-token');
    await tokenForm.getByRole('button', { name: 'Use token' }).click();
    await page.getByRole('alert').first().waitFor();
    await page.getByRole('button', { name: 'Use another token' }).click();
    await tokenForm.getByLabel('Operator token').fill(app.operatorToken);
    await tokenForm.getByRole('button', { name: 'Use token' }).click();
    const status = page.getByRole('region', { name: 'Backup status' });
    await status.getByText('stale', { exact: true }).waitFor();
    assert.match((await status.textContent()) ?? '', /local.*default \/ default.*bk/s);
    assert.match((await status.textContent()) ?? '', /Recovery key: not exported/);
    await browser.shot('backups-01-empty');

    // The target's "Copy dataset objects" switch (off by default): turned on, saved and audited.
    const copySwitch = status.getByRole('checkbox', { name: 'Copy dataset objects' });
    assert.equal(await copySwitch.isChecked(), false);
    await copySwitch.click();
    await status.getByText('Each backup also copies new and changed dataset ciphertext here.').waitFor();
    assert.equal(await copySwitch.isChecked(), true);
    const savedTargets = (await app.asOperator('/api/v1/backups/targets')).json<{
      targets: { copyObjects: boolean }[];
    }>();
    assert.deepEqual(
      savedTargets.targets.map((x) => x.copyObjects),
      [true],
    );
    await expectAudit(app, { action: 'backups.target.update', outcome: 'success', actorId: 'operator' });

    // Back up now: the page follows it to complete.
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.getByText('Backup complete').waitFor();
    const row = page.getByTestId('backup-row').first();
    await row.getByText('complete', { exact: true }).waitFor();
    const id = ((await row.locator('code').first().textContent()) ?? '').trim();
    assert.match(id, /^bk-\d{8}t\d{6}z-[0-9a-f]{8}$/);
    assert.match((await row.textContent()) ?? '', /on-demand|manual|api/);
    assert.match((await row.textContent()) ?? '', /objects: \d+ copied/, 'what the object copy did');
    await expectAudit(app, { action: 'backups.backup.create', outcome: 'success', actorId: 'operator' });

    // The restore drill on it: verified, with the measured time; the status turns fresh.
    await row.getByRole('button', { name: `Run the restore drill on ${id}` }).click();
    await row.getByText('verified', { exact: true }).waitFor();
    await status.getByText('fresh', { exact: true }).waitFor();
    assert.match((await status.textContent()) ?? '', /Last restore drill: passed/);
    const restore = page.getByRole('region', { name: 'Restore instructions' });
    assert.match((await restore.textContent()) ?? '', new RegExp(`--from /path/to/drive/bk/${id} `));
    assert.match((await restore.textContent()) ?? '', /--allow-foreign-installation/);
    await browser.shot('backups-02-complete-verified');

    // Retention: edit, preview, save.
    await nav.getByRole('link', { name: 'Retention' }).click();
    const classes = page.getByRole('form', { name: 'Retention classes' });
    const audit = classes.getByLabel('Audit events days');
    await audit.waitFor();
    assert.equal(await audit.inputValue(), '365');
    assert.match(
      (await page.getByRole('region', { name: 'Terminated workspaces' }).textContent()) ?? '',
      /winding-down.*pending/s,
    );
    await audit.fill('400');
    await classes.getByLabel('Terminated workspaces days').fill('30');
    const preview = page.getByRole('region', { name: 'Preview' });
    await preview.getByText('was 365 days').waitFor();
    const cutoff = new Date(Date.now() - 400 * 86_400_000);
    assert.match(
      (await preview.getByTestId('preview-audit').textContent()) ?? '',
      new RegExp(String(cutoff.getFullYear())),
    );
    assert.match(
      (await preview.getByTestId('preview-termination').textContent()) ?? '',
      /winding-down is purged after .*keeps the date its owners were given/,
    );
    await preview.getByText('— was 60 days').waitFor();
    assert.match((await preview.getByTestId('preview-grace').textContent()) ?? '', /30 days of grace/);
    assert.match((await preview.getByTestId('preview-audit').textContent()) ?? '', /prunes no audit event/);
    await browser.shot('backups-03-retention-preview');
    await classes.getByRole('button', { name: 'Save retention' }).click();
    await page.getByText('Retention saved').waitFor();
    const saved = (await app.asOperator('/api/v1/retention')).json<{ classes: Record<string, number> }>();
    assert.equal(saved.classes.audit, 400);
    assert.equal(saved.classes['terminated-workspaces'], 30);
    await expectAudit(app, { action: 'retention.settings.update', outcome: 'success', details: { audit: 400 } });
    await browser.shot('backups-04-retention-saved');

    // Forgetting the token hides the installation's data again.
    await page.getByRole('button', { name: 'Forget token' }).click();
    await page.getByRole('form', { name: 'Operator token' }).waitFor();
    assert.equal(await page.getByRole('region', { name: 'Legal holds' }).count(), 0);
    assert.deepEqual(csp, [], 'no CSP violation');
  });
});
