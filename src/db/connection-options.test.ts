import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLoopbackHost, planPgConnection } from './connection-options.ts';

const strict = { allowWeakTls: false };

test('loopback and sockets connect without TLS by default', () => {
  for (const url of [
    'postgres://u@127.0.0.1:5432/db',
    'postgres://u@localhost/db',
    'postgres://u@[::1]/db',
    'postgres:///db?host=/var/run/postgresql',
  ]) {
    assert.equal(planPgConnection(url, strict).ssl, false, url);
  }
  assert.ok(isLoopbackHost('127.8.9.10'));
  assert.ok(!isLoopbackHost('128.0.0.1'));
  assert.ok(!isLoopbackHost('localhost.evil.example'));
});

test('a remote server gets verify-full by default, also with sslmode=verify-full', () => {
  for (const url of ['postgres://u:pw@db.example.com/db', 'postgres://u:pw@db.example.com/db?sslmode=verify-full']) {
    const plan = planPgConnection(url, { ...strict, caPem: 'CA' });
    assert.deepEqual(plan.ssl, { rejectUnauthorized: true, ca: 'CA' });
    assert.ok(!plan.connectionString.includes('sslmode'));
    assert.ok(!plan.summary.includes('pw'), 'summary has no credentials');
  }
});

test('encryption without verification is refused even with the weak flag', () => {
  for (const mode of ['require', 'prefer', 'allow']) {
    assert.throws(
      () => planPgConnection(`postgres://u@db.example.com/db?sslmode=${mode}`, { allowWeakTls: true }),
      /encrypts without verifying/,
    );
  }
});

test('disable and verify-ca need the explicit flag', () => {
  assert.throws(() => planPgConnection('postgres://u@db.example.com/db?sslmode=disable', strict), /ALLOW_WEAK_TLS/);
  assert.throws(() => planPgConnection('postgres://u@db.example.com/db?sslmode=verify-ca', strict), /ALLOW_WEAK_TLS/);
  assert.equal(planPgConnection('postgres://u@db.example.com/db?sslmode=disable', { allowWeakTls: true }).ssl, false);
  const ca = planPgConnection('postgres://u@db.example.com/db?sslmode=verify-ca', { allowWeakTls: true }).ssl;
  assert.ok(ca && ca.rejectUnauthorized === true && typeof ca.checkServerIdentity === 'function');
});
