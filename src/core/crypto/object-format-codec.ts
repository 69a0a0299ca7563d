/**
 * Object format, part 3: incremental encoder and decoder over arbitrary chunks.
 *
 * They do no I/O: `write(chunk, out)` appends finished output buffers to `out`, `end(out)`
 * closes the object. Streams (object-format-stream.ts) and the one-shot helpers wrap them. They
 * work a whole input chunk at a time — many segments per call — because the per-chunk cost of a
 * Node stream, not AES, is what limits throughput with 64 KiB pieces (DESIGN §8). Their output
 * is one buffer per segment unless asked otherwise (`CodecOutputOptions`): gathered into
 * `outputChunkSize` buffers (a copy), or, decoding, written back over the input chunk
 * (`overwriteInput`, no new buffer).
 *
 * Decoder guarantees: a segment's plaintext reaches an output buffer only after its tag verified
 * (when it is copied, node:crypto's own plaintext buffer is then zero-filled), and output
 * buffers hold whole segments only; the first failure throws ObjectFormatError, zero-fills the
 * verified plaintext gathered or written in place but not yet released, and the decoder accepts
 * nothing more. Whether a
 * segment is the final one is only known when the next byte arrives or the input ends, so the
 * decoder (like the encoder) always holds back the latest segment until then.
 */
import { TAG_LENGTH } from './aead.ts';
import {
  OBJECT_HEADER_LENGTH,
  OBJECT_MAGIC,
  ObjectFormatError,
  openObjectCipher,
  parseHeader,
  type ObjectCipher,
  type ObjectKeyParams,
  type SegmentKey,
} from './object-format-header.ts';
import { OutputGather } from './object-format-gather.ts';
import {
  MAX_SEGMENTS,
  openSegmentOrUndefined,
  sealSegmentParts,
  type CiphertextRange,
} from './object-format-segment.ts';

/**
 * Output sizing of the encoder and decoder. By default every segment body (and, encoding,
 * every tag) is released as node:crypto returned it: one buffer per 64 KiB segment. Measured
 * (DESIGN §8 machines, docs/format-object.md "Performance notes"): copying those into fresh
 * 1 MiB buffers (`outputChunkSize`) cuts the chunks 16-fold but allocates every byte once more,
 * and in a server with a large heap the extra external memory triggers ~30 % more
 * mark-compact GCs; `overwriteInput` cuts the chunks without allocating anything.
 */
export interface CodecOutputOptions {
  /**
   * Gather the output into buffers of this many bytes (e.g. `OUTPUT_CHUNK_SIZE`, 1 MiB), across
   * input chunks; a segment is never split between two. Default 0: no gathering, no copy.
   * Worth it for small input chunks (network reads) when the per-chunk cost downstream
   * dominates, not when the process is GC-bound.
   */
  readonly outputChunkSize?: number;
  /**
   * Decoder only, default false. When true, the verified plaintext of the segments that lie
   * whole inside an input chunk is written over that chunk's own ciphertext (it fits: each
   * segment's plaintext is 16 bytes shorter than its sealed form) and the chunk is released
   * as the output: one output buffer per input chunk and no new buffer (node:crypto still
   * returns one per segment), so no extra garbage. A segment straddling two chunks is released
   * as node:crypto returned it; `outputChunkSize` is not used. ONLY for sources that hand over
   * fresh buffers and never read or reuse them again (fs read streams, socket and HTTP bodies);
   * never for buffers the caller keeps (the one-shot helpers do not use it). Feed MiB-sized
   * chunks: with small chunks most segments straddle and it degrades to one buffer per segment.
   */
  readonly overwriteInput?: boolean;
}

/** Sum of the lengths of `out[from…]`. */
function bytesFrom(out: readonly Buffer[], from: number): number {
  let n = 0;
  for (let i = from; i < out.length; i++) n += out[i]!.length;
  return n;
}

/**
 * Splits a byte stream into units of `unit` bytes and hands each complete unit to `onUnit`
 * with `more = true` once at least one byte follows it; the rest waits in a carry buffer (the
 * only copy made: input chunks are used in place). `rest()` returns what is held back.
 */
class Units {
  readonly #carry: Buffer;
  #carryLen = 0;

  constructor(readonly unit: number) {
    this.#carry = Buffer.allocUnsafe(unit);
  }

