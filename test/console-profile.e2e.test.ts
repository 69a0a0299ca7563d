/**
 * The Profile tab (issue 18) in real Chromium against the real server: a steward sees the stored
 * profile of a dataset with canary values (per-column cards, a histogram drawn as bars, patterns,
 * detected tags), rejects a detection and confirms another from the page (saved, audited), and
 * after a second version sees the drift. No canary value is anywhere in the page's DOM.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { buildConsole, chromiumMissing, openBrowser, type BrowserSession } from './helpers/browser.ts';
import { createUser, login, ownerSession, type Session } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';

const WS = '/api/v1/workspaces/default';
const N = 120;
const pad = (n: number, w: number) => String(n).padStart(w, '0');
const canaries = {
  email: (i: number) => `ui.canary.${i}.p3z@leaktest-mail.org`,
  ref: (i: number) => `${pad(301 + i, 3)}-${pad((i % 97) + 2, 2)}-${pad(7000 + i, 4)}`,
  note: (i: number) => `ui-canary-note-${i}-zz`,
};
const ALL = Array.from({ length: N }, (_, i) => Object.values(canaries).map((f) => f(i))).flat();
const csv = (withNote: boolean) =>
  `id,email,ref,${withNote ? 'note,' : ''}country,amount\n${Array.from({ length: N }, (_, i) =>
    [
      i,
      canaries.email(i),
      canaries.ref(i),
      ...(withNote ? [canaries.note(i)] : []),
      ['de', 'fr', 'us'][i % 3],
      (i * 7) % 100,
    ].join(','),
  ).join('\n')}\n`;

describe('console Profile tab in Chromium', () => {
  let app: TestApp;
  let browser: BrowserSession;
  let page: Page;
  let base: string;
  let owner: Session;
  let skip = false;

  const put = (body: string) =>
    owner.req(`${WS}/datasets/people/versions?filename=people.csv`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
  const stored = async (v: number) => {
    for (let i = 0; i < 300; i += 1) {
      const p = (await owner.req(`${WS}/datasets/people/versions/${v}/profile`)).json<{
        state: string;
        source: string;
      }>();
      if (p.state === 'done' && p.source === 'stored') return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the profile job did not finish');
  };

  before(async (t) => {
    if (!requirePeer(t as never, 'chromium', chromiumMissing() === undefined, chromiumMissing() ?? '')) {
      skip = true;
      return;
    }
    buildConsole();
    app = await startTestApp('pglite');
    owner = (await ownerSession(app, 'owner-ui@console.test')).session;
    await createUser(app, 'steward-ui@console.test', { role: 'steward' });
    const steward = await login(app, 'steward-ui@console.test');
    assert.equal((await put(csv(true))).status, 201);
    await stored(1);
    base = `https://127.0.0.1:${app.server.httpsPort}`;
    browser = await openBrowser();
    page = browser.page;
    page.setDefaultTimeout(20_000);
    await browser.context.addCookies([
      { name: '__Host-sr_session', value: steward.id, url: base, secure: true, httpOnly: true, sameSite: 'Strict' },
    ]);
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('a steward reviews detections on the Profile tab; the histogram and patterns show, no value leaks', async (t) => {
    if (skip) return t.skip('no chromium');
    await page.goto(`${base}/datasets/people`);
    await page.getByRole('link', { name: 'Profile' }).click();
    await page.getByTestId('profile-summary').waitFor();
    assert.match((await page.getByTestId('profile-summary').textContent()) ?? '', /120 rows · 6 columns/);
    assert.equal(await page.getByTestId('profile-state').textContent(), 'done');
    await page.getByTestId('histogram-amount').waitFor();
    const note = (await page.getByTestId('column-note').textContent()) ?? '';
    assert.match(note, /a-a-a-9-a/);
    assert.match((await page.getByTestId('column-email').textContent()) ?? '', /sensitive: counts only/);
    await browser.shot('60-profile-tab');
    const ref = page.getByTestId('tag-ref-pii.ssn');
    assert.match((await ref.textContent()) ?? '', /suggested/);
    await ref.getByRole('button', { name: 'Reject' }).click();
    await page.getByTestId('tag-ref-pii.ssn').getByText('rejected').waitFor();
    await page.getByTestId('tag-email-pii.email').getByRole('button', { name: 'Confirm' }).click();
    await page.getByTestId('tag-email-pii.email').getByText('confirmed').waitFor();
    await browser.shot('61-profile-reviewed');
    const tags = (await owner.req(`${WS}/datasets/people/columns/ref/tags`)).json<{ tags: { status: string }[] }>();
    assert.equal(tags.tags[0]?.status, 'rejected');
    await expectAudit(app, { action: 'policy.tag.assign', outcome: 'success', details: { column: 'email' } });
    const dom = await page.content();
    for (const c of ALL) assert.ok(!dom.includes(c), `${c} in the DOM`);
  });

  test('after a new version the tab shows the drift', async (t) => {
    if (skip) return t.skip('no chromium');
    assert.equal((await put(csv(false))).status, 201);
    await stored(2);
    await page.goto(`${base}/datasets/people?tab=profile`);
    await page.getByTestId('drift').waitFor();
    assert.match((await page.getByTestId('drift').textContent()) ?? '', /Removed column note/);
    await browser.shot('62-profile-drift');
    const dom = await page.content();
    for (const c of ALL) assert.ok(!dom.includes(c), `${c} in the DOM`);
  });

  test('the datasets page filters by tag: prefix, a sensitive-tag chip, nothing matches', async (t) => {
    if (skip) return t.skip('no chromium');
    const plain = await owner.req(`${WS}/datasets/plain/versions?filename=plain.csv`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'id,n\n1,2\n2,3\n',
    });
    assert.equal(plain.status, 201, plain.body);
    await page.goto(`${base}/datasets`);
    await page.getByRole('link', { name: 'plain' }).waitFor();
    const chips = page.getByTestId('sensitive-people');
    assert.match((await chips.textContent()) ?? '', /pii\.email/);
    assert.equal(await page.getByTestId('sensitive-plain').textContent(), '');
    await chips.getByRole('button', { name: 'pii.email' }).click();
    const tagField = page.getByLabel('Tag', { exact: true });
    assert.equal(await tagField.inputValue(), 'pii.email');
    await page.getByRole('link', { name: 'plain' }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'people' }).waitFor();
    await tagField.fill('pii');
    await page.getByRole('link', { name: 'people' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'plain' }).count(), 0);
    await browser.shot('63-datasets-tag-filter');
    await tagField.fill('nothing.here');
    await page.getByText('Nothing matches').waitFor();
  });
});
