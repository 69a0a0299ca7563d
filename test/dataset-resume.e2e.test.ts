/**
 * A resumable upload survives both ends dying: `strongroom dataset upload --resumable` is killed
 * (SIGKILL) part-way, the server is killed with kill -9 too and restarted, and running the same
 * command again resumes the same session — sending only the missing parts — and commits a version
 * whose download is byte-identical. Meanwhile nothing is visible and the orphan sweep (set to
 * 0 s) leaves the open session alone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { BIN, cliAsync, freePort, runCli, startServe, type ServeProcess } from './helpers/cli.ts';
import { request } from './helpers/https.ts';
import { GOOD_PASSWORD, totpNow } from './helpers/identity.ts';
import { generateSelfSigned } from '../src/installation/tls.ts';

let dir: string;
let serve: ServeProcess | undefined;
after(async () => {
  serve?.child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test(
  'kill -9 of the CLI and of the server mid-upload; the same command resumes and completes',
  { timeout: 300_000 },
  async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-resume-'));
    const { cert, key } = await generateSelfSigned();
    await writeFile(path.join(dir, 'cert.pem'), cert);
    await writeFile(path.join(dir, 'key.pem'), key, { mode: 0o600 });
    await writeFile(path.join(dir, 'pw'), GOOD_PASSWORD, { mode: 0o600 });
    const port = await freePort();
    const env = {
      STRONGROOM_HOME: path.join(dir, 'home'),
      STRONGROOM_HTTPS_PORT: String(port),
      STRONGROOM_HTTP_PORT: 'off',
      STRONGROOM_METRICS_PORT: 'off',
      STRONGROOM_TLS_CERT_FILE: path.join(dir, 'cert.pem'),
      STRONGROOM_TLS_KEY_FILE: path.join(dir, 'key.pem'),
      STRONGROOM_UPLOAD_ORPHAN_SECONDS: '0',
      STRONGROOM_DRIVE_HEALTH_SECONDS: '0',
    };
    assert.equal(
      runCli(['init', '--admin-email', 'resume@corp.test', '--admin-password-file', path.join(dir, 'pw')], env).status,
      0,
    );
    const base = `https://localhost:${port}`;
    const req = (p: string, o: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}) =>
      request(`${base}${p}`, { ...o, ca: cert });
    serve = await startServe(env);

    // Sign in with MFA and hand the session to the CLI.
    const login = await req('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'resume@corp.test', password: GOOD_PASSWORD }),
    });
    let cookie = String(
      ([] as string[]).concat(login.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-sr_session=')),
    ).split(';')[0]!;
    let csrf = login.json<{ csrfToken: string }>().csrfToken;
    const enrol = await req('/api/v1/auth/mfa/enrol', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
    const verify = await req('/api/v1/auth/mfa/enrol/verify', {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ code: totpNow(enrol.json<{ secret: string }>().secret) }),
    });
    assert.equal(verify.status, 200, verify.body);
    cookie = String(
      ([] as string[]).concat(verify.headers['set-cookie'] ?? [cookie]).find((c) => c.startsWith('__Host-sr_session=')),
    ).split(';')[0]!;
    csrf = verify.json<{ csrfToken?: string }>().csrfToken ?? csrf;
    const cfg = path.join(dir, 'cfg');
    await mkdir(path.join(cfg, 'strongroom'), { recursive: true, mode: 0o700 });
    await writeFile(
      path.join(cfg, 'strongroom', 'credentials.json'),
      JSON.stringify({ baseUrl: `${base}/`, ca: cert, session: cookie.split('=')[1], csrf, email: 'resume@corp.test' }),
      { mode: 0o600 },
    );
    const cliEnv = { XDG_CONFIG_HOME: cfg, STRONGROOM_HOME: path.join(dir, 'nohome') };

    const file = path.join(dir, 'big.bin');
    const data = randomBytes(96 * 1024 * 1024);
    await writeFile(file, data);
    const args = ['dataset', 'upload', 'big', file, '--resumable', '--part-size', '1', '--parallel', '1'];

    // First attempt: killed once a few parts are stored.
    const first = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...cliEnv }, stdio: 'ignore' });
    const exitedFirst = new Promise((r) => first.on('exit', r));
    const states = path.join(cfg, 'strongroom', 'uploads');
    let id = '';
    let stored = 0;
    for (let i = 0; i < 600 && stored < 4; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const names = (await readdir(states).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
      if (!id && names[0])
        id =
          (JSON.parse(await readFile(path.join(states, names[0]), 'utf8').catch(() => '{}')) as { id?: string }).id ??
          '';
      if (id)
        stored =
          (await req(`/api/v1/workspaces/default/datasets/big/uploads/${id}`, { headers: { cookie } })).json<{
            received?: number[];
          }>().received?.length ?? 0;
    }
    first.kill('SIGKILL');
    await exitedFirst;
    assert.ok(stored >= 4 && stored < 96, `the upload was cut part-way (${stored} of 96 parts)`);

    // The server dies too, and comes back.
    serve.child.kill('SIGKILL');
    await serve.exited;
    serve = await startServe(env);
    const status = await req(`/api/v1/workspaces/default/datasets/big/uploads/${id}`, { headers: { cookie } });
    assert.equal(status.status, 200, status.body);
    const kept = status.json<{ received: number[] }>().received.length;
    assert.ok(kept >= stored, 'stored parts survive the restart');
    assert.equal(
      (await req('/api/v1/workspaces/default/datasets/big', { headers: { cookie } })).json<{ versions: unknown[] }>()
        .versions.length,
      0,
      'nothing visible yet',
    );

    // The same command resumes.
    const again = await cliAsync(args, cliEnv);
    assert.equal(again.status, 0, again.stderr);
    const m = /resuming upload (up_[0-9a-f]{32}): (\d+) of 96 parts already stored/.exec(again.stderr);
    assert.ok(m, again.stderr);
    assert.equal(m[1], id);
    assert.ok(Number(m[2]) >= kept);
    assert.match(again.stdout, /big: version 1 .*sha256 [0-9a-f]{64}/);
    assert.ok(again.stdout.includes(sha(data)));
    assert.deepEqual(await readdir(states), [], 'the resume state is forgotten once committed');
    const got = await req('/api/v1/workspaces/default/datasets/big/versions/1/content', { headers: { cookie } });
    assert.equal(got.status, 200);
    assert.equal(sha(got.raw), sha(data));
  },
);
