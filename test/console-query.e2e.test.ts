/**
 * Governed reads in the console, in real Chromium against the real server (PGlite): a dataset's
 * Preview tab (typed grid, column types, row count) and the Query page (datasets and columns in
 * the sidebar, run, a refusal shown at its position, cancel, download as CSV, save as a new
 * version). The grid holds exactly what DuckDB returns on the plaintext file; a viewer has no
 * Query page; no page breaks the CSP. Screenshots go to test-output/console/query-*.png.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance, JsonDuckDBValueConverter } from '@duckdb/node-api';
import type { Page } from 'playwright-core';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { buildConsole, chromiumMissing, openBrowser, type BrowserSession } from './helpers/browser.ts';
import { GOOD_PASSWORD, createUser, login } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';

const ENGINEER = 'engineer@query.test';
const VIEWER = 'viewer@query.test';
const WS = '/api/v1/workspaces/default';
const AGG =
  'SELECT country, count(*) AS n, round(sum(amount), 2) AS total FROM sales GROUP BY country ORDER BY country';

describe('governed reads in the console (Chromium)', () => {
  let app: TestApp;
  let browser: BrowserSession;
  let page: Page;
  let base: string;
  let skip = false;
  let work: string;
  let csvFile: string;
  const csp: string[] = [];

  /** DuckDB on the plaintext file, each value as the grid shows it (JSON text; NULL). */
  async function duck(sql: string): Promise<string[][]> {
    const inst = await DuckDBInstance.create(':memory:');
    const c = await inst.connect();
    try {
      const r = await c.runAndReadAll(sql.replaceAll('FROM sales', `FROM read_csv('${csvFile}')`));
      return (r.convertRows(JsonDuckDBValueConverter) as unknown[][]).map((row) =>
        row.map((v) => (v === null ? 'NULL' : String(v))),
      );
    } finally {
      c.closeSync();
      inst.closeSync();
    }
  }
  /** The grid's body cells (without the row number). */
  const gridRows = async () =>
    page
      .getByTestId('result-grid')
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent ?? '')));

  before(async (t) => {
    if (!requirePeer(t as never, 'chromium', chromiumMissing() === undefined, chromiumMissing() ?? '')) {
      skip = true;
      return;
    }
    buildConsole();
    work = await mkdtemp(path.join(os.tmpdir(), 'sr-console-query-'));
    csvFile = path.join(work, 'sales.csv');
    const lines = Array.from(
      { length: 3000 },
      (_, i) =>
        `${i},Customer ${i},${['de', 'fr', 'us', 'jp'][i % 4]},${(i * 37) % 1000}.25,${i % 11 === 0 ? '' : `2026-0${(i % 9) + 1}-15`}`,
    );
    await writeFile(csvFile, `id,name,country,amount,day\n${lines.join('\n')}\n`);
    app = await startTestApp('pglite', { env: { STRONGROOM_QUERY_TIMEOUT_MS: '60000' } });
    // An owner exists, so the console offers sign-in rather than the first-run page.
    await createUser(app, 'query-owner@corp.test', { role: 'owner', displayName: 'Olive Owner' });
    await createUser(app, ENGINEER, { role: 'engineer', displayName: 'Erin Engineer' });
    await createUser(app, VIEWER, { role: 'viewer', displayName: 'Vic Viewer' });
    const s = await login(app, ENGINEER);
    const up = await s.req(`${WS}/datasets/sales/versions?filename=sales.csv`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: await readFile(csvFile),
    });
    assert.equal(up.status, 201, up.body);
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
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the Preview tab: typed grid, column types, row count, the rows DuckDB reads', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/datasets/sales?tab=preview`);
    await page.getByLabel('Email').fill(ENGINEER);
    await page.getByLabel('Password').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('result-grid').waitFor();
    assert.equal(await page.getByRole('link', { name: 'Preview' }).getAttribute('aria-current'), 'page');
    const types = await page.getByTestId('grid-type').allTextContents();
    assert.deepEqual(types, ['bigint', 'varchar', 'varchar', 'double', 'date']);
    const summary = (await page.getByTestId('preview-summary').textContent()) ?? '';
    assert.match(summary, /^5 columns · 3,000 rows · showing rows 1–100 · csv · /);
    assert.deepEqual(await gridRows(), await duck('SELECT * FROM sales LIMIT 100'));
    await browser.shot('query-01-preview');
    await page.getByRole('button', { name: 'Next 100' }).click();
    await page.getByText('showing rows 101–200').waitFor();
    assert.deepEqual(await gridRows(), await duck('SELECT * FROM sales LIMIT 100 OFFSET 100'));
    await page.getByRole('link', { name: 'Versions' }).click();
    await page.getByTestId('version-1').waitFor();
  });

  test('the Query page: sidebar, run, results equal DuckDB, a refusal at its position, cancel', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Query' }).click();
    const side = page.getByTestId('query-sidebar');
    await side.getByText('sales', { exact: true }).click(); // opens the dataset's columns
    await side.getByRole('button', { name: 'amount' }).waitFor();
    assert.match((await side.textContent()) ?? '', /id\s*integer.*country\s*string.*amount\s*number/);
    const editor = page.getByLabel('SQL');
    await editor.fill('SELECT count(*) AS n FROM ');
    await side.getByRole('button', { name: 'Insert sales' }).click(); // at the cursor
    assert.equal(await editor.inputValue(), 'SELECT count(*) AS n FROM sales');

    await editor.fill(AGG);
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByTestId('query-result').waitFor();
    assert.match((await page.getByTestId('result-summary').textContent()) ?? '', /^4 rows · 3 columns · \d+ ms$/);
    assert.deepEqual(await page.getByTestId('grid-type').allTextContents(), ['varchar', 'bigint', 'double']);
    assert.deepEqual(await gridRows(), await duck(AGG));
    await browser.shot('query-02-results');

    // A refused construct: the reason, and a caret under its line and column.
    await editor.fill("SELECT id,\n  getvariable('x') AS v FROM sales");
    await editor.press('Control+Enter');
    const err = page.getByTestId('query-error');
    await err.waitFor();
    assert.match((await err.textContent()) ?? '', /function getvariable.*line 2, column 3/);
    assert.equal(
      await page.getByTestId('error-position').locator('pre').textContent(),
      "  getvariable('x') AS v FROM sales\n  ^",
    );
    await page.getByRole('button', { name: 'Show line 2, column 3 in the editor' }).click();
    assert.equal(await editor.evaluate((e) => (e as unknown as { selectionStart: number }).selectionStart), 13);
    await browser.shot('query-03-refused');

    // Cancel: the request is aborted and the server interrupts the statement.
    await editor.fill('SELECT count(*) FROM sales a, sales b, sales c WHERE a.amount + b.amount > c.amount');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByRole('button', { name: 'Running…' }).waitFor();
    await new Promise((r) => setTimeout(r, 800));
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText('The query was cancelled.').waitFor();
    await browser.shot('query-04-cancelled');
    let cancelled = false;
    for (let i = 0; i < 40 && !cancelled; i++) {
      cancelled = await expectAudit(app, {
        action: 'dataset.data.query',
        outcome: 'failure',
        details: { error: 'QUERY_LIMIT' },
      })
        .then(() => true)
        .catch(() => false);
      if (!cancelled) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(cancelled, 'the server recorded the cancelled statement');
  });

  test('download the result as CSV; save it as a new version of a dataset', async (t) => {
    if (skip) return t.skip('no chromium');
    const editor = page.getByLabel('SQL');
    await editor.fill(AGG);
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByTestId('query-result').waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'CSV' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'query-result.csv');
    const text = await readFile((await download.path())!, 'utf8');
    const expectedCsv = path.join(work, 'expected.csv');
    const inst = await DuckDBInstance.create(':memory:');
    const c = await inst.connect();
    await c.run(
      `COPY (${AGG.replace('FROM sales', `FROM read_csv('${csvFile}')`)}) TO '${expectedCsv}' (FORMAT csv, HEADER)`,
    );
    c.closeSync();
    inst.closeSync();
    assert.equal(text, await readFile(expectedCsv, 'utf8'));
    const expected = await duck(AGG);

    await page.getByLabel('Save the whole result as a new version of').fill('sales-by-country');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('saved').waitFor();
    assert.match(
      (await page.getByTestId('saved').textContent()) ?? '',
      /4 rows stored, encrypted, as sales-by-country v1/,
    );
    await browser.shot('query-05-saved');
    await page.getByRole('link', { name: 'sales-by-country v1' }).click();
    await page.getByRole('link', { name: 'Preview' }).click();
    await page.getByTestId('result-grid').waitFor();
    assert.match((await page.getByTestId('preview-summary').textContent()) ?? '', /3 columns · 4 rows · .* parquet/);
    assert.deepEqual(await gridRows(), expected);
    await browser.shot('query-06-saved-preview');
  });

  test('a viewer has no Query page and no Preview tab', async (t) => {
    if (skip) return t.skip('no chromium');
    await browser.context.clearCookies();
    const vp = await browser.context.newPage();
    vp.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
    });
    await vp.goto(`${base}/query`);
    await vp.getByLabel('Email').fill(VIEWER);
    await vp.getByLabel('Password').fill(GOOD_PASSWORD);
    await vp.getByRole('button', { name: 'Sign in' }).click();
    await vp.getByText('Query is not available to you').waitFor();
    const nav = (await vp.getByRole('navigation', { name: 'Main' }).textContent()) ?? '';
    assert.ok(!nav.includes('Query'), 'no Query in a viewer menu');
    await vp.goto(`${base}/datasets/sales?tab=preview`);
    await vp.getByTestId('version-1').waitFor();
    assert.equal(await vp.getByRole('link', { name: 'Preview' }).count(), 0);
    await browser.shot('query-07-viewer', vp);
    await vp.close();
    assert.deepEqual(csp, []);
  });
});
