/**
 * Properties of the object format over random sizes (clustered around segment boundaries) and
 * random chunkings of the input: streams, one-shots and multipart parts all produce the same
 * bytes and round-trip; sizes invert; any plaintext range decrypts from exactly the bytes
 * `ciphertextRangeFor` names.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import {
  DEFAULT_SEGMENT_SIZE,
  ciphertextRangeFor,
  ciphertextSize,
  createDecryptStream,
  createEncryptStream,
  createObjectCipher,
  createRangeDecryptStream,
  decryptObject,
  decryptRange,
  encryptObject,
  encryptPart,
  openObjectCipher,
  plaintextSize,
  segmentCount,
} from './object-format.ts';

const KEY = { dataKey: randomBytes(32), workspaceId: 'ws-p', objectId: 'obj-p' };
const fixed = () => ({ ...KEY, keyTerm: 1, unsafeSalt: randomBytes(32), unsafeNoncePrefix: randomBytes(7) });

/** A size near a multiple of the segment size: k·seg + d, d in −2..2 (clamped at 0), or anything up to 4 segments. */
const sizeNear = (seg: number) =>
  fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: -2, max: 2 })).map(([k, d]) => Math.max(0, k * seg + d)),
    fc.integer({ min: 0, max: 4 * seg + 3 }),
  );

/** Cuts `buf` into pieces of the given sizes (cycled), so every chunk boundary is exercised. */
function cut(buf: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0, i = 0; off < buf.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(buf.subarray(off, off + n));
    off += n;
  }
  return out;
}

async function run(chunks: Buffer[], transform: NodeJS.ReadWriteStream): Promise<Buffer> {
  const got: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    transform,
    new Writable({
      write(b: Buffer, _e, cb) {
        got.push(Buffer.from(b));
        cb();
      },
    }),
  );
  return Buffer.concat(got);
}

test('streams round-trip at every size and chunking, and match the one-shot bytes', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 16, max: 64 }).chain((seg) => fc.tuple(fc.constant(seg), sizeNear(seg))),
      fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 5 }),
      async ([segmentSize, size], inCuts, outCuts) => {
        const params = { ...fixed(), segmentSize };
        const pt = randomBytes(size);
        const whole = encryptObject(params, pt);
        const streamed = await run(cut(pt, inCuts), createEncryptStream(params, { highWaterMark: 32 }));
        assert.deepEqual(streamed, whole);
        assert.equal(whole.length, ciphertextSize(size, segmentSize));
        assert.equal(plaintextSize(whole.length, segmentSize), size);
        assert.deepEqual(
          await run(
            cut(whole, outCuts),
            createDecryptStream({ ...KEY, expectedPlainSize: size }, { highWaterMark: 32 }),
          ),
          pt,
        );
        assert.deepEqual(decryptObject(KEY, whole), pt);
      },
    ),
    { numRuns: 300 },
  );
});

test('64 KiB segments: round trip around the boundaries with MiB-sized and odd chunks', async () => {
  const seg = DEFAULT_SEGMENT_SIZE;
  await fc.assert(
    fc.asyncProperty(
      sizeNear(seg),
      fc.array(fc.integer({ min: 1, max: 3 * seg }), { minLength: 1, maxLength: 4 }),
      async (size, cuts) => {
        const params = fixed();
        const pt = randomBytes(size);
        const enc = createEncryptStream(params, { hashPlaintext: true });
        const whole = await run(cut(pt, cuts), enc);
        assert.deepEqual(whole, encryptObject(params, pt));
        assert.equal(enc.plainSize, size);
        assert.equal(enc.plainSha256!.toString('hex'), createHash('sha256').update(pt).digest('hex'));
        assert.deepEqual(await run(cut(whole, [...cuts].reverse()), createDecryptStream(KEY)), pt);
      },
    ),
    { numRuns: 40 },
  );
});

test('gathered input (inputChunkSize) gives the same object, size and SHA-256 as chunk-by-chunk encryption', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 16, max: 64 }).chain((seg) => fc.tuple(fc.constant(seg), sizeNear(seg))),
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 5 }),
      async ([segmentSize, size], segmentsPerGather, cuts) => {
        const params = { ...fixed(), segmentSize };
        const pt = randomBytes(size);
        const enc = createEncryptStream(params, {
          hashPlaintext: true,
          inputChunkSize: segmentsPerGather * segmentSize,
          highWaterMark: 32,
        });
        const sent = cut(pt, cuts).map((c) => Buffer.from(c));
        const whole = await run(sent, enc);
        assert.deepEqual(whole, encryptObject(params, pt));
        assert.equal(enc.plainSize, size);
        assert.equal(enc.plainSha256!.toString('hex'), createHash('sha256').update(pt).digest('hex'));
        // The caller's chunks are read, never written.
        assert.deepEqual(Buffer.concat(sent), pt);
      },
    ),
    { numRuns: 200 },
  );
});

