/**
 * Every way a hostile drive can alter an object must fail closed with an ObjectFormatError and
 * release no plaintext of the failing segment: flipped bits anywhere, truncation, extension,
 * dropped, reordered and duplicated segments, another object's header, wrong keys and ids.
 * Small segments (16 bytes) keep the exhaustive loops fast; the logic does not depend on size.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors.ts';
import {
  ObjectFormatError,
  ciphertextRangeFor,
  createDecryptStream,
  createRangeDecryptStream,
  createObjectCipher,
  decryptObject,
  decryptRange,
  decryptSegment,
  encryptObject,
  encryptPart,
  encryptSegment,
  openObjectCipher,
  verifyObject,
  OBJECT_HEADER_LENGTH,
  type ObjectFormatReason,
  type ObjectKeyParams,
} from './object-format.ts';

const SEG = 16;
const UNIT = SEG + 16;
const H = OBJECT_HEADER_LENGTH;
const KEY: ObjectKeyParams = { dataKey: Buffer.alloc(32, 0x11), workspaceId: 'ws-1', objectId: 'obj-1' };
const NEW = { ...KEY, keyTerm: 3, segmentSize: SEG };
// 4 segments: 16 + 16 + 16 + 5 bytes.
const PT = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ');
const OBJ = encryptObject(NEW, PT);
const seg = (obj: Buffer, i: number) => obj.subarray(H + i * UNIT, Math.min(obj.length, H + (i + 1) * UNIT));
const segments = (obj: Buffer) => Array.from({ length: Math.ceil((obj.length - H) / UNIT) }, (_, i) => seg(obj, i));
const assemble = (header: Buffer, segs: Buffer[]) => Buffer.concat([header, ...segs]);

function isFormatError(reason?: ObjectFormatReason) {
  return (err: unknown) => {
    assert.ok(err instanceof ObjectFormatError && err instanceof AppError, `not an ObjectFormatError: ${String(err)}`);
    assert.equal(err.code, 'DECRYPTION_FAILED');
    if (reason) assert.equal(err.reason, reason);
    return true;
  };
}

/** Runs the decrypt stream over `obj` fed in `chunk`-byte pieces; returns what it emitted and the error. */
async function streamDecrypt(obj: Buffer, params: Parameters<typeof createDecryptStream>[0] = KEY, chunk = 7) {
  const got: Buffer[] = [];
  const pieces = Array.from({ length: Math.ceil(obj.length / chunk) }, (_, i) =>
    obj.subarray(i * chunk, (i + 1) * chunk),
  );
  const sink = new Writable({
    write(b: Buffer, _e, cb) {
      got.push(Buffer.from(b));
      cb();
    },
  });
  let error: unknown;
  try {
    await pipeline(Readable.from(pieces), createDecryptStream(params, { highWaterMark: 64 }), sink);
  } catch (err) {
    error = err;
  }
  return { out: Buffer.concat(got), error };
}

/** Decrypt must fail both ways; the stream may emit only whole verified segments before `failing`. */
async function assertFails(obj: Buffer, reason?: ObjectFormatReason, params: ObjectKeyParams = KEY) {
  assert.throws(() => decryptObject(params, obj), isFormatError(reason));
  const { out, error } = await streamDecrypt(obj, params);
  assert.ok(error, 'the stream did not fail');
  isFormatError(reason)(error);
  const failing = (error as ObjectFormatError).segment;
  assert.equal(out.length % SEG, 0, 'a partial segment was released');
  assert.deepEqual(out, PT.subarray(0, out.length), 'released bytes are not the authentic prefix');
  if (failing !== undefined)
    assert.ok(out.length <= failing * SEG, `plaintext of failing segment ${failing} was released`);
}

test('the untouched object opens, whole and streamed at every chunking', async () => {
  assert.deepEqual(decryptObject(KEY, OBJ), PT);
  for (const chunk of [1, 2, 15, 16, 31, 32, 33, 85, 86, 1000]) {
    const { out, error } = await streamDecrypt(OBJ, KEY, chunk);
    assert.equal(error, undefined);
    assert.deepEqual(out, PT);
  }
});

