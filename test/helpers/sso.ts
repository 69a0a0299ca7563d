/** Single sign-on helpers: configure a provider as the operator, walk a sign-in through a scripted browser. */
import assert from 'node:assert/strict';
import type { TestApp } from './app.ts';
import { Browser } from './browser-flow.ts';
import type { TestResponse } from './https.ts';
import { jsonBody, sessionFrom, type Session } from './identity.ts';
import type { OidcIdp } from '../peers/idp/oidc-idp.ts';

/** The root each test server presents, by origin (for `Browser`). */
export const rootsOf = (app: TestApp, ...idps: { issuer: string; ca: string }[]): Record<string, string> =>
  Object.fromEntries([[new URL(app.base).origin, app.ca], ...idps.map((i) => [new URL(i.issuer).origin, i.ca])]);

export const callbackUrl = (app: TestApp, id: string) => `${app.base}/api/v1/auth/sso/${id}/oidc/callback`;

export async function addOidcProvider(
  app: TestApp,
  idp: OidcIdp,
  id: string,
  extra: Record<string, unknown> = {},
): Promise<TestResponse> {
  return app.asOperator(
    '/api/v1/sso/providers',
    jsonBody({
      id,
      kind: 'oidc',
      displayName: `Sign in with ${id}`,
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientSecret: idp.clientSecret,
      caPem: idp.ca,
      ...extra,
    }),
  );
}

export interface SsoAttempt {
  /** The answer of Strongroom's callback (JSON asked for). */
  res: TestResponse;
  browser: Browser;
  /** A session when the sign-in succeeded. */
  session?: Session;
}

/** Starts at Strongroom, signs `account` in at the IdP, and delivers the callback (as JSON). */
export async function oidcSignIn(
  app: TestApp,
  idp: OidcIdp,
  providerId: string,
  account: string,
  opts: { browser?: Browser; start?: () => Promise<TestResponse>; beforeCallback?: (url: URL) => URL } = {},
): Promise<SsoAttempt> {
  const browser = opts.browser ?? new Browser(rootsOf(app, idp));
  idp.nextAccount = account;
  const start = opts.start
    ? await opts.start()
    : await browser.fetch(`${app.base}/api/v1/auth/sso/${providerId}/start`, {
        headers: { accept: 'application/json' },
      });
  assert.equal(start.status, 200, `start: ${start.body}`);
  const { redirectUrl } = start.json<{ redirectUrl: string }>();
  const cb = callbackUrl(app, providerId);
  const { next } = await browser.follow(redirectUrl, (u) => u.href.startsWith(cb));
  assert.ok(next.href.startsWith(cb), `the IdP did not come back to the callback: ${next.href}`);
  const target = opts.beforeCallback ? opts.beforeCallback(next) : next;
  const res = await browser.fetch(target.href, { headers: { accept: 'application/json' } });
  const session = res.status === 200 ? sessionFrom(app, res) : undefined;
  return { res, browser, ...(session ? { session } : {}) };
}

/** The `meta.reason` of a refused sign-in (asserting a 401 SSO_REFUSED problem). */
export function refusalReason(res: TestResponse): string {
  assert.equal(res.status, 401, res.body);
  assert.match(String(res.headers['content-type']), /application\/problem\+json/);
  const p = res.json<{ code: string; reason?: string; meta?: { reason?: string } }>();
  assert.equal(p.code, 'SSO_REFUSED');
  assert.ok(
    !([] as string[])
      .concat(res.headers['set-cookie'] ?? [])
      .some((c) => c.startsWith('__Host-sr_session=') && !c.includes('Max-Age=0')),
    'no session cookie',
  );
  return String(p.reason ?? p.meta?.reason);
}
