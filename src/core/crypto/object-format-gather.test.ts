/**
 * Output gathering (object-format-gather.ts), in-place decryption (`overwriteInput`) and the
 * coalesced output of the encoder, decoder and streams: whatever the input chunking and the output chunk size, the bytes are those of
 * the one-shot functions; a decoder's output buffers hold whole verified segments only; a
 * failure releases only an authentic whole-segment prefix before the failing segment.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OutputGather } from './object-format-gather.ts';
import {
  DEFAULT_SEGMENT_SIZE,
  OBJECT_HEADER_LENGTH,
  OUTPUT_CHUNK_SIZE,
  ObjectDecoder,
  ObjectEncoder,
  ObjectFormatError,
  ciphertextRangeFor,
  createDecryptStream,
  createEncryptStream,
  createObjectCipher,
  createRangeDecryptStream,
  decryptObject,
  encryptObject,
  openObjectCipher,
  verifyObject,
} from './object-format.ts';

const S = DEFAULT_SEGMENT_SIZE;
const MiB = 1024 * 1024;
const KEY = { dataKey: randomBytes(32), workspaceId: 'ws-g', objectId: 'obj-g' };
const fixed = () => ({ ...KEY, keyTerm: 1, unsafeSalt: randomBytes(32), unsafeNoncePrefix: randomBytes(7) });

/** Pieces of `sizes` (cycled) covering `buf`. */
function cut(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < buf.length; off += size) out.push(buf.subarray(off, off + size));
  return out.length > 0 ? out : [buf];
}

const sum = (bs: readonly Buffer[]) => bs.reduce((n, b) => n + b.length, 0);

test('OutputGather keeps pieces whole, releases full buffers at once, flushes the rest', () => {
  const g = new OutputGather(10);
  const out: Buffer[] = [];
  assert.equal(g.add([Buffer.from('abcd')], out), 0);
  assert.equal(g.add([Buffer.from('efgh')], out), 0);
  // 'ijkl' does not fit in the 2 bytes left: the held 8 bytes go out, 'ijkl' starts a new buffer.
  assert.equal(g.add([Buffer.from('ijkl')], out), 8);
  assert.deepEqual(out.map(String), ['abcdefgh']);
  // Exactly filling a buffer releases it at once.
  assert.equal(g.add([Buffer.from('mnopqr')], out), 10);
  assert.deepEqual(out.map(String), ['abcdefgh', 'ijklmnopqr']);
  // A piece bigger than the size gets a buffer of its own size, not split.
  assert.equal(g.add([Buffer.from('0123456789ABC')], out), 13);
  // Several pieces given together stay together.
  g.add([Buffer.from('xy')], out);
  g.add([Buffer.from('1234567'), Buffer.from('89')], out);
  assert.equal(g.flush(out), 9);
  assert.deepEqual(out.map(String), ['abcdefgh', 'ijklmnopqr', '0123456789ABC', 'xy', '123456789']);
  assert.equal(g.flush(out), 0);
});

test('OutputGather sizes the last buffer by `remaining`, copies its input, and wipes what it holds', () => {
  const g = new OutputGather(1000);
  const out: Buffer[] = [];
  const piece = Buffer.from('hello');
  assert.equal(g.add([piece], out, 5), 5, 'a buffer sized to the 5 bytes due is full, so released');
  piece.fill(0);
  assert.equal(String(out[0]), 'hello', 'the output is a copy');
  g.add([Buffer.from('secret')], out);
  g.wipe();
  assert.equal(g.flush(out), 0, 'wiped bytes are never released');
  assert.equal(out.length, 1);
});

test('OutputGather size 0 passes pieces through uncopied; bad sizes are refused', () => {
  const g = new OutputGather(0);
  const out: Buffer[] = [];
  const a = Buffer.from('abc');
  assert.equal(g.add([a, Buffer.alloc(0)], out), 3);
  assert.equal(out.length, 1);
  assert.equal(out[0], a);
  assert.throws(() => new OutputGather(-1), RangeError);
  assert.throws(() => new OutputGather(1.5), RangeError);
});

