/**
 * The transport controls against listeners configured by hand, each driven to pass, warn and
 * fail: a weak TLS configuration (TLS 1.0 and CBC suites), an expired and a nearly expired
 * certificate, a CA-issued one, a missing or short HSTS header, and a plain-HTTP side that
 * serves content instead of redirecting. All listeners are on 127.0.0.1, port 0.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { transportControls, type Control } from '../src/modules/posture/index.ts';
import { generateSelfSigned, serverTlsOptions } from '../src/installation/tls.ts';
import { createTestCa, type TestCa } from './helpers/test-ca.ts';

const DAY = 24 * 3600 * 1000;
const closers: (() => Promise<void>)[] = [];

async function listen(server: tls.Server | http.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

function controlsFor(port: number, httpPort?: number): Record<string, Control> {
  const list = transportControls({
    listener: () => ({ host: '127.0.0.1', port, servername: 'localhost' }),
    redirect: () => (httpPort ? { host: '127.0.0.1', port: httpPort } : undefined),
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
  });

  test('tls.protocols: Strongroom’s own settings pass; TLS 1.0 and CBC suites given by hand fail', async () => {
    const { cert, key } = await generateSelfSigned();
    const good = await listen(tls.createServer(serverTlsOptions({ cert, key }), (s) => s.end()));
    const ok = await check(controlsFor(good)['tls.protocols']);
    assert.equal(ok.status, 'pass', ok.summary);
    assert.deepEqual(ok.evidence.accepted, ['TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(ok.evidence.refused, ['TLSv1', 'TLSv1.1']);

    const weak = await listen(
      tls.createServer({ cert, key, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }, (s) => s.end()),
    );
    const bad = await check(controlsFor(weak)['tls.protocols']);
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
    const cbc = await check(controlsFor(cbcOnly)['tls.protocols']);
    assert.equal(cbc.status, 'fail');
    assert.deepEqual(cbc.evidence.tls12Suites, ['ECDHE-ECDSA-AES128-SHA']);
  });

  test('tls.certificate: CA-issued passes, self-signed warns, 20 days left warns, expired fails', async () => {
    const issued = ca.issue('listener', 200);
    const caPort = await listen(tls.createServer(serverTlsOptions(issued), (s) => s.end()));
    const pass = await check(controlsFor(caPort)['tls.certificate']);
    assert.equal(pass.status, 'pass', pass.summary);
    assert.equal(pass.evidence.issuer, 'Strongroom Test CA');

    const self = await generateSelfSigned();
    const selfPort = await listen(tls.createServer(serverTlsOptions(self), (s) => s.end()));
    const warned = await check(controlsFor(selfPort)['tls.certificate']);
    assert.equal(warned.status, 'warn');
    assert.equal(warned.evidence.selfSigned, true);

    const soon = await check(controlsFor(caPort)['tls.certificate'], new Date(Date.now() + 185 * DAY));
    assert.equal(soon.status, 'warn');
    assert.match(soon.summary, /expires in 1[45] days/);

    const expired = await generateSelfSigned(new Date(Date.now() - 400 * DAY), 365);
    const expiredPort = await listen(tls.createServer(serverTlsOptions(expired), (s) => s.end()));
    const failed = await check(controlsFor(expiredPort)['tls.certificate']);
    assert.equal(failed.status, 'fail');
    assert.match(failed.summary, /expired on/);
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
    const c = controlsFor(port, plain)['tls.hsts-redirect'];
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
    assert.equal((await check(controlsFor(port)['tls.hsts-redirect'])).evidence.httpListener, 'off');
  });

  test('before the listener is up, each control warns instead of guessing', async () => {
    const list = transportControls({ listener: () => undefined, redirect: () => undefined });
    for (const c of list) assert.equal((await c.check({ now: new Date() })).status, 'warn');
  });
});
