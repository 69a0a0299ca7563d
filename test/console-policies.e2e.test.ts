/**
 * Data policies in the console, in real Chromium against the real server (PGlite): a steward
 * creates a policy on the Policies page (form → Check shows the access diff → Save), sees its
 * history, gets a conflicting second policy refused inline with both names, then sees the policy
 * on the dataset page and the masked column marked with the reason in the preview. No page breaks
 * the CSP. Screenshots go to test-output/console/policies-*.png.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { buildConsole, chromiumMissing, openBrowser, type BrowserSession } from './helpers/browser.ts';
import { GOOD_PASSWORD, createUser, jsonBody, login } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';

const STEWARD = 'steward@policies.test';
const WS = '/api/v1/workspaces/default';

describe('data policies in the console (Chromium)', () => {
  let app: TestApp;
  let browser: BrowserSession;
  let page: Page;
  let base: string;
  let skip = false;
  const csp: string[] = [];

  before(async (t) => {
    if (!requirePeer(t as never, 'chromium', chromiumMissing() === undefined, chromiumMissing() ?? '')) {
      skip = true;
      return;
    }
    buildConsole();
    app = await startTestApp('pglite', { env: { STRONGROOM_QUERY_TIMEOUT_MS: '60000' } });
    await createUser(app, 'policies-owner@corp.test', { role: 'owner', displayName: 'Olive Owner' });
    await createUser(app, 'policies-engineer@corp.test', { role: 'engineer', displayName: 'Erin Engineer' });
    const engineer = await login(app, 'policies-engineer@corp.test');
    const up = await engineer.req(`${WS}/datasets/people/versions?filename=people.csv`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'id,name,email\n1,Ada,ada@lovelace.test\n2,Bob,bob@example.test\n',
    });
    assert.equal(up.status, 201, up.body);
    await createUser(app, STEWARD, { role: 'steward', displayName: 'Stew Steward' });
    base = `https://127.0.0.1:${app.server.httpsPort}`;
    browser = await openBrowser();
    page = browser.page;
    page.setDefaultTimeout(30_000);
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
    });
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('create a policy (access diff before saving), see its history, a conflict refused inline', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/policies`);
    await page.getByLabel('Email').fill(STEWARD);
    await page.getByLabel('Password').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Data policies' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Data policies' }).getAttribute('aria-current'), 'page');
    await page.getByText('No data policies yet').waitFor();

    await page.getByRole('button', { name: 'New policy' }).click();
    const editor = page.getByTestId('policy-editor');
    await editor.getByLabel('Name', { exact: true }).fill('mask-email');
    await editor.getByLabel('Description').fill('Emails show only their domain');
    await editor.getByLabel('Dataset', { exact: true }).fill('people');
    await editor.getByRole('button', { name: 'Add a mask' }).click();
    await editor.getByLabel('Column', { exact: true }).fill('email');
    await editor.getByLabel('Mask', { exact: true }).selectOption('email_domain');
    assert.equal(await editor.getByRole('button', { name: 'Save' }).isDisabled(), true, 'Save waits for a check');
    await editor.getByRole('button', { name: 'Check (access diff)' }).click();
    const diff = page.getByTestId('access-diff');
    await diff.waitFor();
    const diffRows = await diff
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    // Every built-in role gets the email masked.
    assert.deepEqual(
      diffRows.map((r) => [r[0], r[1]]),
      ['owner', 'admin', 'steward', 'engineer', 'analyst', 'viewer', 'auditor'].map((role) => [role, 'email']),
    );
    await browser.shot('policies-01-access-diff');
    await editor.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('policy-mask-email').waitFor();
    const row = (await page.getByTestId('policy-mask-email').textContent()) ?? '';
    assert.match(row, /mask-email/);
    assert.match(row, /dataset people/);
    assert.match(row, /email: email_domain/);
    await page.getByTestId('policy-history').getByText('Version 1 by').waitFor();
    await browser.shot('policies-02-saved');
    await expectAudit(app, {
      action: 'policy.rule.create',
      outcome: 'success',
      details: { dryRun: false, changed: true, version: 1 },
    });

    // A second mask on the same column for the same readers: refused inline, naming both.
    await page.getByRole('button', { name: 'New policy' }).click();
    await editor.getByLabel('Name', { exact: true }).fill('redact-email');
    await editor.getByLabel('Dataset', { exact: true }).fill('people');
    await editor.getByRole('button', { name: 'Add a mask' }).click();
    await editor.getByLabel('Column', { exact: true }).fill('email');
    await editor.getByRole('button', { name: 'Check (access diff)' }).click();
    const problem = editor.getByTestId('problem');
    await problem.waitFor();
    assert.match(
      (await problem.textContent()) ?? '',
      /Policy "redact-email" and policy "mask-email" could both mask column "email" for the same reader/,
    );
    await browser.shot('policies-03-conflict');
    await editor.getByRole('button', { name: 'Cancel' }).click();
  });

  test('the dataset page names the policy; the preview marks the masked column with the reason', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/datasets/people?tab=preview`);
    const applied = page.getByTestId('applied-policies');
    await applied.waitFor();
    assert.match((await applied.textContent()) ?? '', /mask-email: email: email_domain — for everyone/);
    await page.getByTestId('result-grid').waitFor();
    const cells = await page
      .getByTestId('result-grid')
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent ?? '')));
    assert.deepEqual(cells, [
      ['1', 'Ada', '*@lovelace.test'],
      ['2', 'Bob', '*@example.test'],
    ]);
    const markers = page.getByTestId('masked-marker');
    assert.equal(await markers.count(), 1);
    assert.equal(await markers.first().getAttribute('title'), 'Masked by data policy mask-email');
    const header = await markers.first().evaluate((el) => el.parentElement?.firstChild?.textContent ?? '');
    assert.equal(header, 'email');
    await markers.first().hover();
    await browser.shot('policies-04-preview-masked');
    assert.deepEqual(csp, []);
  });

  test('the Query page runs "as" another reader for a policy author (simulation)', async (t) => {
    if (skip) return t.skip('no chromium');
    // A dataset whose only policy selects analysts: the steward reads it as it is, so may simulate.
    const engineer = await login(app, 'policies-engineer@corp.test');
    const up = await engineer.req(`${WS}/datasets/staff/versions?filename=staff.csv`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'id,name,region\n1,Ada,eu\n2,Bob,us\n',
    });
    assert.equal(up.status, 201, up.body);
    const steward = await login(app, STEWARD);
    const put = await steward.req(`${WS}/data-policies/analysts-eu`, {
      ...jsonBody({
        policy: {
          target: { dataset: 'staff' },
          when: { roles: ['analyst'] },
          hide: ['name'],
          rowFilter: 'region = reader.region',
        },
      }),
      method: 'PUT',
    });
    assert.equal(put.status, 201, put.body);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Query' }).click();
    await page.getByLabel('SQL').fill('SELECT * FROM staff ORDER BY id');
    await page.getByLabel('Run as').fill('analyst region=eu');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByTestId('ran-as').waitFor();
    assert.match((await page.getByTestId('ran-as').textContent()) ?? '', /as analyst region=eu \(simulated\)/);
    const cells = await page
      .getByTestId('result-grid')
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent ?? '')));
    assert.deepEqual(cells, [['1', 'eu']], 'an EU analyst: no name column, EU rows only');
    await browser.shot('policies-05-run-as');
    // Cleared: the steward's own view again.
    await page.getByLabel('Run as').fill('');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByTestId('ran-as').waitFor({ state: 'detached' });
    const own = await page
      .getByTestId('result-grid')
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent ?? '')));
    assert.deepEqual(own, [
      ['1', 'Ada', 'eu'],
      ['2', 'Bob', 'us'],
    ]);
    assert.deepEqual(csp, []);
  });
});
