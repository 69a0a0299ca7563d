import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import { test } from 'node:test';
import { AppError } from '../errors.ts';
import { DecryptionError } from './aead.ts';
import { createBarrier, type BarrierContext } from './barrier.ts';
import { Keyring } from './keyring.ts';

const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const NONCE = Buffer.from('000102030405060708090a0b', 'hex');
const T0 = new Date('2025-01-01T00:00:00.000Z');
const CTX: BarrierContext = { table: 'secrets', column: 'value', rowId: 'row-1' };

// "hello" sealed for CTX under term 1 = KEY with NONCE.
const BARRIER_VECTOR =
  '01' + '00000001' + '000102030405060708090a0b' + '2f67ba77aa' + '1df96aaf630126bc3c7cfdf2c32cc793';
// encodeAad(['strongroom/barrier', 1, 1, 'secrets', 'value', 'row-1']), written out by hand.
const BARRIER_AAD =
  '73' +
  '00000012' +
  Buffer.from('strongroom/barrier').toString('hex') +
  '6e' +
  '00000008' +
  '0000000000000001' +
  '6e' +
  '00000008' +
  '0000000000000001' +
  '73' +
  '00000007' +
  Buffer.from('secrets').toString('hex') +
  '73' +
  '00000005' +
  Buffer.from('value').toString('hex') +
  '73' +
  '00000005' +
  Buffer.from('row-1').toString('hex');

const fixedRing = () => Keyring.fromRecords([{ term: 1, createdAt: T0, key: KEY }]);
const hasCode = (code: string, detail?: RegExp) => (err: unknown) =>
  err instanceof AppError && err.code === code && (detail === undefined || detail.test(err.detail ?? ''));

test('barrier known-answer vector', () => {
  const barrier = createBarrier({ keyring: fixedRing(), unsafeNonce: NONCE });
  const ct = barrier.seal(Buffer.from('hello'), CTX);
  assert.equal(ct.toString('hex'), BARRIER_VECTOR);
  assert.equal(barrier.open(ct, CTX).toString(), 'hello');
});

test('the vector decrypts with plain node:crypto and the documented AAD (format is as documented)', () => {
  const ct = Buffer.from(BARRIER_VECTOR, 'hex');
  const d = createDecipheriv('aes-256-gcm', KEY, ct.subarray(5, 17), { authTagLength: 16 });
  d.setAAD(Buffer.from(BARRIER_AAD, 'hex'));
  d.setAuthTag(ct.subarray(ct.length - 16));
  assert.equal(Buffer.concat([d.update(ct.subarray(17, ct.length - 16)), d.final()]).toString(), 'hello');
});

test('every flipped bit fails to open', () => {
  const barrier = createBarrier({ keyring: fixedRing() });
  const ct = Buffer.from(BARRIER_VECTOR, 'hex');
  for (let i = 0; i < ct.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = Buffer.from(ct);
      bad[i]! ^= 1 << bit;
      assert.throws(() => barrier.open(bad, CTX), DecryptionError, `byte ${i} bit ${bit}`);
    }
  }
});

test('truncated, extended or reordered ciphertexts fail', () => {
  const barrier = createBarrier({ keyring: fixedRing() });
  const ct = Buffer.from(BARRIER_VECTOR, 'hex');
  for (let len = 0; len < ct.length; len++)
    assert.throws(() => barrier.open(ct.subarray(0, len), CTX), DecryptionError);
  assert.throws(() => barrier.open(Buffer.concat([ct, Buffer.of(0)]), CTX), DecryptionError);
  const tagFirst = Buffer.concat([ct.subarray(0, 17), ct.subarray(ct.length - 16), ct.subarray(17, ct.length - 16)]);
  assert.throws(() => barrier.open(tagFirst, CTX), DecryptionError);
});

test('a ciphertext moved to another table, column or row fails', () => {
  const barrier = createBarrier({ keyring: Keyring.create() });
  const ct = barrier.seal(Buffer.from('v'), CTX);
  for (const other of [
    { ...CTX, table: 'secrets2' },
    { ...CTX, column: 'name' },
    { ...CTX, rowId: 'row-2' },
    { table: 'secretsvalue', column: 'row', rowId: '-1' },
  ]) {
    assert.throws(() => barrier.open(ct, other), DecryptionError);
  }
  assert.throws(() => barrier.seal(Buffer.from('v'), { ...CTX, rowId: '' }), TypeError);
});

