import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import {
  checkpointHash,
  checkpointSigningInput,
  generateSigningKey,
  keyPairFromSeed,
  makeCheckpoint,
  publicKeyFromRaw,
  rawPublicKey,
  seedOf,
  verifyCheckpoint,
  type SignedCheckpoint,
} from './checkpoint.ts';
import { AuditFormatError, GENESIS_HEAD } from './event.ts';
import { otherKeys, TEST_KEY_ID, TEST_SEED, testKeys } from './fixtures.ts';

const HEAD = { seq: 3, hash: '05245400b605c169a042f3ecd4d7fe9e5a45ec899400fd5217bc50a821dca40c' };
const TIME = '2025-01-31T12:00:03.000Z';
const KAT_SIGNATURE =
  '670f7cdce0ac0f93176224cc5bf4dc4beef255537251035974b796e90cf735b6517484d734c0b54f25209df5e4bf6c4b2f63c54b27566f2df6261e3d7566fb02';

test('seed handling matches RFC 8032 (test 1 public key)', () => {
  assert.equal(
    rawPublicKey(testKeys.publicKey).toString('hex'),
    'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  );
  assert.deepEqual(seedOf(testKeys.privateKey), TEST_SEED);
  assert.equal(publicKeyFromRaw(rawPublicKey(testKeys.publicKey)).equals(testKeys.publicKey), true);
  const fresh = generateSigningKey();
  assert.equal(fresh.seed.length, 32);
  assert.equal(keyPairFromSeed(fresh.seed).publicKey.equals(fresh.publicKey), true);
  assert.throws(() => keyPairFromSeed(Buffer.alloc(31)), RangeError);
});

test('known answer: fixed seed, fixed checkpoint, pinned signing input and signature', () => {
  const cp = makeCheckpoint(HEAD, testKeys.privateKey, TEST_KEY_ID, TIME);
  assert.deepEqual(cp, { treeSize: 3, headHash: HEAD.hash, time: TIME, keyId: TEST_KEY_ID, signature: KAT_SIGNATURE });
  assert.equal(
    checkpointSigningInput(cp).toString('utf8'),
    'strongroom/audit-checkpoint/v1\0{"headHash":"' +
      HEAD.hash +
      '","keyId":"audit-test-1","time":"' +
      TIME +
      '","treeSize":3}',
  );
  assert.equal(checkpointHash(cp), '427f9df6e5ebaf82a8c774b20bcfda4debba8bb0b8e2df97f97c64d02f914c71');
  assert.equal(verifyCheckpoint(cp, testKeys.publicKey), true);
});

test('any change to a signed field, or the wrong key, fails verification', () => {
  const cp = makeCheckpoint(HEAD, testKeys.privateKey, TEST_KEY_ID, TIME);
  const altered: SignedCheckpoint[] = [
    { ...cp, treeSize: 4 },
    { ...cp, headHash: '1'.repeat(64) },
    { ...cp, time: '2025-01-31T12:00:03.001Z' },
    { ...cp, keyId: 'audit-test-2' },
    { ...cp, prevCheckpointHash: '2'.repeat(64) },
    { ...cp, signature: cp.signature.slice(0, -1) + (cp.signature.endsWith('0') ? '1' : '0') },
  ];
  for (const [i, bad] of altered.entries())
    assert.equal(verifyCheckpoint(bad, testKeys.publicKey), false, `alteration ${i}`);
  assert.equal(verifyCheckpoint(cp, otherKeys.publicKey), false);
  assert.equal(verifyCheckpoint(cp, generateKeyPairSync('ed448').publicKey), false);
  assert.equal(verifyCheckpoint({ ...cp, extra: 1 }, testKeys.publicKey), false);
  assert.equal(verifyCheckpoint(null, testKeys.publicKey), false);
});

test('checkpoints link to their predecessor by hash', () => {
  const first = makeCheckpoint(HEAD, testKeys.privateKey, TEST_KEY_ID, TIME);
  const second = makeCheckpoint({ seq: 9, hash: 'a'.repeat(64) }, testKeys.privateKey, TEST_KEY_ID, TIME, first);
  assert.equal(second.prevCheckpointHash, checkpointHash(first));
  assert.equal(verifyCheckpoint(second, testKeys.publicKey), true);
  assert.throws(
    () => makeCheckpoint({ seq: 2, hash: 'a'.repeat(64) }, testKeys.privateKey, TEST_KEY_ID, TIME, first),
    AuditFormatError,
  );
});

test('makeCheckpoint refuses bad inputs', () => {
  assert.doesNotThrow(() => makeCheckpoint(GENESIS_HEAD, testKeys.privateKey, TEST_KEY_ID, TIME));
  assert.throws(() => makeCheckpoint(HEAD, testKeys.publicKey, TEST_KEY_ID, TIME), AuditFormatError);
  assert.throws(
    () => makeCheckpoint(HEAD, generateKeyPairSync('ed448').privateKey, TEST_KEY_ID, TIME),
    AuditFormatError,
  );
  assert.throws(() => makeCheckpoint(HEAD, testKeys.privateKey, 'bad key id', TIME), AuditFormatError);
  assert.throws(() => makeCheckpoint(HEAD, testKeys.privateKey, TEST_KEY_ID, '2025-01-31'), AuditFormatError);
  assert.throws(
    () => makeCheckpoint({ seq: 1.5, hash: HEAD.hash }, testKeys.privateKey, TEST_KEY_ID, TIME),
    AuditFormatError,
  );
  assert.throws(
    () => makeCheckpoint({ seq: 1, hash: 'XYZ' }, testKeys.privateKey, TEST_KEY_ID, TIME),
    AuditFormatError,
  );
});
