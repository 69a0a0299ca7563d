/**
 * The transport controls against listeners configured by hand, each driven to pass, warn and
 * fail: a weak TLS configuration (TLS 1.0 and CBC suites), an expired and a nearly expired
 * certificate, a CA-issued one, a listener that serves another certificate than the
 * installation's file (another self-signed one, another leaf of the same CA, one for another
 * name), a missing or short HSTS header, and a plain-HTTP side that serves content instead of
 * redirecting. The probe verifies certificates, trusting only the file. All listeners are on
 * 127.0.0.1, port 0.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { transportControls, type Control } from '../src/modules/posture/index.ts';
import { generateSelfSigned, serverTlsOptions } from '../src/installation/tls.ts';
import { createTestCa, type TestCa } from './helpers/test-ca.ts';

const DAY = 24 * 3600 * 1000;
const closers: (() => Promise<void>)[] = [];
const dir = mkdtempSync(path.join(os.tmpdir(), 'strongroom-transport-'));
let files = 0;

/** Writes `pem` as the installation's certificate file and returns its path. */
function certFile(pem: string): string {
  const file = path.join(dir, `cert-${++files}.pem`);
  writeFileSync(file, pem);
  return file;
}

async function listen(server: tls.Server | http.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

function controlsFor(
  port: number,
  file: string,
  opts: { httpPort?: number; servername?: string } = {},
): Record<string, Control> {
  const list = transportControls({
    listener: () => ({ host: '127.0.0.1', port, servername: opts.servername ?? 'localhost' }),
    redirect: () => (opts.httpPort ? { host: '127.0.0.1', port: opts.httpPort } : undefined),
    certFile: () => file,
  });
  return Object.fromEntries(list.map((c) => [c.id, c]));
}

const check = (c: Control | undefined, now = new Date()) => c!.check({ now });

describe('transport controls', () => {
  let ca: TestCa;
  before(() => {
    ca = createTestCa();
  });
  after(async () => {
    for (const c of closers.reverse()) await c();
    ca.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  test('tls.protocols: Strongroom’s own settings pass; TLS 1.0 and CBC suites given by hand fail', async () => {
    const { cert, key } = await generateSelfSigned();
    const file = certFile(cert);
    const good = await listen(tls.createServer(serverTlsOptions({ cert, key }), (s) => s.end()));
    const ok = await check(controlsFor(good, file)['tls.protocols']);
    assert.equal(ok.status, 'pass', ok.summary);
    assert.deepEqual(ok.evidence.accepted, ['TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(ok.evidence.refused, ['TLSv1', 'TLSv1.1']);

    const weak = await listen(
      tls.createServer({ cert, key, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }, (s) => s.end()),
    );
    const bad = await check(controlsFor(weak, file)['tls.protocols']);
    assert.equal(bad.status, 'fail', bad.summary);
    assert.ok(
      (bad.evidence.tls12Suites as string[]).some((s) => s.includes('SHA') && !s.includes('GCM')),
      'a CBC suite is listed',
    );
    assert.match(bad.summary, /TLSv1|without forward secrecy or AEAD/);

    const cbcOnly = await listen(
      tls.createServer(
        { cert, key, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' },
        (s) => s.end(),
      ),
    );
    const cbc = await check(controlsFor(cbcOnly, file)['tls.protocols']);
    assert.equal(cbc.status, 'fail');
    assert.deepEqual(cbc.evidence.tls12Suites, ['ECDHE-ECDSA-AES128-SHA']);

    // A listener with another certificate is still scanned (what it negotiates counts), and the
    // verification failure is recorded; the scan never trusts it.
    const other = await generateSelfSigned();
    const elsewhere = await check(controlsFor(good, certFile(other.cert))['tls.protocols']);
    assert.equal(elsewhere.status, 'pass', elsewhere.summary);
    assert.deepEqual(elsewhere.evidence.accepted, ['TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(elsewhere.evidence.certificateErrors, ['DEPTH_ZERO_SELF_SIGNED_CERT']);
    assert.deepEqual(ok.evidence.certificateErrors, []);
  });

  test('tls.certificate: CA-issued passes, self-signed warns, 20 days left warns, expired fails', async () => {
    const issued = ca.issue('listener', 200);
    const caPort = await listen(tls.createServer(serverTlsOptions(issued), (s) => s.end()));
    const issuedFile = certFile(issued.cert);
    const pass = await check(controlsFor(caPort, issuedFile)['tls.certificate']);
    assert.equal(pass.status, 'pass', pass.summary);
    assert.equal(pass.evidence.issuer, 'Strongroom Test CA');
    assert.equal(pass.evidence.subject, 'listener');
    assert.equal(pass.evidence.key, 'EC P-256');
    assert.equal(pass.evidence.listener, 'verified');
    assert.equal(pass.evidence.listenerFingerprint256, pass.evidence.fingerprint256);

    // The file may carry the chain after the leaf.
    const chained = await check(controlsFor(caPort, certFile(issued.cert + ca.caPem))['tls.certificate']);
    assert.equal(chained.status, 'pass', chained.summary);
    assert.equal(chained.evidence.chainLength, 2);

    const self = await generateSelfSigned();
    const selfPort = await listen(tls.createServer(serverTlsOptions(self), (s) => s.end()));
    const warned = await check(controlsFor(selfPort, certFile(self.cert))['tls.certificate']);
    assert.equal(warned.status, 'warn');
    assert.equal(warned.evidence.selfSigned, true);
    assert.equal(warned.evidence.listener, 'verified');

    const soon = await check(controlsFor(caPort, issuedFile)['tls.certificate'], new Date(Date.now() + 185 * DAY));
    assert.equal(soon.status, 'warn');
    assert.match(soon.summary, /expires in 1[45] days/);

    const expired = await generateSelfSigned(new Date(Date.now() - 400 * DAY), 365);
    const expiredPort = await listen(tls.createServer(serverTlsOptions(expired), (s) => s.end()));
    const failed = await check(controlsFor(expiredPort, certFile(expired.cert))['tls.certificate']);
    assert.equal(failed.status, 'fail');
    assert.match(failed.summary, /expired on/);
    assert.equal(failed.evidence.listener, 'expired');
    assert.equal(failed.evidence.listenerCode, 'CERT_HAS_EXPIRED');
  });

  test('tls.certificate: a listener serving another certificate than the file fails', async () => {
    // Two valid self-signed certificates: the file has one, the listener serves the other.
    const onFile = await generateSelfSigned();
    const served = await generateSelfSigned();
    const port = await listen(tls.createServer(serverTlsOptions(served), (s) => s.end()));
    const other = await check(controlsFor(port, certFile(onFile.cert))['tls.certificate']);
    assert.equal(other.status, 'fail', other.summary);
    assert.equal(other.evidence.listener, 'mismatch');
    assert.equal(other.evidence.listenerCode, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.match(other.summary, /other than the installation’s certificate file/);
    assert.notEqual(other.evidence.listenerFingerprint256, other.evidence.fingerprint256);

    // Another leaf of the same CA, with the CA in the file: the chain verifies, the leaf is pinned.
    const mine = ca.issue('mine', 200);
    const theirs = ca.issue('theirs', 200);
    const sameCaPort = await listen(tls.createServer(serverTlsOptions(theirs), (s) => s.end()));
    const sibling = await check(controlsFor(sameCaPort, certFile(mine.cert + ca.caPem))['tls.certificate']);
    assert.equal(sibling.status, 'fail', sibling.summary);
    assert.equal(sibling.evidence.listener, 'mismatch');
    assert.equal(sibling.evidence.listenerCode, 'LEAF_NOT_INSTALLATION_CERTIFICATE');

    // The right certificate, but clients use a name it does not cover.
    const named = await check(
      controlsFor(port, certFile(served.cert), { servername: 'vault.example.org' })['tls.certificate'],
    );
    assert.equal(named.status, 'fail', named.summary);
    assert.equal(named.evidence.listener, 'name-mismatch');
    assert.match(named.summary, /does not cover the host name vault\.example\.org/);

    // No usable file: the control fails and names no content.
    const missing = await check(controlsFor(port, path.join(dir, 'absent.pem'))['tls.certificate']);
    assert.equal(missing.status, 'fail');
    assert.match(missing.summary, /cannot be used: cannot read the certificate file \(ENOENT\)/);
    const garbage = await check(controlsFor(port, certFile('not a certificate'))['tls.certificate']);
    assert.equal(garbage.status, 'fail');
    assert.match(garbage.summary, /holds no PEM certificate/);
  });

  test('tls.hsts-redirect: two-year HSTS + 308 passes; short HSTS warns; none, or HTTP content, fails', async () => {
    const { cert, key } = await generateSelfSigned();
    let hsts: string | undefined = 'max-age=63072000; includeSubDomains';
    const port = await listen(
      https.createServer(serverTlsOptions({ cert, key }), (_req, res) => {
        if (hsts) res.setHeader('strict-transport-security', hsts);
        res.end('ok');
      }),
    );
    let plainAnswer = 308;
    const plain = await listen(
      http.createServer((_req, res) => {
        if (plainAnswer === 308) res.writeHead(308, { location: `https://localhost:${port}/` }).end();
        else res.writeHead(200).end('content over plain HTTP');
      }),
    );
    const file = certFile(cert);
    const c = controlsFor(port, file, { httpPort: plain })['tls.hsts-redirect'];
    const ok = await check(c);
    assert.equal(ok.status, 'pass', ok.summary);
    assert.equal(ok.evidence.maxAgeSeconds, 63072000);
    assert.equal(ok.evidence.httpStatus, 308);

    hsts = 'max-age=300';
    assert.equal((await check(c)).status, 'warn');
    hsts = undefined;
    const none = await check(c);
    assert.equal(none.status, 'fail');
    assert.match(none.summary, /no Strict-Transport-Security/);

    hsts = 'max-age=63072000';
    plainAnswer = 200;
    const served = await check(c);
    assert.equal(served.status, 'fail');
    assert.equal(served.evidence.httpStatus, 200);
    assert.equal((await check(controlsFor(port, file)['tls.hsts-redirect'])).evidence.httpListener, 'off');

    // The HTTPS side is only asked over a verified connection: another certificate leaves HSTS unproven.
    const other = await generateSelfSigned();
    const unproven = await check(controlsFor(port, certFile(other.cert))['tls.hsts-redirect']);
    assert.equal(unproven.status, 'warn', unproven.summary);
    assert.equal(unproven.evidence.httpsCertificate, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.equal(unproven.evidence.hsts, null);
  });

  test('before the listener is up, each control warns instead of guessing', async () => {
    const list = transportControls({
      listener: () => undefined,
      redirect: () => undefined,
      certFile: () => path.join(dir, 'absent.pem'),
    });
    for (const c of list) assert.equal((await c.check({ now: new Date() })).status, 'warn');
  });
});