// Sizes around the segment and output-chunk boundaries.
const SIZES = [0, 1, S - 1, S, S + 1, MiB - 1, MiB, MiB + 1, 2 * MiB + S + 3];
// Input chunkings: 1 byte (small objects only), 65535, one sealed segment (65536 + 16), 1 MiB, whole.
const CHUNKS = [1, S - 1, S + 16, MiB, Infinity];
const OUTPUT_SIZES = [undefined, 0, S, 100_000, OUTPUT_CHUNK_SIZE, 4 * MiB];

test('decoder output is identical at every input chunking and output size, in whole segments', () => {
  for (const size of SIZES) {
    const pt = randomBytes(size);
    const obj = encryptObject(fixed(), pt);
    for (const chunk of CHUNKS) {
      if (chunk === 1 && size > S + 1) continue; // 1-byte chunks: covered on the small sizes
      for (const outputChunkSize of OUTPUT_SIZES) {
        const decoder = new ObjectDecoder({ params: { ...KEY, expectedPlainSize: size } }, { outputChunkSize });
        const out: Buffer[] = [];
        let n = 0;
        for (const piece of chunk === Infinity ? [obj] : cut(obj, chunk)) n += decoder.write(piece, out);
        n += decoder.end(out);
        const what = `size ${size}, chunk ${chunk}, output ${outputChunkSize}`;
        assert.equal(n, size, what);
        assert.equal(sum(out), size, what);
        assert.ok(Buffer.concat(out).equals(pt), what);
        for (const b of out.slice(0, -1)) assert.equal(b.length % S, 0, `${what}: an output buffer split a segment`);
        const cap = outputChunkSize ?? 0;
        if (cap > 0)
          for (const b of out) assert.ok(b.length <= Math.max(cap, S), `${what}: output buffer of ${b.length}`);
        if (cap === 0)
          assert.ok(
            out.every((b) => b.length <= S),
            `${what}: default is one buffer per segment`,
          );
        if (cap >= MiB && chunk >= S + 16)
          assert.ok(out.length <= Math.ceil(size / MiB) + 1, `${what}: ${out.length} buffers`);
      }
    }
  }
});

test('encoder output is identical at every input chunking and output size', () => {
  for (const size of SIZES) {
    const params = fixed();
    const pt = randomBytes(size);
    const whole = encryptObject(params, pt);
    for (const chunk of CHUNKS) {
      if (chunk === 1 && size > S + 1) continue;
      for (const outputChunkSize of OUTPUT_SIZES) {
        const cipher = createObjectCipher(params);
        const encoder = new ObjectEncoder(cipher, { outputChunkSize });
        const out: Buffer[] = [];
        let n = 0;
        for (const piece of chunk === Infinity ? [pt] : cut(pt, chunk)) n += encoder.write(piece, out);
        n += encoder.end(out);
        const what = `size ${size}, chunk ${chunk}, output ${outputChunkSize}`;
        assert.equal(n, whole.length, what);
        assert.ok(Buffer.concat(out).equals(whole), what);
        if ((outputChunkSize ?? 0) >= MiB && chunk >= S)
          assert.ok(out.length <= Math.ceil(whole.length / MiB) + 1, `${what}: ${out.length} buffers`);
      }
    }
  }
});