test('multipart parts sealed out of order concatenate to the streamed object', () => {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 16, max: 48 })
        .chain((seg) => fc.tuple(fc.constant(seg), sizeNear(seg), fc.integer({ min: 1, max: 3 }))),
      ([segmentSize, size, segsPerPart]) => {
        const params = { ...fixed(), segmentSize };
        const pt = randomBytes(size);
        const cipher = createObjectCipher(params);
        const partBytes = segsPerPart * segmentSize;
        const parts: { firstSegment: number; plaintext: Buffer; final: boolean }[] = [];
        for (let first = 0; ; first += segsPerPart) {
          const start = first * segmentSize;
          const final = pt.length - start <= partBytes;
          parts.push({
            firstSegment: first,
            plaintext: pt.subarray(start, final ? pt.length : start + partBytes),
            final,
          });
          if (final) break;
        }
        const sealed = [...parts]
          .reverse()
          .map((p) => encryptPart(cipher, p))
          .reverse();
        sealed.forEach((s, i) =>
          assert.equal(s.nextSegment, parts[i + 1]?.firstSegment ?? segmentCount(size, segmentSize)),
        );
        sealed.forEach((s, i) =>
          assert.equal(
            s.offset,
            sealed.slice(0, i).reduce((n, p) => n + p.ciphertext.length, 0),
          ),
        );
        assert.deepEqual(Buffer.concat(sealed.map((s) => s.ciphertext)), encryptObject(params, pt));
      },
    ),
    { numRuns: 300 },
  );
});

test('any plaintext range decrypts from exactly the segments ciphertextRangeFor names', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 16, max: 64 }).chain((seg) =>
        fc.tuple(
          fc.constant(seg),
          sizeNear(seg).filter((n) => n > 0),
        ),
      ),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 4 }),
      async ([segmentSize, size], a, b, cuts) => {
        const start = Math.min(size - 1, Math.floor(a * size));
        const end = start + 1 + Math.min(size - start - 1, Math.floor(b * (size - start)));
        const params = { ...fixed(), segmentSize };
        const pt = randomBytes(size);
        const obj = encryptObject(params, pt);
        const r = ciphertextRangeFor(start, end, size, segmentSize);
        // Whole segments only, and no more than needed.
        assert.equal((r.start - 85) % (segmentSize + 16), 0);
        assert.ok(r.end === obj.length || (r.end - 85) % (segmentSize + 16) === 0);
        assert.equal(r.lastSegment - r.firstSegment + 1, Math.ceil((r.skip + r.length) / segmentSize));
        const cipher = openObjectCipher(KEY, obj);
        const fetched = obj.subarray(r.start, r.end);
        assert.deepEqual(decryptRange(cipher, r, fetched), pt.subarray(start, end));
        assert.deepEqual(
          await run(cut(fetched, cuts), createRangeDecryptStream(cipher, r, { highWaterMark: 32 })),
          pt.subarray(start, end),
        );
      },
    ),
    { numRuns: 300 },
  );
});

test('ciphertextRangeFor refuses empty and out-of-bounds ranges', () => {
  assert.throws(() => ciphertextRangeFor(0, 0, 10), RangeError);
  assert.throws(() => ciphertextRangeFor(5, 4, 10), RangeError);
  assert.throws(() => ciphertextRangeFor(0, 11, 10), RangeError);
  assert.throws(() => ciphertextRangeFor(-1, 2, 10), RangeError);
  assert.throws(() => ciphertextRangeFor(0, 1, 0), RangeError);
});

test('sizes: one segment minimum, 16 bytes per segment, impossible sizes refused', () => {
  assert.equal(ciphertextSize(0), 85 + 16);
  assert.equal(ciphertextSize(DEFAULT_SEGMENT_SIZE), 85 + DEFAULT_SEGMENT_SIZE + 16);
  assert.equal(ciphertextSize(DEFAULT_SEGMENT_SIZE + 1), 85 + DEFAULT_SEGMENT_SIZE + 1 + 32);
  assert.equal(ciphertextSize(2 * 1024 ** 3), 85 + 2 * 1024 ** 3 + 32768 * 16);
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (n) => plaintextSize(ciphertextSize(n)) === n));
  for (const bad of [0, 84, 85, 100, 85 + DEFAULT_SEGMENT_SIZE + 16 + 5]) assert.throws(() => plaintextSize(bad));
});