test('rotation: old values open, new seals use the new term, rewrap moves them, retire cuts them off', () => {
  const one = Keyring.create();
  const barrier = createBarrier({ keyring: one });
  const old = barrier.seal(Buffer.from('old'), CTX);
  assert.equal(barrier.termOf(old), 1);

  barrier.replaceKeyring(one.rotate());
  assert.equal(one.isWiped, true, 'the replaced keyring is wiped');
  assert.equal(barrier.activeTerm(), 2);
  assert.equal(barrier.open(old, CTX).toString(), 'old');
  const fresh = barrier.seal(Buffer.from('new'), CTX);
  assert.equal(barrier.termOf(fresh), 2);
  assert.equal(barrier.rewrap(fresh, CTX), fresh, 'already current: same buffer');

  const moved = barrier.rewrap(old, CTX);
  assert.equal(barrier.termOf(moved), 2);
  assert.equal(barrier.open(moved, CTX).toString(), 'old');
  assert.throws(() => barrier.rewrap(old, { ...CTX, rowId: 'row-2' }), DecryptionError);
});

test('a ciphertext naming a different live term fails; a retired term fails with its own message', () => {
  const barrier = createBarrier({ keyring: Keyring.create().rotate() });
  const ct = barrier.seal(Buffer.from('v'), CTX);
  const relabelled = Buffer.from(ct);
  relabelled.writeUInt32BE(1, 1);
  assert.throws(() => barrier.open(relabelled, CTX), DecryptionError);

  const one = Keyring.create();
  const b2 = createBarrier({ keyring: one });
  const old = b2.seal(Buffer.from('old'), CTX);
  const two = one.rotate();
  b2.replaceKeyring(two);
  b2.replaceKeyring(two.retire(1));
  assert.throws(() => b2.open(old, CTX), hasCode('KEY_DESTROYED', /^key term 1 was retired$/));
  assert.throws(() => b2.rewrap(old, CTX), hasCode('KEY_DESTROYED'));
});

test('replaceKeyring refuses an older keyring', () => {
  const one = Keyring.create();
  const two = one.rotate();
  const barrier = createBarrier({ keyring: two });
  assert.throws(() => barrier.replaceKeyring(one), hasCode('CONFLICT'));
  assert.equal(barrier.activeTerm(), 2);
});

test('a sealed barrier refuses every operation with SEALED', () => {
  const barrier = createBarrier();
  const ct = Buffer.from(BARRIER_VECTOR, 'hex');
  assert.equal(barrier.isSealed, true);
  const ops = [
    () => barrier.seal(Buffer.from('x'), CTX),
    () => barrier.open(ct, CTX),
    () => barrier.termOf(ct),
    () => barrier.rewrap(ct, CTX),
    () => barrier.activeTerm(),
    () => barrier.replaceKeyring(Keyring.create()),
  ];
  for (const op of ops) assert.throws(op, hasCode('SEALED'));
});

test('unseal, then sealAndWipe zero-fills the keys and seals again', () => {
  const barrier = createBarrier();
  const ring = fixedRing();
  const keyBuffer = ring.keyFor(1);
  barrier.unseal(ring);
  assert.equal(barrier.isSealed, false);
  assert.throws(() => barrier.unseal(Keyring.create()), hasCode('CONFLICT'));
  const ct = barrier.seal(Buffer.from('x'), CTX);
  barrier.sealAndWipe();
  assert.equal(barrier.isSealed, true);
  assert.ok(keyBuffer.every((b) => b === 0));
  assert.throws(() => barrier.open(ct, CTX), hasCode('SEALED'));
  assert.throws(() => barrier.unseal(ring), hasCode('SEALED', /wiped/));
  barrier.unseal(fixedRing());
  assert.equal(barrier.open(ct, CTX).toString(), 'x');
});