test('streams: identical bytes for every output size; one buffer per segment by default, MiB-sized when asked', async () => {
  const size = 3 * MiB + 7;
  const params = fixed();
  const pt = randomBytes(size);
  const whole = encryptObject(params, pt);
  for (const outputChunkSize of OUTPUT_SIZES) {
    const encChunks: Buffer[] = [];
    await pipeline(
      Readable.from(cut(pt, 300_000)),
      createEncryptStream(params, { outputChunkSize }),
      new Writable({
        write(b: Buffer, _e, cb) {
          encChunks.push(b);
          cb();
        },
      }),
    );
    assert.ok(Buffer.concat(encChunks).equals(whole));
    const decChunks: Buffer[] = [];
    await pipeline(
      Readable.from(cut(whole, 16_384)),
      createDecryptStream({ ...KEY, expectedPlainSize: size }, { outputChunkSize }),
      new Writable({
        write(b: Buffer, _e, cb) {
          decChunks.push(b);
          cb();
        },
      }),
    );
    assert.ok(Buffer.concat(decChunks).equals(pt));
    if (outputChunkSize === OUTPUT_CHUNK_SIZE) {
      // Small input chunks (like network reads) still give MiB-sized output.
      assert.deepEqual(
        decChunks.map((b) => b.length),
        [MiB, MiB, MiB, 7],
      );
      assert.ok(encChunks.length <= 5, `${encChunks.length} encrypt output chunks`);
    }
    if (!outputChunkSize) assert.equal(decChunks.length, Math.ceil(size / S));
  }
  const v = await verifyObject(KEY, cut(whole, 100_000));
  assert.equal(v.plainSize, size);
  assert.deepEqual(v.plainSha256, createHash('sha256').update(pt).digest());
});

test('range decryption gives the exact slice at every output size and chunking', async () => {
  const size = 2 * MiB + 3 * S + 11;
  const params = fixed();
  const pt = randomBytes(size);
  const obj = encryptObject(params, pt);
  const ranges: [number, number][] = [
    [0, 1],
    [5, S + 5],
    [S - 1, S + 1],
    [S, 2 * S],
    [100, MiB + 100],
    [MiB - 3, size],
    [0, size],
    [size - 1, size],
  ];
  for (const [start, end] of ranges) {
    const r = ciphertextRangeFor(start, end, size);
    const fetched = obj.subarray(r.start, r.end);
    for (const outputChunkSize of OUTPUT_SIZES) {
      for (const chunk of [S + 16, 333_333, Infinity]) {
        const cipher = openObjectCipher(KEY, obj.subarray(0, OBJECT_HEADER_LENGTH));
        const got: Buffer[] = [];
        await pipeline(
          Readable.from(chunk === Infinity ? [fetched] : cut(fetched, chunk)),
          createRangeDecryptStream(cipher, r, { outputChunkSize }),
          new Writable({
            write(b: Buffer, _e, cb) {
              got.push(b);
              cb();
            },
          }),
        );
        assert.ok(
          Buffer.concat(got).equals(pt.subarray(start, end)),
          `range ${start}-${end}, output ${outputChunkSize}, chunk ${chunk}`,
        );
      }
    }
  }
});

test('a bad segment behind MiB of good ones: only an authentic whole-segment prefix is released, then the error', async () => {
  const size = 3 * MiB;
  const pt = randomBytes(size);
  const obj = Buffer.from(encryptObject(fixed(), pt));
  const failing = 20; // in the second MiB of output
  obj[OBJECT_HEADER_LENGTH + failing * (S + 16) + 5]! ^= 1;
  for (const outputChunkSize of OUTPUT_SIZES) {
    const got: Buffer[] = [];
    let error: unknown;
    try {
      await pipeline(
        Readable.from(cut(obj, 200_000)),
        createDecryptStream(KEY, { outputChunkSize }),
        new Writable({
          write(b: Buffer, _e, cb) {
            got.push(Buffer.from(b));
            cb();
          },
        }),
      );
    } catch (err) {
      error = err;
    }
    assert.ok(
      error instanceof ObjectFormatError && error.reason === 'SEGMENT_AUTH_FAILED' && error.segment === failing,
      String(error),
    );
    const out = Buffer.concat(got);
    assert.equal(out.length % S, 0);
    assert.ok(out.length <= failing * S);
    assert.ok(out.equals(pt.subarray(0, out.length)));
  }
  assert.throws(() => decryptObject(KEY, obj), ObjectFormatError);
});

