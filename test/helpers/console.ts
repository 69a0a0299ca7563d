/**
 * The preamble console e2e tests share: skip (or fail under STRONGROOM_TEST_STRICT) without
 * Chromium, build the console, open Chromium on the app's HTTPS port, sign in through the form.
 */
import type { TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import type { TestApp } from './app.ts';
import { buildConsole, chromiumMissing, openBrowser, type BrowserSession } from './browser.ts';
import { GOOD_PASSWORD, totpNow } from './identity.ts';
import { requirePeer } from './peers.ts';

/** True when Chromium is there, and then the console is built; false when the test should skip. */
export function consoleReady(t: TestContext): boolean {
  if (!requirePeer(t, 'chromium', chromiumMissing() === undefined, chromiumMissing() ?? '')) return false;
  buildConsole();
  return true;
}

/** Chromium open with `timeoutMs` as the page's default timeout; `base` is the app's HTTPS origin. */
export async function openConsole(
  app: TestApp,
  timeoutMs: number,
): Promise<{ browser: BrowserSession; page: Page; base: string }> {
  const base = `https://127.0.0.1:${app.server.httpsPort}`;
  const browser = await openBrowser();
  const page = browser.page;
  page.setDefaultTimeout(timeoutMs);
  return { browser, page, base };
}

/**
 * Goes to `url`, waits up to 15 s for the sign-in form and signs in with GOOD_PASSWORD; with
 * `mfaSecret`, answers the TOTP step with the next period's code. With `shot`, a missing form
 * is saved as that screenshot and reported with the page's start.
 */
export async function signInConsole(
  browser: BrowserSession,
  url: string,
  email: string,
  opts: { mfaSecret?: string; shot?: string } = {},
): Promise<void> {
  const page = browser.page;
  await page.goto(url);
  try {
    await page.getByLabel('Email').waitFor({ timeout: 15_000 });
  } catch (err) {
    if (opts.shot === undefined) throw err;
    await browser.shot(opts.shot);
    throw new Error(`no sign-in form: ${(await page.content()).slice(0, 2000)}`, { cause: err });
  }
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(GOOD_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (opts.mfaSecret !== undefined) {
    await page.getByLabel('Authentication code').fill(totpNow(opts.mfaSecret, Date.now() + 30_000));
    await page.getByRole('button', { name: 'Verify' }).click();
  }
}