test('every flipped bit anywhere in the object fails closed', async () => {
  for (let i = 0; i < OBJ.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = Buffer.from(OBJ);
      bad[i]! ^= 1 << bit;
      await assertFails(bad);
    }
  }
});

test('header bytes: magic, version, segment size, prefix, key term and commitment are all bound', async () => {
  const flip = (at: number) => {
    const b = Buffer.from(OBJ);
    b[at]! ^= 1;
    return b;
  };
  await assertFails(flip(0), 'HEADER_INVALID');
  await assertFails(flip(4), 'UNSUPPORTED_VERSION');
  await assertFails(flip(5), 'UNSUPPORTED_VERSION');
  await assertFails(flip(9), 'SEGMENT_AUTH_FAILED'); // segment size 16 → 17: still valid, no longer the AAD
  await assertFails(flip(10), 'KEY_COMMITMENT_MISMATCH'); // salt
  await assertFails(flip(42), 'SEGMENT_AUTH_FAILED'); // nonce prefix
  await assertFails(flip(52), 'SEGMENT_AUTH_FAILED'); // key term 3 → 2
  await assertFails(flip(84), 'KEY_COMMITMENT_MISMATCH'); // commitment
});

test('truncation at every length fails; at a segment boundary it says TRUNCATED', async () => {
  for (let len = 0; len < OBJ.length; len++) await assertFails(OBJ.subarray(0, len));
  for (const n of [0, 1, 2, 3]) await assertFails(OBJ.subarray(0, H + n * UNIT), 'TRUNCATED');
  await assertFails(OBJ.subarray(0, H - 1), 'TRUNCATED');
});

test('extension fails: a byte, a copy of the last segment, a whole extra segment', async () => {
  await assertFails(Buffer.concat([OBJ, Buffer.of(0)]));
  await assertFails(Buffer.concat([OBJ, seg(OBJ, 3)]));
  // A full final segment followed by anything: the decoder tells it was the final one.
  const full = encryptObject(NEW, PT.subarray(0, 3 * SEG));
  const extended = Buffer.concat([full, seg(full, 0)]);
  assert.throws(() => decryptObject(KEY, extended), isFormatError('TRAILING_DATA'));
});

test('dropped, reordered and duplicated segments fail', async () => {
  const s = segments(OBJ);
  const header = OBJ.subarray(0, H);
  await assertFails(assemble(header, [s[0]!, s[2]!, s[3]!]), 'SEGMENT_AUTH_FAILED'); // drop 1
  await assertFails(assemble(header, [s[0]!, s[1]!, s[3]!]), 'SEGMENT_AUTH_FAILED'); // drop 2
  await assertFails(assemble(header, [s[1]!, s[0]!, s[2]!, s[3]!]), 'SEGMENT_AUTH_FAILED'); // swap 0,1
  await assertFails(assemble(header, [s[0]!, s[1]!, s[1]!, s[2]!, s[3]!]), 'SEGMENT_AUTH_FAILED'); // duplicate 1
  await assertFails(assemble(header, [s[0]!, s[0]!, s[1]!, s[2]!, s[3]!]), 'SEGMENT_AUTH_FAILED'); // duplicate 0
  await assertFails(assemble(header, [s[3]!]), 'SEGMENT_AUTH_FAILED'); // only the final segment
});

test('a header swapped in from another object fails on the commitment, before any segment', async () => {
  const other = encryptObject({ ...NEW, dataKey: Buffer.alloc(32, 0x22), objectId: 'obj-2' }, PT);
  await assertFails(assemble(other.subarray(0, H), segments(OBJ)), 'KEY_COMMITMENT_MISMATCH');
  // Even the same DEK under another object id (never happens; DEKs are per object) is refused.
  const sameKey = encryptObject({ ...NEW, objectId: 'obj-2' }, PT);
  await assertFails(assemble(sameKey.subarray(0, H), segments(OBJ)), 'KEY_COMMITMENT_MISMATCH');
  // A fresh header of this very object (same DEK and ids, new salt): the commitment matches, the segments do not.
  await assertFails(assemble(encryptObject(NEW, PT).subarray(0, H), segments(OBJ)), 'SEGMENT_AUTH_FAILED');
  // Segments of another object of the same key under this header.
  await assertFails(assemble(OBJ.subarray(0, H), segments(encryptObject(NEW, PT))), 'SEGMENT_AUTH_FAILED');
});