  feed(chunk: Buffer, onUnit: (bytes: Buffer) => void): void {
    const unit = this.unit;
    let off = 0;
    if (this.#carryLen > 0) {
      off = chunk.copy(this.#carry, this.#carryLen, 0, Math.min(chunk.length, unit - this.#carryLen));
      this.#carryLen += off;
      if (this.#carryLen < unit || off === chunk.length) return;
      onUnit(this.#carry);
      this.#carryLen = 0;
    }
    while (chunk.length - off > unit) {
      onUnit(chunk.subarray(off, off + unit));
      off += unit;
    }
    this.#carryLen = chunk.copy(this.#carry, 0, off);
  }

  rest(): Buffer {
    return this.#carry.subarray(0, this.#carryLen);
  }

  wipe(): void {
    this.#carry.fill(0);
  }
}

/** Plaintext in, header ‖ sealed segments out. */
export class ObjectEncoder {
  readonly #cipher: ObjectCipher;
  readonly #units: Units;
  readonly #gather: OutputGather;
  #index = 0;
  #started = false;
  #ended = false;
  plainSize = 0;

  constructor(cipher: ObjectCipher, opts: CodecOutputOptions = {}) {
    this.#cipher = cipher;
    this.#units = new Units(cipher.segmentSize);
    // Room for the header and whole sealed segments: 16 of them per buffer at the defaults.
    const size = opts.outputChunkSize ?? 0;
    const segments = Math.max(1, Math.floor(size / cipher.segmentSize));
    this.#gather = new OutputGather(
      size === 0 ? 0 : segments * (cipher.segmentSize + TAG_LENGTH) + OBJECT_HEADER_LENGTH,
    );
  }

  /** Appends output for `chunk` to `out`; returns the number of bytes appended. */
  write(chunk: Buffer, out: Buffer[]): number {
    if (this.#ended) throw new Error('write after end');
    const from = out.length;
    this.#header(out);
    this.plainSize += chunk.length;
    this.#units.feed(chunk, (plain) => this.#seal(plain, false, out));
    return bytesFrom(out, from);
  }

  /** Seals the held-back bytes as the final segment (empty if the object is empty) and releases all output. */
  end(out: Buffer[]): number {
    if (this.#ended) throw new Error('end after end');
    this.#ended = true;
    const from = out.length;
    this.#header(out);
    this.#seal(this.#units.rest(), true, out);
    this.#gather.flush(out);
    this.#units.wipe();
    return bytesFrom(out, from);
  }

  #header(out: Buffer[]): void {
    if (this.#started) return;
    this.#started = true;
    this.#gather.add([this.#cipher.headerBytes], out);
  }

  #seal(plain: Buffer, last: boolean, out: Buffer[]): void {
    if (this.#index >= MAX_SEGMENTS) throw new RangeError('object too large for the segment index');
    this.#gather.add(sealSegmentParts(this.#cipher, this.#index++, last, plain), out);
  }
}

/** Options of the decoder. */
export interface DecodeOptions {
  /** Plaintext size recorded for the object (e.g. in the manifest); any other size fails SIZE_MISMATCH. */
  readonly expectedPlainSize?: number;
  /** Key term the caller unwrapped the DEK for; a header naming another fails KEY_COMMITMENT_MISMATCH early. */
  readonly expectedKeyTerm?: number;
}

/**
 * Stored bytes in, verified plaintext out. Two modes: a whole object (header first, opened with
 * the DEK), or a byte range fetched per `ciphertextRangeFor` under an already opened cipher,
 * trimmed to the requested plaintext slice.
 */
export class ObjectDecoder {
  #keyParams: ObjectKeyParams | undefined;
  readonly #expectedPlainSize: number | undefined;
  readonly #expectedKeyTerm: number | undefined;
  #key: SegmentKey | undefined;
  readonly #range: CiphertextRange | undefined;
  readonly #ownsKey: boolean;
  readonly #gather: OutputGather;
  readonly #overwriteInput: boolean;
  /** With `overwriteInput`: the input chunk being decrypted in place and the plaintext bytes packed at its start. */
  #inPlace: { base: Buffer; end: number } | undefined;
  #header: Buffer | undefined;
  #headerLen = 0;
  #units: Units | undefined;
  #index = 0;
  #failure: unknown;
  plainSize = 0;

  constructor(
    source: { params: ObjectKeyParams & DecodeOptions } | { key: SegmentKey; range: CiphertextRange },
    opts: CodecOutputOptions = {},
  ) {
    this.#overwriteInput = opts.overwriteInput ?? false;
    this.#gather = new OutputGather(this.#overwriteInput ? 0 : (opts.outputChunkSize ?? 0));
    if ('params' in source) {
      const { dataKey, workspaceId, objectId, expectedPlainSize, expectedKeyTerm } = source.params;
      this.#keyParams = { dataKey, workspaceId, objectId };
      this.#expectedPlainSize = expectedPlainSize;
      this.#expectedKeyTerm = expectedKeyTerm;
      this.#header = Buffer.alloc(OBJECT_HEADER_LENGTH);
      this.#ownsKey = true;
    } else {
      if (source.key.segmentSize !== source.range.segmentSize)
        throw new RangeError('range was computed for another segment size');
      this.#key = source.key;
      this.#range = source.range;
      this.#index = source.range.firstSegment;
      this.#units = new Units(source.key.segmentSize + TAG_LENGTH);
      this.#ownsKey = false;
      this.#expectedPlainSize = undefined;
      this.#expectedKeyTerm = undefined;
    }
  }

  /** Stops the decoder: wipes what it derived and held back; later calls throw. For aborted streams. */
  dispose(): void {
    this.#failure ??= new ObjectFormatError('TRUNCATED', this.#index);
    this.#wipe();
  }

  /**
   * Appends verified plaintext for `chunk` to `out` (whole output buffers; a partly filled one
   * waits for more input or `end`); returns the bytes appended. Throws on the first failure.
   */
  write(chunk: Buffer, out: Buffer[]): number {
    return this.#guard(() => {
      let rest = chunk;
      if (!this.#units) {
        rest = this.#readHeader(chunk);
        if (!this.#units) return 0;
      }
      const from = out.length;
      if (this.#overwriteInput) this.#inPlace = { base: rest, end: 0 };
      this.#units.feed(rest, (sealed) => this.#open(sealed, false, out));
      if (this.#inPlace) {
        if (this.#inPlace.end > 0) out.push(rest.subarray(0, this.#inPlace.end));
        this.#inPlace = undefined;
      }
      return bytesFrom(out, from);
    });
  }

  /** Opens the held-back final segment, checks sizes, and releases all remaining output. */
  end(out: Buffer[]): number {
    return this.#guard(() => {
      if (!this.#units) throw new ObjectFormatError('TRUNCATED');
      const sealed = this.#units.rest();
      if (sealed.length === 0) throw new ObjectFormatError('TRUNCATED', this.#index);
      const from = out.length;
      this.#open(sealed, true, out);
      const expected = this.#expectedPlainSize;
      if (expected !== undefined && this.plainSize !== expected) throw new ObjectFormatError('SIZE_MISMATCH');
      this.#gather.flush(out);
      this.#wipe();
      return bytesFrom(out, from);
    });
  }

  /** Zero-fills the derived content key (when this decoder derived it), held-back bytes and unreleased plaintext. */
  #wipe(): void {
    if (this.#ownsKey) this.#key?.contentKey.fill(0);
    this.#units?.wipe();
    this.#gather.wipe();
    if (this.#inPlace) this.#inPlace.base.fill(0, 0, this.#inPlace.end);
    this.#inPlace = undefined;
  }

  #guard(work: () => number): number {
    if (this.#failure !== undefined) throw this.#failure;
    try {
      return work();
    } catch (err) {
      this.#failure = err;
      this.#wipe();
      throw err;
    }
  }

  #readHeader(chunk: Buffer): Buffer {
    const header = this.#header!;
    const take = chunk.copy(header, this.#headerLen, 0);
    this.#headerLen += take;
    if (this.#headerLen < OBJECT_HEADER_LENGTH) {
      // Reject a wrong magic early rather than waiting for 85 bytes.
      const n = Math.min(OBJECT_MAGIC.length, this.#headerLen);
      if (!header.subarray(0, n).equals(OBJECT_MAGIC.subarray(0, n))) throw new ObjectFormatError('HEADER_INVALID');
      return chunk.subarray(take);
    }
    if (this.#expectedKeyTerm !== undefined && parseHeader(header).keyTerm !== this.#expectedKeyTerm) {
      throw new ObjectFormatError('KEY_COMMITMENT_MISMATCH');
    }
    const cipher = openObjectCipher(this.#keyParams!, header);
    this.#keyParams = undefined; // keep no reference to the caller's DEK
    this.#key = cipher;
    this.#units = new Units(cipher.segmentSize + TAG_LENGTH);
    return chunk.subarray(take);
  }

  /**
   * Opens segment #index. `atEnd` = the input ended right after it (so it must be the final
   * segment, or the last one of a range). Classifies failures: a segment that opens with the
   * other last flag tells truncation (at a segment boundary) or extension apart from tampering.
   */
  #open(sealed: Buffer, atEnd: boolean, out: Buffer[]): void {
    const key = this.#key!;
    const index = this.#index;
    const range = this.#range;
    if (range && (atEnd ? index !== range.lastSegment : index >= range.lastSegment)) {
      throw new ObjectFormatError(atEnd ? 'TRUNCATED' : 'TRAILING_DATA', index);
    }
    if (range && atEnd) {
      const expected =
        range.end - range.start - (range.lastSegment - range.firstSegment) * (key.segmentSize + TAG_LENGTH);
      if (sealed.length !== expected)
        throw new ObjectFormatError(sealed.length < expected ? 'TRUNCATED' : 'TRAILING_DATA', index);
    }
    if (sealed.length < TAG_LENGTH) throw new ObjectFormatError('TRUNCATED', index);
    const last = range ? atEnd && range.finalSegment : atEnd;
    const plain = openSegmentOrUndefined(key, index, last, sealed);
    if (!plain) {
      const full = sealed.length === key.segmentSize + TAG_LENGTH;
      const other = !range && full ? openSegmentOrUndefined(key, index, !last, sealed) : undefined;
      other?.fill(0);
      throw new ObjectFormatError(other ? (last ? 'TRUNCATED' : 'TRAILING_DATA') : 'SEGMENT_AUTH_FAILED', index);
    }
    if (last && plain.length === 0 && index > 0) throw new ObjectFormatError('NON_CANONICAL', index);
    this.#index++;
    const expected = this.#expectedPlainSize;
    if (expected !== undefined && this.plainSize + plain.length > expected) {
      plain.fill(0);
      throw new ObjectFormatError('SIZE_MISMATCH', index);
    }
    const position = this.plainSize;
    this.plainSize += plain.length;
    if (!range) {
      this.#release(plain, sealed, out, expected === undefined ? Infinity : expected - position);
      return;
    }
    // Range mode: keep only [skip, skip + length) of the plaintext from the first segment on.
    const from = Math.max(0, range.skip - position);
    const to = Math.min(plain.length, range.skip + range.length - position);
    if (to <= from) {
      plain.fill(0);
      return;
    }
    const copied = this.#release(
      from === 0 && to === plain.length ? plain : plain.subarray(from, to),
      sealed,
      out,
      range.skip + range.length - position - from,
    );
    if (copied && (from > 0 || to < plain.length)) plain.fill(0);
  }

  /**
   * Hands the verified plaintext of segment `sealed` to the output: written over `sealed`'s own
   * input chunk (`overwriteInput`, when the segment lies inside the chunk being decrypted), or
   * copied into the current output buffer, or released as it is when gathering is off. After a
   * copy node:crypto's buffer is zero-filled, so no stray copy of the plaintext outlives it.
   * `remaining`: plaintext bytes still due, these included. Returns whether it copied.
   */
  #release(plain: Buffer, sealed: Buffer, out: Buffer[], remaining: number): boolean {
    const inPlace = this.#inPlace;
    if (
      inPlace &&
      sealed.buffer === inPlace.base.buffer &&
      sealed.byteOffset >= inPlace.base.byteOffset &&
      sealed.byteOffset + sealed.length <= inPlace.base.byteOffset + inPlace.base.length
    ) {
      // Segments are opened in order and each plaintext is shorter than its sealed form, so the
      // packed plaintext never reaches ciphertext not yet opened.
      inPlace.end += plain.copy(inPlace.base, inPlace.end);
      plain.fill(0);
      return true;
    }
    // A straddling segment comes first in a chunk (Units feeds the carried one before the rest).
    if (inPlace && inPlace.end > 0) throw new Error('in-place decryption out of order');
    this.#gather.add([plain], out, remaining);
    if (this.#gather.size === 0) return false;
    plain.fill(0);
    return true;
  }
}