test('overwriteInput: identical plaintext at every chunking, one output buffer per input chunk, ranges too', async () => {
  for (const size of SIZES) {
    const pt = randomBytes(size);
    const obj = encryptObject(fixed(), pt);
    for (const chunk of CHUNKS) {
      if (chunk === 1 && size > S + 1) continue;
      // Fresh copies: the decoder writes plaintext over its input.
      const pieces = (chunk === Infinity ? [obj] : cut(obj, chunk)).map((p) => Buffer.from(p));
      const decoder = new ObjectDecoder({ params: { ...KEY, expectedPlainSize: size } }, { overwriteInput: true });
      const out: Buffer[] = [];
      let n = 0;
      for (const piece of pieces) n += decoder.write(piece, out);
      n += decoder.end(out);
      const what = `size ${size}, chunk ${chunk}`;
      assert.equal(n, size, what);
      assert.ok(Buffer.concat(out).equals(pt), what);
      for (const b of out.slice(0, -1)) assert.equal(b.length % S, 0, `${what}: an output buffer split a segment`);
      if (chunk >= MiB)
        assert.ok(out.length <= 2 * pieces.length + 1, `${what}: ${out.length} buffers for ${pieces.length} chunks`);
    }
  }
  const size = 2 * MiB + 3 * S + 11;
  const params = fixed();
  const pt = randomBytes(size);
  const obj = encryptObject(params, pt);
  for (const [start, end] of [
    [0, 1],
    [5, S + 5],
    [100, MiB + 100],
    [MiB - 3, size],
    [0, size],
  ] as const) {
    const r = ciphertextRangeFor(start, end, size);
    for (const chunk of [S + 16, 333_333, MiB, Infinity]) {
      const fetched = obj.subarray(r.start, r.end);
      const pieces = (chunk === Infinity ? [fetched] : cut(fetched, chunk)).map((p) => Buffer.from(p));
      const got: Buffer[] = [];
      const cipher = openObjectCipher(KEY, obj.subarray(0, OBJECT_HEADER_LENGTH));
      await pipeline(
        Readable.from(pieces),
        createRangeDecryptStream(cipher, r, { overwriteInput: true }),
        new Writable({
          write(b: Buffer, _e, cb) {
            got.push(b);
            cb();
          },
        }),
      );
      assert.ok(Buffer.concat(got).equals(pt.subarray(start, end)), `range ${start}-${end}, chunk ${chunk}`);
    }
  }
});

test('overwriteInput: a bad segment inside a chunk releases none of that chunk and zero-fills the plaintext written over it', async () => {
  const size = 3 * MiB;
  const pt = randomBytes(size);
  const obj = Buffer.from(encryptObject(fixed(), pt));
  const failing = 20;
  obj[OBJECT_HEADER_LENGTH + failing * (S + 16) + 5]! ^= 1;
  const pieces = cut(obj, MiB).map((p) => Buffer.from(p));
  const got: Buffer[] = [];
  let error: unknown;
  try {
    await pipeline(
      Readable.from(pieces),
      createDecryptStream(KEY, { overwriteInput: true }),
      new Writable({
        write(b: Buffer, _e, cb) {
          got.push(Buffer.from(b));
          cb();
        },
      }),
    );
  } catch (err) {
    error = err;
  }
  assert.ok(
    error instanceof ObjectFormatError && error.reason === 'SEGMENT_AUTH_FAILED' && error.segment === failing,
    String(error),
  );
  const out = Buffer.concat(got);
  assert.equal(out.length % S, 0);
  assert.ok(out.length <= failing * S);
  assert.ok(out.equals(pt.subarray(0, out.length)));
  // The second chunk held verified segments 16…19 (written over its start) when segment 20 failed:
  // none of it was released, and the plaintext written there is zero-filled.
  const second = pieces[1]!;
  const firstWhole = Math.ceil((MiB - OBJECT_HEADER_LENGTH) / (S + 16)); // first segment lying whole in chunk 2
  const packed = (failing - firstWhole) * S;
  assert.ok(packed > 0);
  assert.ok(
    second.subarray(0, packed).equals(Buffer.alloc(packed)),
    'verified but unreleased plaintext left in the input chunk',
  );
  assert.ok(out.length <= firstWhole * S);
});
