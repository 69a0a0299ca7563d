/**
 * `strongroom doctor` with a running server: the live posture after the local checks (with the
 * fix for each failing control, exit 1 on a fail), `--evidence DIR` writing the signed pack, its
 * HTML and the audit public key, and `strongroom evidence verify` offline: valid → 0, any edit →
 * 1, another installation’s key → 1, unreadable input → 2; and `strongroom task list|show|logs`
 * reading a rewrap’s encrypted task log through the server.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { freePort, runCli, startServe, type ServeProcess } from './helpers/cli.ts';
import { request } from './helpers/https.ts';
import { readOperatorToken } from '../src/installation/operator-token.ts';

describe('doctor and evidence packs against a running server', () => {
  let dir: string;
  let env: Record<string, string>;
  let serve: ServeProcess;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sr-posture-cli-'));
    env = {
      STRONGROOM_HOME: path.join(dir, 'data'),
      STRONGROOM_HTTPS_PORT: String(await freePort()),
      STRONGROOM_HTTP_PORT: String(await freePort()),
      STRONGROOM_METRICS_PORT: 'off',
    };
    serve = await startServe(env);
  });
  after(async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
    await rm(dir, { recursive: true, force: true });
  });

  test('doctor prints the live posture with fixes and exits 1 on a failing control', () => {
    const r = runCli(['doctor'], env);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /Security posture of the running server/);
    assert.match(r.stdout, /PASS\s+tls\.protocols\s+accepts TLSv1\.2, TLSv1\.3 only/);
    assert.match(r.stdout, /PASS\s+tls\.hsts-redirect/);
    assert.match(r.stdout, /FAIL\s+platform\.first-run-credential\s+a setup token is still open/);
    assert.match(r.stdout, /fix: Create the first owner with the one-time setup token/);
    const json = JSON.parse(runCli(['doctor', '--json'], env).stdout) as { posture: { controls: { id: string }[] } };
    assert.ok(json.posture.controls.length >= 20);
  });

  test('--evidence writes a signed pack that verifies offline; edits and other keys do not', async () => {
    const out = path.join(dir, 'evidence');
    const r = runCli(['doctor', '--evidence', out], env);
    assert.match(r.stdout, /Evidence pack written to/);
    for (const f of ['evidence.json', 'evidence.html', 'audit-public-key.pem'])
      assert.equal((await stat(path.join(out, f))).mode & 0o777, 0o600, f);
    const pack = path.join(out, 'evidence.json');
    const key = path.join(out, 'audit-public-key.pem');
    const ok = runCli(['evidence', 'verify', pack, '--public-key', key], {});
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^VALID /);
    assert.match(ok.stdout, /signed by audit key audit-[0-9a-f]{16}/);

    const text = await readFile(pack, 'utf8');
    const tampered = path.join(out, 'tampered.json');
    await writeFile(tampered, text.replace('"status": "fail"', '"status": "pass"'));
    assert.notEqual(await readFile(tampered, 'utf8'), text);
    const bad = runCli(['evidence', 'verify', tampered, '--public-key', key], {});
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /^INVALID .*\n {2}- the signature does not match the content/);

    const other = path.join(out, 'other.pem');
    await writeFile(other, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    assert.equal(runCli(['evidence', 'verify', pack, '--public-key', other], {}).status, 1);
    const missing = runCli(['evidence', 'verify', path.join(out, 'nope.json'), '--public-key', key], {});
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read/);
  });

  test('task list | show | logs read the encrypted task logs through the server', async () => {
    const cert = await readFile(path.join(env.STRONGROOM_HOME!, 'tls', 'cert.pem'), 'utf8');
    const token = await readOperatorToken(env.STRONGROOM_HOME!);
    const started = await request(`https://localhost:${env.STRONGROOM_HTTPS_PORT}/api/v1/keys/rewrap`, {
      method: 'POST',
      ca: cert,
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(started.status, 202, started.body);
    const { taskId } = started.json<{ taskId: string }>();
    for (let i = 0; i < 100 && !runCli(['task', 'list', '--kind', 'rewrap'], env).stdout.startsWith('succeeded'); i++)
      await new Promise((r) => setTimeout(r, 200));
    const list = runCli(['task', 'list', '--kind', 'rewrap'], env);
    assert.match(list.stdout, new RegExp(`^succeeded .* rewrap +${taskId}`, 'm'));
    const show = JSON.parse(runCli(['task', 'show', taskId], env).stdout) as { status: string; drive: string };
    assert.equal(show.drive, 'local');
    const logs = runCli(['task', 'logs', taskId], env);
    assert.equal(logs.status, 0, logs.stderr);
    const events = logs.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { event: string }).event);
    assert.deepEqual([events[0], events.at(-1)], ['started', 'finished']);
    const unknown = runCli(['task', 'logs', 'rewrap-none'], env);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /No such task/);
  });
});
