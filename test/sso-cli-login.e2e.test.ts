/**
 * `strongroom login --sso` against a real IdP (`oidc-provider` on loopback): the CLI prints the
 * URL, a scripted browser signs in at the IdP and gets only a one-time code (no session cookie),
 * the code is pasted into the CLI, which redeems it with its verifier and stores the session.
 * A code redeemed with another verifier is refused and used up; both are audited.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { expectAudit } from './helpers/audit.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { Browser } from './helpers/browser-flow.ts';
import { BIN, inheritedEnv } from './helpers/cli.ts';
import { jsonBody, ownerSession } from './helpers/identity.ts';
import { addOidcProvider, callbackUrl, rootsOf } from './helpers/sso.ts';
import { startOidcIdp, type OidcIdp } from './peers/idp/oidc-idp.ts';

describe('strongroom login --sso (paste-code flow, real IdP)', () => {
  let app: TestApp;
  let idp: OidcIdp;
  let dir: string;

  before(async () => {
    app = await startTestApp('pglite', { env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32' } });
    idp = await startOidcIdp({ redirectUris: [callbackUrl(app, 'corp')] });
    const owner = (await ownerSession(app)).session;
    assert.equal((await addOidcProvider(app, idp, 'corp')).status, 201);
    const map = await owner.req(
      '/api/v1/workspaces/default/sso/mappings/corp',
      jsonBody({ mappings: [{ group: 'eng', role: 'engineer' }] }, 'PUT'),
    );
    assert.equal(map.status, 200, map.body);
    idp.accounts.set('dev-sub', { claims: { email: 'dev@corp.test', email_verified: true, groups: ['eng'] } });
    dir = await mkdtemp(path.join(os.tmpdir(), 'sr-sso-login-'));
  });
  after(async () => {
    await idp?.close();
    await app?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The browser part: opens the CLI's URL, signs in at the IdP, returns the page at the end. */
  async function browserSignIn(url: string) {
    const browser = new Browser(rootsOf(app, idp));
    idp.nextAccount = 'dev-sub';
    const cb = callbackUrl(app, 'corp');
    const { next } = await browser.follow(url, (u) => u.href.startsWith(cb));
    assert.ok(next.href.startsWith(cb), next.href);
    return browser.fetch(next.href);
  }

  test('the CLI prints the URL, the browser shows a code and gets no session, the CLI stores the session', async () => {
    const env = {
      ...inheritedEnv(),
      STRONGROOM_HOME: app.home,
      STRONGROOM_HTTPS_PORT: String(app.server.httpsPort),
      STRONGROOM_PUBLIC_URL: app.base,
      STRONGROOM_HTTP_PORT: 'off',
      STRONGROOM_METRICS_PORT: 'off',
      STRONGROOM_TLS_CERT_FILE: path.join(app.home, 'cert.pem'),
      STRONGROOM_TLS_KEY_FILE: path.join(app.home, 'key.pem'),
      XDG_CONFIG_HOME: dir,
    };
    const child = spawn(process.execPath, [BIN, 'login', '--sso'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString('utf8');
        const m = /(https:\/\/\S+\/auth\/sso\/corp\/start\?\S+)/.exec(stdout);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`login exited (${code}) first: ${stderr}`)));
    });
    assert.match(url, /[?&]cli=[A-Za-z0-9_-]{43}$/, 'only the challenge is in the URL, never the verifier');

    const page = await browserSignIn(url);
    assert.equal(page.status, 200, page.body);
    assert.match(String(page.headers['content-type']), /text\/html/);
    const code = /id="code">([A-Z0-9-]+)</.exec(page.body)?.[1];
    assert.ok(code, page.body);
    const cookies = ([] as string[]).concat(page.headers['set-cookie'] ?? []);
    assert.ok(!cookies.some((c) => c.startsWith('__Host-sr_session=')), 'the browser gets no session');

    child.stdin.end(`${code}\n`);
    assert.equal(await exited, 0, stderr);
    clearTimeout(timer);
    assert.match(stdout, /signed in as dev@corp\.test/);
    const creds = JSON.parse(await readFile(path.join(dir, 'strongroom', 'credentials.json'), 'utf8')) as {
      session: string;
      email: string;
    };
    assert.equal(creds.email, 'dev@corp.test');
    const me = await app.req('/api/v1/auth/me', { headers: { cookie: `__Host-sr_session=${creds.session}` } });
    assert.equal(me.status, 200, me.body);
    assert.equal(me.json<{ user: { email: string } }>().user.email, 'dev@corp.test');
    await expectAudit(app, { action: 'sso.cli.redeem', outcome: 'success' });
    await expectAudit(app, { action: 'identity.session.create', outcome: 'success', details: { provider: 'corp' } });
  });

  test('a code redeemed with another verifier is refused and used up', async () => {
    const verifier = 'v'.repeat(43);
    const { createHash } = await import('node:crypto');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const page = await browserSignIn(`${app.base}/api/v1/auth/sso/corp/start?cli=${challenge}`);
    const code = /id="code">([A-Z0-9-]+)</.exec(page.body)![1]!;
    const wrong = await app.req('/api/v1/auth/sso/cli/redeem', jsonBody({ code, verifier: 'w'.repeat(43) }));
    assert.equal(wrong.status, 401, wrong.body);
    assert.equal(wrong.json<{ code: string }>().code, 'UNAUTHENTICATED');
    const late = await app.req('/api/v1/auth/sso/cli/redeem', jsonBody({ code, verifier }));
    assert.equal(late.status, 401, 'one wrong try uses the code up');
    const garbage = await app.req('/api/v1/auth/sso/cli/redeem', jsonBody({ code: 'x', verifier: 'short' }));
    assert.equal(garbage.status, 422, garbage.body);
    await expectAudit(app, { action: 'sso.cli.redeem', outcome: 'failure', details: { error: 'UNAUTHENTICATED' } });
  });
});
