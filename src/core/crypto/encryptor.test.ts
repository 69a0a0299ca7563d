import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecryptionError } from './aead.ts';
import { createBarrier } from './barrier.ts';
import {
  bindEncryptor,
  createDataKey,
  createWorkspaceKey,
  workspaceEncryptor,
  workspaceKeyVersionOf,
  type WorkspaceKey,
} from './encryptor.ts';
import { Keyring } from './keyring.ts';

const WS_KEY: WorkspaceKey = { version: 1, key: Buffer.from(Array.from({ length: 32 }, (_, i) => 0x20 + i)) };
const NONCE = Buffer.from('000102030405060708090a0b', 'hex');
const DEK = Buffer.alloc(32, 0x11);

// "hello" for workspace "ws-1", context "vault/secret/db"; DEK 0x11×32 for object "obj-1".
const WS_VECTOR = '02' + '00000001' + '000102030405060708090a0b' + '343731cb25' + '9b8b0f3679c2c80c0adf847ce032a414';
const DEK_VECTOR =
  '03' +
  '00000001' +
  '000102030405060708090a0b' +
  '4d434cb65b24fafdade8d8d737624f2d0261f8757b00b700351cc2abaa90da89' +
  '74fefff4359182019ee6a97026089712';

function flips(ct: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < ct.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = Buffer.from(ct);
      bad[i]! ^= 1 << bit;
      out.push(bad);
    }
  }
  return out;
}

test('bindEncryptor fixes table and column; the row id is the context', () => {
  const barrier = createBarrier({ keyring: Keyring.create() });
  const seeds = bindEncryptor(barrier, { table: 'users', column: 'totp_seed' });
  const ct = seeds.seal(Buffer.from('seed'), 'u1');
  assert.equal(seeds.open(ct, 'u1').toString(), 'seed');
  assert.equal(barrier.open(ct, { table: 'users', column: 'totp_seed', rowId: 'u1' }).toString(), 'seed');
  assert.throws(() => seeds.open(ct, 'u2'), DecryptionError);
  assert.throws(() => bindEncryptor(barrier, { table: 'users', column: 'password' }).open(ct, 'u1'), DecryptionError);
});

test('workspace encryptor and wrapped DEK known-answer vectors', () => {
  const ws = workspaceEncryptor('ws-1', WS_KEY, { unsafeNonce: NONCE });
  assert.equal(ws.seal(Buffer.from('hello'), 'vault/secret/db').toString('hex'), WS_VECTOR);
  assert.equal(ws.wrapDataKey('obj-1', DEK).toString('hex'), DEK_VECTOR);
  const reader = workspaceEncryptor('ws-1', WS_KEY);
  assert.equal(reader.open(Buffer.from(WS_VECTOR, 'hex'), 'vault/secret/db').toString(), 'hello');
  assert.deepEqual(reader.unwrapDataKey('obj-1', Buffer.from(DEK_VECTOR, 'hex')), DEK);
});

test('every flipped bit, truncation or extension fails, for values and wrapped DEKs', () => {
  const ws = workspaceEncryptor('ws-1', WS_KEY);
  const value = Buffer.from(WS_VECTOR, 'hex');
  const wrapped = Buffer.from(DEK_VECTOR, 'hex');
  for (const bad of flips(value)) assert.throws(() => ws.open(bad, 'vault/secret/db'), DecryptionError);
  for (const bad of flips(wrapped)) assert.throws(() => ws.unwrapDataKey('obj-1', bad), DecryptionError);
  for (let len = 0; len < value.length; len++)
    assert.throws(() => ws.open(value.subarray(0, len), 'vault/secret/db'), DecryptionError);
  for (let len = 0; len < wrapped.length; len++)
    assert.throws(() => ws.unwrapDataKey('obj-1', wrapped.subarray(0, len)), DecryptionError);
  assert.throws(() => ws.open(Buffer.concat([value, Buffer.of(0)]), 'vault/secret/db'), DecryptionError);
  assert.throws(() => ws.unwrapDataKey('obj-1', Buffer.concat([wrapped, Buffer.of(0)])), DecryptionError);
});

test('swapped workspace, context, object id or key version fails', () => {
  const value = Buffer.from(WS_VECTOR, 'hex');
  const wrapped = Buffer.from(DEK_VECTOR, 'hex');
  const other = workspaceEncryptor('ws-2', WS_KEY);
  assert.throws(() => other.open(value, 'vault/secret/db'), DecryptionError);
  assert.throws(() => other.unwrapDataKey('obj-1', wrapped), DecryptionError);
  const ws = workspaceEncryptor('ws-1', WS_KEY);
  assert.throws(() => ws.open(value, 'vault/secret/dc'), DecryptionError);
  assert.throws(() => ws.unwrapDataKey('obj-2', wrapped), DecryptionError);
  const v2 = workspaceEncryptor('ws-1', { version: 2, key: WS_KEY.key });
  assert.throws(() => v2.open(value, 'vault/secret/db'), DecryptionError);
  assert.throws(() => v2.unwrapDataKey('obj-1', wrapped), DecryptionError);
  assert.throws(() => ws.unwrapDataKey('vault/secret/db', value), DecryptionError, 'a value is not a wrapped DEK');
});

test('crypto-shredding: without the workspace key nothing opens', () => {
  const key = createWorkspaceKey();
  const ws = workspaceEncryptor('ws-1', key);
  const dek = createDataKey();
  const wrapped = ws.wrapDataKey('obj-1', dek);
  const value = ws.seal(Buffer.from('v'), 'c');
  const replacement = workspaceEncryptor('ws-1', createWorkspaceKey());
  assert.throws(() => replacement.open(value, 'c'), DecryptionError);
  assert.throws(() => replacement.unwrapDataKey('obj-1', wrapped), DecryptionError);
  key.key.fill(0);
  assert.throws(() => ws.open(value, 'c'), DecryptionError);
});

test('workspaceKeyVersionOf reads the header; random keys and DEKs differ', () => {
  assert.equal(workspaceKeyVersionOf(Buffer.from(WS_VECTOR, 'hex')), 1);
  const k7 = createWorkspaceKey(7);
  assert.equal(workspaceKeyVersionOf(workspaceEncryptor('w', k7).wrapDataKey('o', createDataKey())), 7);
  assert.throws(() => workspaceKeyVersionOf(Buffer.alloc(3)), DecryptionError);
  assert.notDeepEqual(createDataKey(), createDataKey());
  assert.notDeepEqual(createWorkspaceKey().key, createWorkspaceKey().key);
  assert.throws(() => createWorkspaceKey(0), RangeError);
  assert.throws(() => workspaceEncryptor('', WS_KEY), TypeError);
  assert.throws(() => workspaceEncryptor('w', WS_KEY).wrapDataKey('o', Buffer.alloc(16)), RangeError);
});
