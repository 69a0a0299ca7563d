import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAppError, toProblem } from '../errors.ts';
import { EgressDeniedError, hasEgressDenial } from './egress-error.ts';
import type { EgressReason } from './egress-error.ts';
import { BYPASS_HOSTS } from './egress-bypass.fixture.ts';
import { createEgressPolicy, METADATA_HOSTNAMES } from './egress-policy.ts';

function reasonOf(fn: () => unknown): EgressReason | 'ALLOWED' {
  try {
    fn();
    return 'ALLOWED';
  } catch (err) {
    assert.ok(err instanceof EgressDeniedError, String(err));
    return err.reason;
  }
}

test('every host in the bypass corpus is refused before any DNS, with its reason', () => {
  const policy = createEgressPolicy('');
  for (const [host, reason] of BYPASS_HOSTS)
    assert.equal(
      reasonOf(() => policy.checkHost(host)),
      reason,
      JSON.stringify(host),
    );
});

test('names and public literals pass checkHost (names are judged on their addresses later)', () => {
  const policy = createEgressPolicy('');
  assert.deepEqual(policy.checkHost('S3.Example.COM.'), { kind: 'name', name: 's3.example.com' });
  assert.deepEqual(policy.checkHost('8.8.8.8'), { kind: 'ipv4', address: '8.8.8.8' });
  assert.deepEqual(policy.checkHost('0x8.0x8.0x8.0x8'), { kind: 'ipv4', address: '8.8.8.8' });
  assert.deepEqual(policy.checkHost('[2606:4700::1111]'), { kind: 'ipv6', address: '2606:4700::1111' });
  assert.deepEqual(policy.checkHost('localhost'), { kind: 'name', name: 'localhost' });
});

test('a name passes only if every address passes', () => {
  const policy = createEgressPolicy('');
  policy.checkAddresses('ok.example', ['8.8.8.8', '2606:4700::1111']);
  assert.equal(
    reasonOf(() => policy.checkAddresses('mixed.example', ['8.8.8.8', '10.0.0.1'])),
    'PRIVATE',
  );
  assert.equal(
    reasonOf(() => policy.checkAddresses('mixed.example', ['2606:4700::1111', '::1'])),
    'LOOPBACK',
  );
  assert.equal(
    reasonOf(() => policy.checkAddresses('none.example', [])),
    'NO_ADDRESS',
  );
});

test('the allowlist is the only way through, and never for metadata', () => {
  const policy = createEgressPolicy(['127.0.0.1/32', '169.254.0.0/16']);
  policy.checkHost('127.0.0.1');
  policy.checkHost('127.1');
  policy.checkHost('[::ffff:127.0.0.1]');
  assert.equal(
    reasonOf(() => policy.checkHost('127.0.0.2')),
    'LOOPBACK',
  );
  assert.equal(
    reasonOf(() => policy.checkHost('[::1]')),
    'LOOPBACK',
  );
  assert.equal(
    reasonOf(() => policy.checkHost('169.254.169.254')),
    'METADATA',
  );
  assert.equal(
    reasonOf(() => policy.checkHost('metadata.google.internal')),
    'METADATA_HOST',
  );
  policy.checkAddresses('emulator.test', ['127.0.0.1']);
  assert.equal(
    reasonOf(() => policy.checkAddresses('emulator.test', ['127.0.0.1', '::1'])),
    'LOOPBACK',
  );
});

test('refusals are EGRESS_DENIED problems with a plain detail and a reason', () => {
  const policy = createEgressPolicy('');
  try {
    policy.checkAddresses('localhost', ['127.0.0.1']);
    assert.fail('must throw');
  } catch (err) {
    assert.ok(isAppError(err));
    assert.equal(err.code, 'EGRESS_DENIED');
    assert.equal(err.detail, 'localhost resolves to a loopback address 127.0.0.1');
    const body = toProblem(err);
    assert.equal(body.status, 422);
    assert.equal(body.reason, 'LOOPBACK');
  }
  assert.throws(() => policy.checkHost('0x7f.1'), { detail: 'the host is a loopback address 127.0.0.1' });
  assert.ok(Object.isFrozen(METADATA_HOSTNAMES));
});

test('hasEgressDenial finds a refusal however an SDK wrapped it', () => {
  const denied = new EgressDeniedError('LOOPBACK', 'x');
  assert.ok(hasEgressDenial(denied));
  assert.ok(hasEgressDenial(new Error('request failed', { cause: new Error('socket', { cause: denied }) })));
  assert.ok(hasEgressDenial(Object.assign(new Error('FetchError'), { code: 'EGRESS_DENIED' })));
  assert.ok(!hasEgressDenial(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })));
  assert.ok(!hasEgressDenial('EGRESS_DENIED'));
});
