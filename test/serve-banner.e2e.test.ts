/**
 * `strongroom serve` on a new data directory (issue 15, item 1): the banner ends with the
 * console's address and what to do first, and repeats the one-time setup token, which is also in
 * `<home>/setup-token` (0600) until the first owner is created; the next start, with an owner,
 * ends with "sign in" and leaves no token file behind.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { freePort, startServe, type ServeProcess } from './helpers/cli.ts';
import { request } from './helpers/https.ts';
import { GOOD_PASSWORD, jsonBody } from './helpers/identity.ts';

/** The banner, once written (it follows the "ready" log line). */
async function bannerOf(serve: ServeProcess): Promise<string> {
  for (let i = 0; i < 100 && !/\n\n$/.test(serve.stderr()); i++) await sleep(50);
  return serve.stderr().slice(serve.stderr().indexOf('Strongroom is running.'));
}

test('the first start ends its banner with the console, the token and the steps; the token file goes once used', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-banner-'));
  const home = path.join(dir, 'data');
  const port = await freePort();
  const env = {
    STRONGROOM_HOME: home,
    STRONGROOM_HTTPS_PORT: String(port),
    STRONGROOM_HTTP_PORT: 'off',
    STRONGROOM_METRICS_PORT: 'off',
  };
  try {
    const first = await startServe(env);
    let token: string;
    try {
      const banner = await bannerOf(first);
      const tail = banner.trimEnd().split('\n').slice(-7).join('\n');
      token = /srs_[A-Za-z0-9_-]+/.exec(tail)?.[0] ?? '';
      assert.ok(token, `the token is repeated at the end:\n${banner}`);
      assert.match(tail, /^First run — no users yet\. Create the first owner:/m);
      assert.match(tail, new RegExp(`1\\. Open https://(localhost|127\\.0\\.0\\.1):${port}/ in a browser`));
      assert.match(tail, /3\. Choose your email, name and password, then set up your authenticator app/);
      const file = path.join(home, 'setup-token');
      assert.ok(tail.includes(file), 'the file is named');
      assert.equal((await readFile(file, 'utf8')).trim(), token);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const ca = await readFile(path.join(home, 'tls', 'cert.pem'), 'utf8');
      const made = await request(`https://localhost:${port}/api/v1/setup`, {
        ca,
        ...jsonBody({ token, email: 'boss@corp.test', displayName: 'Boss', password: GOOD_PASSWORD }),
      });
      assert.equal(made.status, 201, made.body);
      assert.equal(existsSync(file), false, 'deleted once used');
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
    const again = await startServe(env);
    try {
      const banner = await bannerOf(again);
      assert.match(
        banner.trimEnd(),
        new RegExp(
          `Open the console and sign in:\\n  https://(localhost|127\\.0\\.0\\.1):${port}/ \\(accept the self-signed certificate once\\)$`,
        ),
      );
      assert.doesNotMatch(banner, /srs_/);
      assert.equal(existsSync(path.join(home, 'setup-token')), false);
    } finally {
      again.child.kill('SIGTERM');
      await again.exited;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
