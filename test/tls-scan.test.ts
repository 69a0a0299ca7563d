/**
 * An external TLS scanner (sslscan) against the real listener: only TLS 1.2 and 1.3 offered,
 * and every accepted suite is an AEAD (GCM or ChaCha20-Poly1305).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { startTestApp } from './helpers/app.ts';
import { commandExists, requirePeer } from './helpers/peers.ts';

test('sslscan: TLS >= 1.2 only, AEAD suites only', async (t) => {
  if (!requirePeer(t, 'sslscan', commandExists('sslscan'), 'apt-get install sslscan')) return;
  const app = await startTestApp('pglite');
  try {
    // Async: the server under test runs in this process and must keep answering.
    const r = await promisify(execFile)(
      'sslscan',
      [
        '--no-colour',
        '--no-heartbleed',
        '--no-renegotiation',
        '--no-compression',
        '--no-fallback',
        '--no-groups',
        '--no-check-certificate',
        `127.0.0.1:${app.server.httpsPort}`,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    const protocols = Object.fromEntries(
      [...r.stdout.matchAll(/^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)/gm)].map((m) => [m[1], m[2]]),
    );
    assert.deepEqual(protocols, {
      SSLv2: 'disabled',
      SSLv3: 'disabled',
      'TLSv1.0': 'disabled',
      'TLSv1.1': 'disabled',
      'TLSv1.2': 'enabled',
      'TLSv1.3': 'enabled',
    });
    const ciphers = [...r.stdout.matchAll(/^(?:Preferred|Accepted)\s+(TLSv1\.[23])\s+\d+ bits\s+(\S+)/gm)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    assert.ok(ciphers.length >= 3, `suites found: ${ciphers.join(', ')}`);
    for (const c of ciphers) assert.match(c, /GCM|CHACHA20/, `non-AEAD suite accepted: ${c}`);
    assert.ok(
      !ciphers.some((c) => /DHE-RSA|CBC|SHA1$|RC4|3DES|NULL/.test(c.replace(/^TLSv1\.\d /, '').replace(/^ECDHE-/, ''))),
    );
  } finally {
    await app.close();
  }
});
