/**
 * Object format, part 4: Node streams and one-shot helpers over the encoder and decoder.
 *
 * Streaming consumers get only authenticated segments: a decrypt stream emits a segment's
 * plaintext after its tag verified, and errors at the first segment that does not. Segments
 * verified before the failure may already have been emitted downstream, so a download API must
 * treat a mid-stream error as fatal for the whole response (abort the connection; never end it
 * as if complete). Callers that must not release anything before the whole object verified use
 * `verifyObject` first (a full pass that releases nothing) or `decryptObject` for small objects.
 *
 * I/O sizing: pipe file or network streams with 1–4 MiB chunks. Each input chunk is processed in
 * one call, segment by segment, in place (only a segment straddling two chunks is copied). By
 * default the buffers node:crypto returns (one per segment body, one per tag) are pushed as
 * they are; a writer with writev (fs.WriteStream, sockets) batches them, provided its
 * highWaterMark exceeds one input chunk's output (e.g. 4 MiB: with Node's 16 KiB default, pipe()
 * waits for each 64 KiB segment to be written on its own). To push fewer, bigger chunks:
 * `overwriteInput` (decrypt, fresh fs/socket input only: the plaintext is written over the input
 * chunk, one output chunk per input chunk, nothing allocated) or `outputChunkSize` (a copy into
 * fresh buffers). See CodecOutputOptions for what each costs. On the input side of encryption,
 * `inputChunkSize` gathers small chunks (16 KiB TLS reads) into one reused buffer first.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ObjectDecoder, ObjectEncoder, type CodecOutputOptions, type DecodeOptions } from './object-format-codec.ts';
import {
  createObjectCipher,
  type NewObjectParams,
  type ObjectCipher,
  type ObjectHeader,
  type ObjectKeyParams,
  type SegmentKey,
} from './object-format-header.ts';
import { encryptPart, type CiphertextRange } from './object-format-segment.ts';

/** Default buffering on both sides of the transforms: big enough for multi-segment chunks. */
export const STREAM_HIGH_WATER_MARK = 4 * 1024 * 1024;

/** Options shared by the streams. */
export interface ObjectStreamOptions extends CodecOutputOptions {
  /** Bytes buffered on each side of the transform (default 4 MiB). */
  readonly highWaterMark?: number;
}

/** Encryption options. */
export interface EncryptStreamOptions extends ObjectStreamOptions {
  /** Also compute the SHA-256 of the plaintext (`plainSha256`, set when the stream ends). */
  readonly hashPlaintext?: boolean;
  /**
   * Gather small input chunks into one reused buffer of this many bytes (a multiple of the
   * segment size, e.g. `INPUT_GATHER_SIZE`) before encrypting, so the encoder and the hash run
   * once per buffer and seal segments in place. Default 0: every chunk is encrypted as it comes.
   * For network bodies: a TLS connection hands over 16 KiB at a time. The buffer is never
   * released downstream (the encoder copies nothing out of it but the held-back segment), so
   * it costs one allocation per stream, and it is zero-filled when the stream ends.
   */
  readonly inputChunkSize?: number;
}

/** Input gathering size for network bodies (`inputChunkSize`): 16 segments of 64 KiB. */
export const INPUT_GATHER_SIZE = 1024 * 1024;

/** Plaintext in, the stored object (header ‖ segments) out. The header is known before any write. */
export class ObjectEncryptStream extends Transform {
  readonly header: ObjectHeader;
  /** The 85 header bytes (also the first bytes emitted); keep a copy with the manifest for range reads. */
  readonly headerBytes: Buffer;
  /** SHA-256 of the plaintext, once the stream ended, when `hashPlaintext` was set. */
  plainSha256: Buffer | undefined;
  readonly #cipher: ObjectCipher;
  readonly #encoder: ObjectEncoder;
  readonly #hash: Hash | undefined;
  /** With `inputChunkSize`: the reused input buffer and how much of it holds plaintext not yet encrypted. */
  readonly #held: Buffer | undefined;
  #heldLen = 0;

  constructor(params: NewObjectParams, opts: EncryptStreamOptions = {}) {
    const hwm = opts.highWaterMark ?? STREAM_HIGH_WATER_MARK;
    super({ readableHighWaterMark: hwm, writableHighWaterMark: hwm });
    this.#cipher = createObjectCipher(params);
    this.#encoder = new ObjectEncoder(this.#cipher, opts);
    this.header = this.#cipher.header;
    this.headerBytes = this.#cipher.headerBytes;
    this.#hash = opts.hashPlaintext ? createHash('sha256') : undefined;
    const gather = opts.inputChunkSize ?? 0;
    if (!Number.isSafeInteger(gather) || gather < 0)
      throw new RangeError('input chunk size must be a non-negative integer');
    this.#held = gather > 0 ? Buffer.allocUnsafe(gather) : undefined;
  }

