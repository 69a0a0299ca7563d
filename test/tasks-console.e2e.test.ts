/**
 * The console's Tasks page in Chromium: an owner sees the workspace's task runs (a workspace key
 * rewrap started by the operator, a drive health check) with state and progress — not the
 * installation's runs — filters them by kind, and reads a run's log from the system drive; a
 * viewer has no menu entry and is told who may see the page.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestApp, type TestApp } from './helpers/app.ts';
import type { BrowserSession } from './helpers/browser.ts';
import { consoleReady, openConsole, signInConsole } from './helpers/console.ts';
import { createUser, ownerSession } from './helpers/identity.ts';

describe('Tasks page in Chromium', () => {
  let app: TestApp;
  let browser: BrowserSession;
  let page: Page;
  let base: string;
  let skip = false;
  let secret = '';
  let rewrapId = '';
  let installationId = '';

  before(async (t) => {
    if (!consoleReady(t as never)) {
      skip = true;
      return;
    }
    app = await startTestApp('pglite', {
      env: { STRONGROOM_POSTURE_CHECK_SECONDS: '0', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
    });
    const owner = await ownerSession(app, 'tasks-owner@console.test');
    secret = owner.secret;
    await createUser(app, 'tasks-viewer@console.test', { role: 'viewer' });

    // Data under the workspace key, then a rotation and a rewrap: a workspace task with progress.
    const up = await owner.session.req('/api/v1/workspaces/default/datasets/ledger/versions?mediaType=text/plain', {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'some rows',
    });
    assert.equal(up.status, 201, up.body);
    assert.equal((await app.asOperator('/api/v1/keys/workspaces/default/rotate', { method: 'POST' })).status, 200);
    const started = await app.asOperator('/api/v1/keys/workspaces/default/rewrap', { method: 'POST' });
    assert.equal(started.status, 202, started.body);
    rewrapId = started.json<{ taskId: string }>().taskId;
    for (let i = 0; i < 200; i++) {
      const row = (await app.asOperator(`/api/v1/tasks/${rewrapId}`)).json<{ status: string }>();
      if (row.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const health = await app.server.tasks.start('drive-health', { workspace: 'default' });
    await health.write({ event: 'checked', drive: 'local', ok: true });
    health.progress({ checked: 1, failing: 0 });
    await health.finish('succeeded');
    const installation = await app.server.tasks.start('posture-check');
    await installation.finish('succeeded');
    installationId = installation.id;

    ({ browser, page, base } = await openConsole(app, 30_000));
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  async function signIn(email: string, mfa: boolean) {
    await signInConsole(browser, `${base}/tasks`, email, { mfaSecret: mfa ? secret : undefined });
  }

  test('the workspace’s runs with state and progress, filtered by kind, and a run’s log', async (t) => {
    if (skip) return t.skip('no chromium');
    await signIn('tasks-owner@console.test', true);
    const rows = page.getByTestId('task-runs').locator('tbody tr');
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    assert.equal(await page.locator(`tr[data-task="${installationId}"]`).count(), 0, 'installation runs stay hidden');
    const rewrap = page.locator(`tr[data-task="${rewrapId}"]`);
    assert.equal(await rewrap.getAttribute('data-status'), 'succeeded');
    assert.equal(await rewrap.getAttribute('data-kind'), 'workspace-rewrap');
    assert.match((await rewrap.textContent()) ?? '', /remaining 0 · rewrapped 1/);
    assert.equal(await page.getByRole('link', { name: 'Tasks' }).getAttribute('aria-current'), 'page');
    await browser.shot('tasks-01-list');

    await page.getByLabel('Kind').selectOption('drive-health');
    await page.locator('tr[data-kind="workspace-rewrap"]').waitFor({ state: 'detached' });
    assert.equal(await rows.count(), 1);
    assert.match((await rows.first().textContent()) ?? '', /checked 1 · failing 0/);
    await page.getByLabel('Kind').selectOption('');
    await rewrap.waitFor();

    await rewrap.getByRole('button', { name: /View log/ }).click();
    const dialog = page.getByRole('dialog');
    const lines = dialog.getByTestId('task-log').locator('tbody tr');
    await lines.first().waitFor();
    const events = await lines.locator('td:nth-child(2)').allTextContents();
    assert.deepEqual(events, ['started', 'progress', 'finished']);
    assert.match((await lines.last().textContent()) ?? '', /rewrapped=1/);
    assert.match((await dialog.textContent()) ?? '', /encrypted on the system drive/);
    await browser.shot('tasks-02-log');
    await page.keyboard.press('Escape');
  });

  test('a viewer has no menu entry and is told who may see the page', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.context().clearCookies();
    await signIn('tasks-viewer@console.test', false);
    await page.getByText(/owners, admins and auditors/).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Tasks' }).count(), 0);
  });
});