test('wrong DEK, workspace or object id: KEY_COMMITMENT_MISMATCH, nothing emitted', async () => {
  for (const params of [
    { ...KEY, dataKey: Buffer.alloc(32, 0x12) },
    { ...KEY, workspaceId: 'ws-2' },
    { ...KEY, objectId: 'obj-2' },
  ]) {
    assert.throws(() => decryptObject(params, OBJ), isFormatError('KEY_COMMITMENT_MISMATCH'));
    const { out, error } = await streamDecrypt(OBJ, params);
    isFormatError('KEY_COMMITMENT_MISMATCH')(error);
    assert.equal(out.length, 0);
  }
});

test('expected size and key term are enforced', async () => {
  assert.throws(() => decryptObject({ ...KEY, expectedPlainSize: PT.length - 1 }, OBJ), isFormatError('SIZE_MISMATCH'));
  assert.throws(() => decryptObject({ ...KEY, expectedPlainSize: PT.length + 1 }, OBJ), isFormatError('SIZE_MISMATCH'));
  assert.throws(() => decryptObject({ ...KEY, expectedKeyTerm: 2 }, OBJ), isFormatError('KEY_COMMITMENT_MISMATCH'));
  assert.deepEqual(decryptObject({ ...KEY, expectedPlainSize: PT.length, expectedKeyTerm: 3 }, OBJ), PT);
});

test('an empty final segment after full ones is refused as non-canonical', () => {
  const cipher = createObjectCipher(NEW);
  const odd = Buffer.concat([
    cipher.headerBytes,
    encryptSegment(cipher, 0, false, PT.subarray(0, SEG)),
    encryptSegment(cipher, 1, true, Buffer.alloc(0)),
  ]);
  assert.throws(() => decryptObject(KEY, odd), isFormatError('NON_CANONICAL'));
});

test('decryptSegment checks lengths and tags; encryptSegment refuses wrong sizes', () => {
  const cipher = openObjectCipher(KEY, OBJ);
  assert.deepEqual(decryptSegment(cipher, 1, false, seg(OBJ, 1)), PT.subarray(SEG, 2 * SEG));
  assert.throws(() => decryptSegment(cipher, 1, true, seg(OBJ, 1)), isFormatError('SEGMENT_AUTH_FAILED'));
  assert.throws(() => decryptSegment(cipher, 2, false, seg(OBJ, 1)), isFormatError('SEGMENT_AUTH_FAILED'));
  assert.throws(() => decryptSegment(cipher, 1, false, seg(OBJ, 1).subarray(1)), isFormatError('TRUNCATED'));
  assert.throws(
    () => decryptSegment(cipher, 1, false, Buffer.concat([seg(OBJ, 1), Buffer.of(0)])),
    isFormatError('TRAILING_DATA'),
  );
  assert.throws(() => encryptSegment(cipher, 0, false, Buffer.alloc(SEG - 1)), RangeError);
  assert.throws(() => encryptSegment(cipher, 0, true, Buffer.alloc(SEG + 1)), RangeError);
  assert.throws(() => encryptSegment(cipher, 2 ** 32, true, Buffer.alloc(1)), RangeError);
});

