/**
 * `strongroom keys rotate|rewrap|status --workspace W` against a real server (`strongroom serve`
 * started by the test helpers), through the client's route table with the operator credential:
 * an owner uploads a dataset (so the workspace has a key and one wrapped data key), the CLI
 * rotates the workspace key, rotates again with --rewrap, and follows the rewrap until no data key
 * is left under an older version; the dataset still reads back byte for byte, every step is in
 * the audit trail, and the refusals (unknown workspace, --rewrap alone, no server) say why.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cliAsync, freePort, runCli, startServe } from './helpers/cli.ts';
import { request } from './helpers/https.ts';
import { GOOD_PASSWORD, totpNow } from './helpers/identity.ts';
import { generateSelfSigned } from '../src/installation/tls.ts';
import type { WorkspaceKeyStatus } from '../src/contracts/index.ts';

const sessionCookie = (setCookie: string | string[] | undefined, fallback = '') =>
  String(([] as string[]).concat(setCookie ?? []).find((c) => c.startsWith('__Host-sr_session=')) ?? fallback).split(
    ';',
  )[0]!;

test('keys rotate --workspace: rotate, rotate with --rewrap, follow the rewrap; data still reads; audited', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-wskeys-cli-'));
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
    STRONGROOM_DRIVE_HEALTH_SECONDS: '0',
    STRONGROOM_POSTURE_CHECK_SECONDS: '0',
  };
  const init = runCli(['init', '--admin-email', 'keys@corp.test', '--admin-password-file', path.join(dir, 'pw')], env);
  assert.equal(init.status, 0, init.stderr);
  const base = `https://localhost:${port}`;
  const req = (p: string, o: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}) =>
    request(`${base}${p}`, { ...o, ca: cert });
  const cli = (args: string[]) => cliAsync(args, env);
  const serve = await startServe(env);
  try {
    // The workspace has no key until something is encrypted in it.
    const early = await cli(['keys', 'rotate', '--workspace', 'default']);
    assert.equal(early.status, 1);
    assert.match(early.stderr, /404.*has no key yet/s);

    // An owner (MFA enrolled) uploads a dataset: the workspace key is made, one data key wrapped.
    const login = await req('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'keys@corp.test', password: GOOD_PASSWORD }),
    });
    assert.equal(login.status, 200, login.body);
    let cookie = sessionCookie(login.headers['set-cookie']);
    let csrf = login.json<{ csrfToken: string }>().csrfToken;
    const enrol = await req('/api/v1/auth/mfa/enrol', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
    const verify = await req('/api/v1/auth/mfa/enrol/verify', {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ code: totpNow(enrol.json<{ secret: string }>().secret) }),
    });
    assert.equal(verify.status, 200, verify.body);
    cookie = sessionCookie(verify.headers['set-cookie'], cookie);
    csrf = verify.json<{ csrfToken?: string }>().csrfToken ?? csrf;
    const data = randomBytes(70 * 1024);
    const up = await req('/api/v1/workspaces/default/datasets/notes/versions', {
      method: 'PUT',
      headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/octet-stream' },
      body: data,
    });
    assert.ok(up.status < 300, up.body);

    const rot = await cli(['keys', 'rotate', '--workspace', 'default']);
    assert.equal(rot.status, 0, rot.stderr);
    assert.match(rot.stderr, /^online: rotate the key of workspace default/m);
    assert.match(rot.stdout, /workspace default: key version 1 → 2/);
    assert.match(
      rot.stdout,
      /1 data key\(s\) still under older versions: run 'strongroom keys rewrap --workspace default'/,
    );

    const st = await cli(['keys', 'status', '--workspace', 'default', '--json']);
    assert.equal(st.status, 0, st.stderr);
    const s1 = JSON.parse(st.stdout) as WorkspaceKeyStatus;
    assert.equal(s1.keyVersion, 2);
    assert.deepEqual(
      s1.versions.map((v) => [v.version, v.current, v.wrappedKeys]),
      [
        [1, false, 1],
        [2, true, 0],
      ],
    );

    const again = await cli(['keys', 'rotate', '--workspace', 'default', '--rewrap', '--json']);
    assert.equal(again.status, 0, again.stderr);
    const r2 = JSON.parse(again.stdout) as {
      rotated: { previousVersion: number; keyVersion: number };
      rewrap: { taskId: string };
    };
    assert.deepEqual([r2.rotated.previousVersion, r2.rotated.keyVersion], [2, 3]);
    assert.ok(r2.rewrap.taskId);

    // Follow the rewrap the way an operator would (a bounded number of looks, no time limit asserted).
    let s: WorkspaceKeyStatus | undefined;
    for (let i = 0; i < 200; i++) {
      const look = await cli(['keys', 'status', '--workspace', 'default', '--json']);
      assert.equal(look.status, 0, look.stderr);
      s = JSON.parse(look.stdout) as WorkspaceKeyStatus;
      if (!s.rewrap.running && s.versions.every((v) => v.current || v.wrappedKeys === 0)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(s);
    assert.equal(s.rewrap.lastError, undefined);
    assert.equal(s.versions.find((v) => v.current)?.version, 3);
    assert.equal(s.versions.find((v) => v.current)?.wrappedKeys, 1, 'the data key is now under version 3');
    assert.equal(
      s.versions.filter((v) => !v.current).reduce((n, v) => n + v.wrappedKeys, 0),
      0,
    );
    const text = await cli(['keys', 'status', '--workspace', 'default']);
    assert.match(text.stdout, /workspace default: key version 3/);
    assert.match(text.stdout, /version 3 {2}wraps 1 data key\(s\) {2}\(current\)/);

    const back = await req('/api/v1/workspaces/default/datasets/notes/versions/1/content', { headers: { cookie } });
    assert.equal(back.status, 200);
    assert.ok(back.raw.equals(data), 'the dataset reads back unchanged after rotation and rewrap');

    const nosuch = await cli(['keys', 'rotate', '--workspace', 'nosuch']);
    assert.equal(nosuch.status, 1);
    assert.match(nosuch.stderr, /404/);
    const alone = await cli(['keys', 'rotate', '--rewrap']);
    assert.equal(alone.status, 2);
    assert.match(alone.stderr, /--rewrap goes with --workspace/);

    const audit = await cli(['audit', 'search', '--action', 'keys.workspace', '--format', 'csv']);
    assert.equal(audit.status, 0, audit.stderr);
    const rows = audit.stdout.split('\n');
    assert.equal(rows.filter((l) => l.includes('keys.workspace.rotate') && l.includes('success')).length, 2);
    assert.ok(rows.some((l) => l.includes('keys.workspace.rewrap') && l.includes('success')));
  } finally {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  const offline = runCli(['keys', 'rotate', '--workspace', 'default'], env);
  assert.equal(offline.status, 1);
  assert.match(offline.stderr, /needs the running server/);
  await rm(dir, { recursive: true, force: true });
});