  /** Plaintext bytes consumed so far. */
  get plainSize(): number {
    return this.#encoder.plainSize;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      const held = this.#held;
      const out: Buffer[] = [];
      if (!held || (this.#heldLen === 0 && chunk.length >= held.length)) this.#encrypt(chunk, out);
      else {
        for (let off = 0; off < chunk.length;) {
          const n = chunk.copy(held, this.#heldLen, off);
          off += n;
          this.#heldLen += n;
          if (this.#heldLen === held.length) this.#encryptHeld(out);
        }
      }
      for (const b of out) this.push(b);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      const out: Buffer[] = [];
      if (this.#heldLen > 0) this.#encryptHeld(out);
      this.#held?.fill(0);
      this.#encoder.end(out);
      this.plainSha256 = this.#hash?.digest();
      this.#cipher.contentKey.fill(0);
      for (const b of out) this.push(b);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  /** Hashes and encrypts `plain`; the encoder reads it synchronously and keeps no reference to it. */
  #encrypt(plain: Buffer, out: Buffer[]): void {
    this.#hash?.update(plain);
    this.#encoder.write(plain, out);
  }

  #encryptHeld(out: Buffer[]): void {
    this.#encrypt(this.#held!.subarray(0, this.#heldLen), out);
    this.#heldLen = 0;
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.#cipher.contentKey.fill(0);
    this.#held?.fill(0);
    this.#heldLen = 0;
    cb(err);
  }
}

/** Stored bytes in, verified plaintext out; errors (ObjectFormatError) at the first failure. */
export class ObjectDecryptStream extends Transform {
  readonly #decoder: ObjectDecoder;

  constructor(decoder: ObjectDecoder, opts: ObjectStreamOptions = {}) {
    const hwm = opts.highWaterMark ?? STREAM_HIGH_WATER_MARK;
    super({ readableHighWaterMark: hwm, writableHighWaterMark: hwm });
    this.#decoder = decoder;
  }

  /** Plaintext bytes verified so far (whole segments, before any range trimming). */
  get plainSize(): number {
    return this.#decoder.plainSize;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#run((out) => this.#decoder.write(chunk, out), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.#run((out) => this.#decoder.end(out), cb);
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.#decoder.dispose();
    cb(err);
  }

  /**
   * Pushes the decoder's output buffers (whole verified segments, about `outputChunkSize` bytes
   * each). On a failure, the full buffers released before it (all of it authenticated) are
   * pushed, then the error; verified plaintext still being gathered is zero-filled, not pushed.
   */
  #run(step: (out: Buffer[]) => number, cb: TransformCallback): void {
    const out: Buffer[] = [];
    let failure: Error | undefined;
    try {
      step(out);
    } catch (err) {
      failure = err as Error;
    }
    for (const b of out) if (b.length > 0) this.push(b);
    cb(failure);
  }
}

/** Encrypts a plaintext stream into a new object. Read `header`/`headerBytes` for the manifest. */
export function createEncryptStream(params: NewObjectParams, opts: EncryptStreamOptions = {}): ObjectEncryptStream {
  return new ObjectEncryptStream(params, opts);
}

/**
 * Decrypts a whole stored object (header first), releasing only authenticated segments. With
 * `overwriteInput` (see CodecOutputOptions) the input chunks are reused for the plaintext: only
 * for fresh buffers from fs or network streams.
 */
export function createDecryptStream(
  params: ObjectKeyParams & DecodeOptions,
  opts: ObjectStreamOptions = {},
): ObjectDecryptStream {
  return new ObjectDecryptStream(new ObjectDecoder({ params }, opts), opts);
}

/**
 * Decrypts the bytes fetched for `range` (see `ciphertextRangeFor`) under a cipher opened from
 * the object's header with `openObjectCipher`, emitting exactly the requested plaintext slice.
 */
export function createRangeDecryptStream(
  key: SegmentKey,
  range: CiphertextRange,
  opts: ObjectStreamOptions = {},
): ObjectDecryptStream {
  return new ObjectDecryptStream(new ObjectDecoder({ key, range }, opts), opts);
}

/**
 * Verify-whole-object mode: authenticates every segment of a stored object and releases no
 * plaintext (each chunk is hashed and zero-filled). Returns the plaintext size and SHA-256, to
 * compare with the manifest before a download starts or a version is committed.
 */
export async function verifyObject(
  params: ObjectKeyParams & DecodeOptions,
  source: NodeJS.ReadableStream | AsyncIterable<Buffer> | Iterable<Buffer>,
): Promise<{ plainSize: number; plainSha256: Buffer }> {
  const hash = createHash('sha256');
  let plainSize = 0;
  await pipeline(source, createDecryptStream(params), async (plain: AsyncIterable<Buffer>) => {
    for await (const chunk of plain) {
      hash.update(chunk);
      plainSize += chunk.length;
      chunk.fill(0);
    }
  });
  return { plainSize, plainSha256: hash.digest() };
}

/** Encrypts a whole plaintext held in memory (small objects, tests). */
export function encryptObject(params: NewObjectParams, plaintext: Buffer): Buffer {
  const cipher = createObjectCipher(params);
  try {
    return encryptPart(cipher, { firstSegment: 0, plaintext, final: true }).ciphertext;
  } finally {
    cipher.contentKey.fill(0);
  }
}

/** Decrypts a whole stored object held in memory; returns nothing unless every segment verified. */
export function decryptObject(params: ObjectKeyParams & DecodeOptions, stored: Buffer): Buffer {
  const decoder = new ObjectDecoder({ params });
  const out: Buffer[] = [];
  try {
    const n = decoder.write(stored, out) + decoder.end(out);
    return Buffer.concat(out, n);
  } finally {
    for (const b of out) b.fill(0);
  }
}