test('range reads fail closed on tampered, short, long or misplaced bytes', async () => {
  const cipher = openObjectCipher(KEY, OBJ);
  const r = ciphertextRangeFor(20, 40, PT.length, SEG); // segments 1..2
  const fetched = OBJ.subarray(r.start, r.end);
  assert.deepEqual(decryptRange(cipher, r, fetched), PT.subarray(20, 40));
  const flipped = Buffer.from(fetched);
  flipped[5]! ^= 1;
  assert.throws(() => decryptRange(cipher, r, flipped), isFormatError('SEGMENT_AUTH_FAILED'));
  assert.throws(() => decryptRange(cipher, r, fetched.subarray(1)), isFormatError('TRUNCATED'));
  assert.throws(() => decryptRange(cipher, r, Buffer.concat([fetched, Buffer.of(0)])), isFormatError('TRAILING_DATA'));
  assert.throws(
    () => decryptRange(cipher, r, OBJ.subarray(r.start - UNIT, r.end - UNIT)),
    isFormatError('SEGMENT_AUTH_FAILED'),
  );
  const rangeStream = async (bytes: Buffer) => {
    const got: Buffer[] = [];
    await pipeline(
      Readable.from([bytes]),
      createRangeDecryptStream(cipher, r),
      new Writable({
        write(b: Buffer, _e, cb) {
          got.push(b);
          cb();
        },
      }),
    );
    return Buffer.concat(got);
  };
  assert.deepEqual(await rangeStream(fetched), PT.subarray(20, 40));
  await assert.rejects(rangeStream(flipped), isFormatError('SEGMENT_AUTH_FAILED'));
  await assert.rejects(rangeStream(fetched.subarray(0, fetched.length - 1)), isFormatError('TRUNCATED'));
  await assert.rejects(rangeStream(fetched.subarray(0, UNIT)), isFormatError('TRUNCATED'));
  await assert.rejects(rangeStream(Buffer.concat([fetched, Buffer.of(0)])), isFormatError('TRAILING_DATA'));
  // The final segment of the object is opened with the last flag: a range ending there verifies it.
  const tail = ciphertextRangeFor(50, PT.length, PT.length, SEG);
  assert.equal(tail.finalSegment, true);
  assert.deepEqual(decryptRange(cipher, tail, OBJ.subarray(tail.start, tail.end)), PT.subarray(50));
});

test('verifyObject releases nothing and reports size and digest; it rejects a tampered object', async () => {
  const { plainSize, plainSha256 } = await verifyObject(KEY, [OBJ.subarray(0, 50), OBJ.subarray(50)]);
  assert.equal(plainSize, PT.length);
  assert.equal(
    plainSha256.toString('hex'),
    (await import('node:crypto')).createHash('sha256').update(PT).digest('hex'),
  );
  const bad = Buffer.from(OBJ);
  bad[bad.length - 1]! ^= 1;
  await assert.rejects(verifyObject(KEY, [bad]), isFormatError('SEGMENT_AUTH_FAILED'));
});

test('multipart: a retry with the same bytes is byte-identical; with other bytes it is refused', () => {
  const cipher = createObjectCipher(NEW);
  const first = encryptPart(cipher, { firstSegment: 1, plaintext: PT.subarray(SEG, 3 * SEG), final: false });
  const again = encryptPart(cipher, {
    firstSegment: 1,
    plaintext: PT.subarray(SEG, 3 * SEG),
    final: false,
    previousSha256: first.plaintextSha256,
  });
  assert.deepEqual(again.ciphertext, first.ciphertext);
  const changed = Buffer.from(PT.subarray(SEG, 3 * SEG));
  changed[0]! ^= 1;
  assert.throws(
    () =>
      encryptPart(cipher, { firstSegment: 1, plaintext: changed, final: false, previousSha256: first.plaintextSha256 }),
    (err: unknown) =>
      err instanceof ObjectFormatError && err.reason === 'PART_CONTENT_CHANGED' && err.code === 'CONFLICT',
  );
  assert.throws(
    () => encryptPart(cipher, { firstSegment: 1, plaintext: PT.subarray(0, SEG + 1), final: false }),
    RangeError,
  );
  assert.throws(() => encryptPart(cipher, { firstSegment: 2, plaintext: Buffer.alloc(0), final: true }), RangeError);
});

test('error details are safe to show: no key, plaintext or ciphertext bytes', () => {
  try {
    decryptObject({ ...KEY, dataKey: Buffer.alloc(32, 0x12) }, OBJ);
    assert.fail('opened');
  } catch (err) {
    const e = err as ObjectFormatError;
    const text = JSON.stringify({ m: e.message, d: e.detail, meta: e.meta });
    for (const secret of [
      KEY.dataKey.toString('hex'),
      PT.toString('hex').slice(0, 8),
      OBJ.subarray(H, H + 8).toString('hex'),
    ]) {
      assert.ok(!text.includes(secret));
    }
    assert.equal(e.status, 409);
  }
});
