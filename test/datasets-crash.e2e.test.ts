/**
 * kill -9 of the real server (`strongroom serve`, PGlite, default local drive) in the middle of an
 * upload and of a download: after a restart, no partial version is visible, the cleanup removed
 * the leftovers (row, temp file), and the existing version is intact and still downloads.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { freePort, runCli, startServe, type ServeProcess } from './helpers/cli.ts';
import { request } from './helpers/https.ts';
import { GOOD_PASSWORD, totpNow } from './helpers/identity.ts';
import { generateSelfSigned } from '../src/installation/tls.ts';

let dir: string;
let serve: ServeProcess | undefined;
after(async () => {
  serve?.child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true, recursive: true }).catch(() => []))
    if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

test(
  'kill -9 during an upload and a download leaves no partial version; the old version survives',
  { timeout: 180_000 },
  async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-crash-'));
    const { cert, key } = await generateSelfSigned();
    await writeFile(path.join(dir, 'cert.pem'), cert);
    await writeFile(path.join(dir, 'key.pem'), key, { mode: 0o600 });
    await writeFile(path.join(dir, 'pw'), GOOD_PASSWORD, { mode: 0o600 });
    const port = await freePort();
    const home = path.join(dir, 'home');
    const env = {
      STRONGROOM_HOME: home,
      STRONGROOM_HTTPS_PORT: String(port),
      STRONGROOM_HTTP_PORT: 'off',
      STRONGROOM_METRICS_PORT: 'off',
      STRONGROOM_TLS_CERT_FILE: path.join(dir, 'cert.pem'),
      STRONGROOM_TLS_KEY_FILE: path.join(dir, 'key.pem'),
      STRONGROOM_DRIVE_HEALTH_SECONDS: '0', // upload leases and orphan grace stay at their defaults (60 s, 0)
    };
    const init = runCli(
      ['init', '--admin-email', 'crash@corp.test', '--admin-password-file', path.join(dir, 'pw')],
      env,
    );
    assert.equal(init.status, 0, init.stderr);

    const base = `https://localhost:${port}`;
    const req = (p: string, o: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}) =>
      request(`${base}${p}`, { ...o, ca: cert });
    serve = await startServe(env);
    const login = await req('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'crash@corp.test', password: GOOD_PASSWORD }),
    });
    assert.equal(login.status, 200, login.body);
    let cookie = String(
      ([] as string[]).concat(login.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-sr_session=')),
    ).split(';')[0]!;
    let csrf = login.json<{ csrfToken: string }>().csrfToken;
    const auth = () => ({ cookie, 'x-csrf-token': csrf });
    const enrol = await req('/api/v1/auth/mfa/enrol', { method: 'POST', headers: auth() });
    const secret = enrol.json<{ secret: string }>().secret;
    const verify = await req('/api/v1/auth/mfa/enrol/verify', {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ code: totpNow(secret) }),
    });
    assert.equal(verify.status, 200, verify.body);
    cookie = String(
      ([] as string[]).concat(verify.headers['set-cookie'] ?? [cookie]).find((c) => c.startsWith('__Host-sr_session=')),
    ).split(';')[0]!;
    csrf = verify.json<{ csrfToken?: string }>().csrfToken ?? csrf;

    const keep = randomBytes(24 * 1024 * 1024);
    const put = await req('/api/v1/workspaces/default/datasets/keep/versions', {
      method: 'PUT',
      headers: { ...auth(), 'content-type': 'application/octet-stream' },
      body: keep,
    });
    assert.equal(put.status, 201, put.body);

    // An upload that will never finish, and a download that is read slowly.
    const upload = https.request({
      host: '127.0.0.1',
      port,
      path: '/api/v1/workspaces/default/datasets/crash/versions',
      method: 'PUT',
      ca: cert,
      servername: 'localhost',
      agent: false,
      headers: { ...auth(), 'content-type': 'application/octet-stream', 'content-length': String(64 * 1024 * 1024) },
    });
    upload.on('error', () => undefined);
    upload.write(randomBytes(8 * 1024 * 1024));
    const download = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/v1/workspaces/default/datasets/keep/versions/1/content',
        ca: cert,
        servername: 'localhost',
        agent: false,
        headers: auth(),
      },
      (res) => res.pause(),
    );
    download.on('error', () => undefined);
    download.end();
    const drives = path.join(home, 'drives');
    for (
      let i = 0;
      i < 100 && !(await filesUnder(drives)).some((f) => path.basename(f).startsWith('.strongroom-tmp-'));
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    assert.ok(
      (await filesUnder(drives)).some((f) => path.basename(f).startsWith('.strongroom-tmp-')),
      'the upload is being written when the server dies',
    );

    serve.child.kill('SIGKILL');
    await serve.exited;
    upload.destroy();
    download.destroy();

    serve = await startServe(env);
    const crash = await req('/api/v1/workspaces/default/datasets/crash', { headers: auth() });
    assert.ok(
      crash.status === 404 || crash.json<{ versions: unknown[] }>().versions.length === 0,
      `no partial version: ${crash.status} ${crash.body}`,
    );
    // Issue 13: the dead process's reservation does not block the dataset (it used to for an hour).
    const again = randomBytes(3 * 1024 * 1024);
    const retry = await req('/api/v1/workspaces/default/datasets/crash/versions', {
      method: 'PUT',
      headers: { ...auth(), 'content-type': 'application/octet-stream' },
      body: again,
    });
    assert.equal(retry.status, 201, `writable right after the restart: ${retry.body}`);
    assert.equal(retry.json<{ version: { version: number } }>().version.version, 1);
    let files: string[] = [];
    for (let i = 0; i < 100; i++) {
      files = await filesUnder(drives);
      if (
        files.filter((f) => path.basename(f).startsWith('.strongroom-')).length === 0 &&
        files.filter((f) => f.includes(`${path.sep}objects${path.sep}`)).length === 2
      )
        break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(
      files.filter((f) => path.basename(f).startsWith('.strongroom-')),
      [],
      'no temp files left',
    );
    assert.equal(
      files.filter((f) => f.includes(`${path.sep}objects${path.sep}`)).length,
      2,
      'only the committed objects remain (the old one and the retry)',
    );
    const got = await req('/api/v1/workspaces/default/datasets/keep/versions/1/content', { headers: auth() });
    assert.equal(got.status, 200);
    assert.equal(
      createHash('sha256').update(got.raw).digest('hex'),
      createHash('sha256').update(keep).digest('hex'),
      'the old version is intact',
    );
    serve.child.kill('SIGTERM');
    await serve.exited;
    serve = undefined;
  },
);
