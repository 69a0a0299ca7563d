import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../errors.ts';
import { DecryptionError } from './aead.ts';
import { Keyring, openKeyring, resealKeyring, sealKeyring } from './keyring.ts';

const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const ROOT = Buffer.alloc(32, 0xaa);
const NONCE = Buffer.from('000102030405060708090a0b', 'hex');
const T0 = new Date('2025-01-01T00:00:00.000Z');
const T1 = new Date('2025-06-01T00:00:00.000Z');

// Term 1 retired (no key), term 2 live with KEY; sealed under ROOT with NONCE.
const KEYRING_VECTOR =
  '53524b5201000102030405060708090a0b9ad8d0f6f48cf1e7b74607f2e11586d98d1fdac2948e1476210ac7a5a27d6156ee1751463c43c0620588d639fdf389fb6393a0e33a63f578e06645875cae52ef261c1edd9ef988e7cff084c648e7cc33e43bffe6e92fad52ad3a331f27dca48a210f9aac5dfb4430a92b8a2d28fecddbf8be2140a73573adf52508c7';

const fixedKeyring = () =>
  Keyring.fromRecords([
    { term: 1, createdAt: T0, retiredAt: T1 },
    { term: 2, createdAt: T1, key: KEY },
  ]);
const hasCode = (code: string, detail?: RegExp) => (err: unknown) =>
  err instanceof AppError && err.code === code && (detail === undefined || detail.test(err.detail ?? ''));

test('keyring serialization known-answer vector', () => {
  assert.equal(sealKeyring(fixedKeyring(), ROOT, { unsafeNonce: NONCE }).toString('hex'), KEYRING_VECTOR);
  const opened = openKeyring(Buffer.from(KEYRING_VECTOR, 'hex'), ROOT);
  assert.equal(opened.activeTerm, 2);
  assert.deepEqual(opened.keyFor(2), KEY);
  assert.deepEqual(opened.terms, [
    { term: 1, createdAt: T0, retiredAt: T1 },
    { term: 2, createdAt: T1 },
  ]);
});

test('a new keyring has term 1 with a random key', () => {
  const a = Keyring.create(T0);
  const b = Keyring.create(T0);
  assert.equal(a.activeTerm, 1);
  assert.equal(a.keyFor(1).length, 32);
  assert.notDeepEqual(a.keyFor(1), b.keyFor(1));
  assert.deepEqual(a.terms, [{ term: 1, createdAt: T0 }]);
});

test('rotate returns a new keyring with term n+1 active and leaves the original unchanged', () => {
  const one = Keyring.create(T0);
  const two = one.rotate(T1);
  assert.equal(one.activeTerm, 1);
  assert.equal(two.activeTerm, 2);
  assert.deepEqual(two.keyFor(1), one.keyFor(1));
  assert.notEqual(two.keyFor(1), one.keyFor(1), 'each keyring owns its own key buffers');
  assert.notDeepEqual(two.keyFor(2), two.keyFor(1));
});

test('retire refuses the active term, drops the key, and keyFor says "retired"', () => {
  const two = Keyring.create(T0).rotate(T1);
  assert.throws(() => two.retire(2), hasCode('CONFLICT'));
  assert.throws(() => two.retire(9), hasCode('INTERNAL', /not in the keyring/));
  const retired = two.retire(1, T1);
  assert.throws(() => retired.keyFor(1), hasCode('KEY_DESTROYED', /key term 1 was retired/));
  assert.throws(() => retired.keyFor(3), hasCode('INTERNAL', /key term 3 is not in the keyring/));
  assert.equal(retired.has(1), true);
  assert.deepEqual(retired.terms[0], { term: 1, createdAt: T0, retiredAt: T1 });
  const reopened = openKeyring(sealKeyring(retired, ROOT), ROOT);
  assert.throws(() => reopened.keyFor(1), hasCode('KEY_DESTROYED'));
  assert.equal(sealKeyring(retired, ROOT).length, sealKeyring(two, ROOT).length, 'fixed-size entries');
});

test('fromRecords enforces the invariants', () => {
  assert.throws(() => Keyring.fromRecords([]), RangeError);
  assert.throws(() => Keyring.fromRecords([{ term: 2, createdAt: T0, key: KEY }]), RangeError);
  assert.throws(() => Keyring.fromRecords([{ term: 1, createdAt: T0, key: KEY.subarray(1) }]), RangeError);
  assert.throws(() => Keyring.fromRecords([{ term: 1, createdAt: T0, retiredAt: T1 }]), RangeError);
  assert.throws(() => Keyring.fromRecords([{ term: 1, createdAt: T0 }]), RangeError);
  assert.throws(() => Keyring.fromRecords([{ term: 1, createdAt: new Date(Number.NaN), key: KEY }]), RangeError);
});

test('round trip under a random keyring', () => {
  const ring = Keyring.create().rotate().rotate();
  const opened = openKeyring(sealKeyring(ring, ROOT), ROOT);
  assert.equal(opened.activeTerm, 3);
  for (const t of [1, 2, 3]) assert.deepEqual(opened.keyFor(t), ring.keyFor(t));
});

test('a wrong root key, any flipped bit, truncation or extension fails to open', () => {
  const blob = Buffer.from(KEYRING_VECTOR, 'hex');
  assert.throws(() => openKeyring(blob, Buffer.alloc(32, 0xab)), DecryptionError);
  for (let i = 0; i < blob.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = Buffer.from(blob);
      bad[i]! ^= 1 << bit;
      assert.throws(() => openKeyring(bad, ROOT), DecryptionError, `byte ${i} bit ${bit}`);
    }
  }
  for (let len = 0; len < blob.length; len++)
    assert.throws(() => openKeyring(blob.subarray(0, len), ROOT), DecryptionError);
  assert.throws(() => openKeyring(Buffer.concat([blob, Buffer.of(0)]), ROOT), DecryptionError);
});

test('root rotation re-seals the same keyring under a new root key', () => {
  const newRoot = Buffer.alloc(32, 0x55);
  const blob = resealKeyring(Buffer.from(KEYRING_VECTOR, 'hex'), ROOT, newRoot);
  assert.throws(() => openKeyring(blob, ROOT), DecryptionError);
  const opened = openKeyring(blob, newRoot);
  assert.equal(opened.activeTerm, 2);
  assert.deepEqual(opened.keyFor(2), KEY);
  assert.throws(() => resealKeyring(blob, ROOT, newRoot), DecryptionError);
});

test('wipe zero-fills every key buffer and then refuses every use with SEALED', () => {
  const ring = Keyring.create().rotate();
  const buffers = [ring.keyFor(1), ring.keyFor(2)];
  ring.wipe();
  for (const b of buffers) assert.ok(b.every((x) => x === 0));
  assert.equal(ring.isWiped, true);
  assert.throws(() => ring.keyFor(1), hasCode('SEALED'));
  assert.throws(() => ring.activeTerm, hasCode('SEALED'));
  assert.throws(() => sealKeyring(ring, ROOT), hasCode('SEALED'));
  assert.throws(() => ring.rotate(), hasCode('SEALED'));
  ring.wipe();
});
