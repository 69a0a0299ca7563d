/**
 * The TLS suite at its CI budget (`--quick`: sslscan, HSTS and the HTTP redirect; testssl runs in
 * `.ci/run` through scripts/tls-scan.sh and in the full suite) against a live server process.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandExists, requirePeer } from './helpers/peers.ts';
import { runSuite } from './helpers/reliability.ts';

test(
  'reliability tls: TLS 1.2/1.3 only, AEAD with forward secrecy, HSTS a year, HTTP redirects',
  { timeout: 300_000 },
  async (t) => {
    if (!requirePeer(t, 'sslscan', commandExists('sslscan'), 'apt-get install -y sslscan')) return;
    const { fields, out, code } = await runSuite(t, 'tls', ['--quick']);
    assert.equal(fields.tried, '5');
    assert.equal(fields.failed, '0', out.slice(-4000));
    assert.ok(Number(fields.suites) > 0);
    assert.equal(code, 0);
  },
);
