import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, describeConfig, loadConfig } from './config.ts';

test('defaults: embedded, loopback, 8443/8080, frozen', () => {
  const c = loadConfig({}, '/srv');
  assert.equal(c.STRONGROOM_HOME, '/srv/.strongroom');
  assert.equal(c.STRONGROOM_BIND, '127.0.0.1');
  assert.equal(c.STRONGROOM_HTTPS_PORT, 8443);
  assert.equal(c.STRONGROOM_HTTP_PORT, 8080);
  assert.equal(c.DATABASE_URL, undefined);
  assert.equal(c.STRONGROOM_DATABASE_ALLOW_WEAK_TLS, false);
  assert.ok(Object.isFrozen(c));
});

test('invalid values are all reported at once, with the variable names', () => {
  try {
    loadConfig({
      STRONGROOM_HTTPS_PORT: '99999',
      STRONGROOM_HTTP_PORT: 'nope',
      STRONGROOM_LOG_LEVEL: 'loud',
      STRONGROOM_PUBLIC_URL: 'http://plain.example',
    });
    assert.fail('must throw');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const names = err.problems.map((p) => p.split(':')[0]);
    assert.deepEqual(names.sort(), [
      'STRONGROOM_HTTPS_PORT',
      'STRONGROOM_HTTP_PORT',
      'STRONGROOM_LOG_LEVEL',
      'STRONGROOM_PUBLIC_URL',
    ]);
  }
});

test('"off" disables the redirect and metrics listeners', () => {
  const c = loadConfig({ STRONGROOM_HTTP_PORT: 'off', STRONGROOM_METRICS_PORT: 'off' });
  assert.equal(c.STRONGROOM_HTTP_PORT, 'off');
  assert.equal(c.STRONGROOM_METRICS_PORT, 'off');
});

test('secrets may come from *_FILE, but not from both places', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
  const f = path.join(dir, 'db-url');
  writeFileSync(f, 'postgres://u:pw@db.internal/strongroom\n');
  assert.equal(loadConfig({ DATABASE_URL_FILE: f }).DATABASE_URL, 'postgres://u:pw@db.internal/strongroom');
  assert.throws(() => loadConfig({ DATABASE_URL_FILE: f, DATABASE_URL: 'postgres://x/y' }), /both set/);
  assert.throws(() => loadConfig({ DATABASE_URL_FILE: path.join(dir, 'missing') }), /cannot read/);
});

test('a problem message never echoes a secret value', () => {
  try {
    loadConfig({ DATABASE_URL: 'mysql://u:hunter2-secret@x/y' });
    assert.fail('must throw');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.ok(!err.message.includes('hunter2'), err.message);
  }
});

test('certificate and key must be given together', () => {
  assert.throws(() => loadConfig({ STRONGROOM_TLS_CERT_FILE: '/x/cert.pem' }), /set together/);
});

test('every variable is described', () => {
  for (const row of describeConfig()) assert.ok(row.description.length > 10, `${row.name} needs a description`);
});
