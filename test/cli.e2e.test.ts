/**
 * The `strongroom` command end to end, as separate processes: help and exit codes, config
 * errors, first and second start on the embedded defaults, the PGlite directory lock, SIGHUP
 * certificate reload without dropping connections, graceful SIGTERM, and doctor.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { generateSelfSigned } from '../src/installation/tls.ts';
import { freePort, runCli, startServe } from './helpers/cli.ts';
import { request } from './helpers/https.ts';

describe('strongroom CLI basics', () => {
  test('--help works on every command and lists the exit codes', () => {
    const top = runCli(['--help'], {});
    assert.equal(top.status, 0);
    assert.match(top.stdout, /Exit codes: 0 success, 1 .*, 2 usage/);
    for (const cmd of ['serve', 'init', 'doctor', 'config']) {
      const r = runCli([cmd, '--help'], {});
      assert.equal(r.status, 0, cmd);
      assert.match(r.stdout, new RegExp(`Usage: strongroom ${cmd}`));
    }
  });

  test('an unknown command is a usage error (exit 2)', () => {
    const r = runCli(['frobnicate'], {});
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command/);
  });

  test('invalid configuration: exit 2, every problem named, no stack trace', () => {
    const r = runCli(['serve'], { STRONGROOM_HTTPS_PORT: 'eighty', STRONGROOM_LOG_LEVEL: 'shouty' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /STRONGROOM_HTTPS_PORT/);
    assert.match(r.stderr, /STRONGROOM_LOG_LEVEL/);
    assert.doesNotMatch(r.stderr, /\n\s+at .*\(/, 'no stack trace');
  });

  test('a remote database without verify-full is refused before any connection (exit 2)', () => {
    const r = runCli(['config', 'check'], {});
    assert.equal(r.status, 0);
    const home = path.join(os.tmpdir(), `sr-weak-${process.pid}`);
    const s = runCli(['serve'], {
      STRONGROOM_HOME: home,
      DATABASE_URL: 'postgres://app:pw@db.example.invalid/strongroom?sslmode=disable',
      STRONGROOM_HTTPS_PORT: '0',
      STRONGROOM_HTTP_PORT: 'off',
      STRONGROOM_METRICS_PORT: 'off',
    });
    assert.equal(s.status, 2, s.stderr);
    assert.match(s.stderr, /ALLOW_WEAK_TLS/);
    assert.ok(!s.stderr.includes('pw@'), 'no credentials echoed');
  });

  test('config lists every variable with its description', () => {
    const r = runCli(['config'], {});
    assert.equal(r.status, 0);
    for (const v of ['STRONGROOM_HOME', 'STRONGROOM_HTTPS_PORT', 'DATABASE_URL', 'STRONGROOM_TLS_CERT_FILE'])
      assert.match(r.stdout, new RegExp(v));
  });
});

describe('serve on the embedded defaults', () => {
  let home: string;
  let env: Record<string, string>;
  before(async () => {
    home = path.join(await mkdtemp(path.join(os.tmpdir(), 'sr-e2e-')), 'data');
    const [https_, http_, metrics] = [await freePort(), await freePort(), await freePort()];
    env = {
      STRONGROOM_HOME: home,
      STRONGROOM_HTTPS_PORT: String(https_),
      STRONGROOM_HTTP_PORT: String(http_),
      STRONGROOM_METRICS_PORT: String(metrics),
    };
  });
  after(async () => {
    await rm(path.dirname(home), { recursive: true, force: true });
  });

  test('first start creates everything, second start reuses it, SIGTERM stops cleanly', async () => {
    const first = await startServe(env);
    assert.equal(statSync(home).mode & 0o777, 0o700, 'data dir is 0700');
    const certPem = await readFile(path.join(home, 'tls', 'cert.pem'), 'utf8');
    assert.equal(statSync(path.join(home, 'tls', 'key.pem')).mode & 0o777, 0o600, 'key is 0600');
    const cert = new X509Certificate(certPem);
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.match(cert.subjectAltName ?? '', /DNS:localhost/);
    assert.match(cert.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);

    const ready = await request(`https://localhost:${env.STRONGROOM_HTTPS_PORT}/readyz`, { ca: certPem });
    assert.equal(ready.status, 200);

    const second = runCli(['serve'], env);
    assert.equal(second.status, 1, 'a second process on the same directory is refused');
    assert.match(second.stderr, /in use by another Strongroom process \(pid \d+\)/);

    const doctor = runCli(['doctor', '--json'], env);
    const checks = (JSON.parse(doctor.stdout) as { checks: { name: string; status: string }[] }).checks;
    const byName = Object.fromEntries(checks.map((c) => [c.name, c.status]));
    assert.deepEqual(byName, {
      'data-dir': 'pass',
      'tls-certificate': 'warn',
      'tls-listener': 'pass',
      hsts: 'pass',
      database: 'pass',
      'root-key': 'warn',
      seal: 'pass',
      'audit-chain': 'pass',
      'secrets-due': 'warn',
    });
    // The live posture: no owner yet, so the one-time setup token is still open (a failing control).
    const posture = (JSON.parse(doctor.stdout) as { posture: { controls: { id: string; status: string }[] } }).posture;
    assert.equal(posture.controls.find((c) => c.id === 'platform.first-run-credential')?.status, 'fail');
    assert.equal(doctor.status, 1);

    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0);
    assert.ok(first.lines.some((l) => l.includes('"shutdown complete"')));
    assert.ok(!existsSync(path.join(home, 'db.lock')), 'lock released');

    const t0 = Date.now();
    const again = await startServe(env);
    const secondStartMs = Date.now() - t0;
    assert.equal(await readFile(path.join(home, 'tls', 'cert.pem'), 'utf8'), certPem, 'certificate reused');
    assert.equal((await request(`https://localhost:${env.STRONGROOM_HTTPS_PORT}/readyz`, { ca: certPem })).status, 200);
    process.stderr.write(`second start to ready: ${secondStartMs} ms\n`);
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);

    const stopped = runCli(['doctor'], env);
    assert.equal(stopped.status, 0, 'a stopped server is a warning, not a failure');
    assert.match(stopped.stdout, /WARN\s+tls-listener\s+server not reachable/);
    assert.match(stopped.stdout, /PASS\s+database/);
    assert.match(stopped.stdout, /PASS\s+secrets-due\s+no secret expired or overdue in 1 workspace/);
  });
});

describe('user certificate reloaded on SIGHUP', () => {
  test('new handshakes get the new certificate; open connections stay up', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-hup-'));
    const a = await generateSelfSigned();
    const b = await generateSelfSigned();
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    await writeFile(certFile, a.cert);
    await writeFile(keyFile, a.key, { mode: 0o600 });
    const port = await freePort();
    const serve = await startServe({
      STRONGROOM_HOME: path.join(dir, 'home'),
      STRONGROOM_HTTPS_PORT: String(port),
      STRONGROOM_HTTP_PORT: 'off',
      STRONGROOM_METRICS_PORT: 'off',
      STRONGROOM_TLS_CERT_FILE: certFile,
      STRONGROOM_TLS_KEY_FILE: keyFile,
    });
    try {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1, maxCachedSessions: 0, ca: [a.cert, b.cert] });
      const fingerprint = () =>
        new Promise<{ fp: string; socket: TLSSocket }>((resolve, reject) => {
          https
            .get(`https://localhost:${port}/healthz`, { agent }, (res) => {
              const socket = res.socket as TLSSocket;
              const fp = socket.getPeerCertificate().fingerprint256;
              res.resume();
              res.on('end', () => resolve({ fp, socket }));
            })
            .on('error', reject);
        });
      const before1 = await fingerprint();
      assert.equal(before1.fp, new X509Certificate(a.cert).fingerprint256);

      await writeFile(certFile, b.cert);
      await writeFile(keyFile, b.key);
      serve.child.kill('SIGHUP');
      await serve.waitFor('TLS certificate reloaded');

      const sameConn = await fingerprint();
      assert.equal(sameConn.socket, before1.socket, 'the kept-alive connection was not dropped');
      assert.equal(sameConn.fp, new X509Certificate(a.cert).fingerprint256);
      const fresh = await request(`https://localhost:${port}/healthz`, { ca: b.cert });
      assert.equal(fresh.status, 200, 'a new handshake verifies against the new certificate only');
      agent.destroy();

      await writeFile(keyFile, a.key); // mismatched pair: the reload must be refused, old cert kept
      serve.child.kill('SIGHUP');
      await serve.waitFor('TLS reload failed; keeping the current certificate');
      assert.equal((await request(`https://localhost:${port}/healthz`, { ca: b.cert })).status, 200);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
