/**
 * Object format, part 2: segments, sizes, byte ranges and multipart parts.
 *
 * Guarantees:
 * - Segment i is AES-256-GCM under the content key with nonce = prefix(7) ‖ i (u32) ‖ last(1)
 *   and AAD = SHA-256(header). Moving, dropping, duplicating or swapping the last flag of a
 *   segment changes its nonce, so its tag fails.
 * - Sealing is a pure function of (key, nonce prefix, index, last flag, header hash, plaintext):
 *   a part encrypted on any instance, or re-encrypted with the same bytes, is byte-identical.
 * - One plaintext size has exactly one ciphertext layout: full segments, then one final segment
 *   of 1..segmentSize bytes — or a single empty final segment when the plaintext is empty.
 * - Decryption releases a segment's plaintext only after its tag verified; a failing segment's
 *   unverified plaintext is zero-filled and dropped.
 */
import { createCipheriv, createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import { TAG_LENGTH } from './aead.ts';
import {
  DEFAULT_SEGMENT_SIZE,
  NONCE_PREFIX_LENGTH,
  OBJECT_HEADER_LENGTH,
  ObjectFormatError,
  type ObjectCipher,
  type SegmentKey,
} from './object-format-header.ts';

const CIPHER = 'aes-256-gcm';
/** Segment indexes are u32: at most 2^32 segments (256 TiB at 64 KiB) per object. */
export const MAX_SEGMENTS = 2 ** 32;

// One scratch nonce: createCipheriv copies it synchronously, so sharing it is safe.
const nonce = Buffer.alloc(NONCE_PREFIX_LENGTH + 5);

function nonceFor(key: SegmentKey, index: number, last: boolean): Buffer {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_SEGMENTS)
    throw new RangeError('segment index out of range');
  key.noncePrefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, NONCE_PREFIX_LENGTH);
  nonce[NONCE_PREFIX_LENGTH + 4] = last ? 1 : 0;
  return nonce;
}

/** @internal Seals one segment: returns [ciphertext, tag] as node:crypto made them. */
export function sealSegmentParts(key: SegmentKey, index: number, last: boolean, plaintext: Buffer): [Buffer, Buffer] {
  const cipher = createCipheriv(CIPHER, key.contentKey, nonceFor(key, index, last), { authTagLength: TAG_LENGTH });
  cipher.setAAD(key.headerHash);
  const body = cipher.update(plaintext);
  cipher.final(); // GCM emits nothing at final
  return [body, cipher.getAuthTag()];
}

/** @internal Seals one segment, appending ciphertext and tag to `out`; returns the bytes added. */
export function sealSegmentTo(key: SegmentKey, index: number, last: boolean, plaintext: Buffer, out: Buffer[]): number {
  const [body, tag] = sealSegmentParts(key, index, last, plaintext);
  out.push(body, tag);
  return body.length + TAG_LENGTH;
}

/**
 * @internal Opens one sealed segment (ciphertext ‖ tag). Returns the plaintext only if the tag
 * verifies; otherwise zero-fills what was decrypted and returns undefined.
 */
export function openSegmentOrUndefined(
  key: SegmentKey,
  index: number,
  last: boolean,
  sealed: Buffer,
): Buffer | undefined {
  if (sealed.length < TAG_LENGTH) return undefined;
  const decipher = createDecipheriv(CIPHER, key.contentKey, nonceFor(key, index, last), { authTagLength: TAG_LENGTH });
  decipher.setAAD(key.headerHash);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
  const body = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
  try {
    decipher.final();
    return body;
  } catch {
    body.fill(0);
    return undefined;
  }
}

/** Seals segment `index` of an object: returns ciphertext ‖ tag (plaintext length + 16 bytes). */
export function encryptSegment(key: SegmentKey, index: number, last: boolean, plaintext: Buffer): Buffer {
  checkSegmentPlaintext(key, last, plaintext.length);
  const out: Buffer[] = [];
  return Buffer.concat(out, sealSegmentTo(key, index, last, plaintext, out));
}

/** Opens segment `index` (ciphertext ‖ tag). Throws ObjectFormatError and releases nothing on failure. */
export function decryptSegment(key: SegmentKey, index: number, last: boolean, sealed: Buffer): Buffer {
  const full = key.segmentSize + TAG_LENGTH;
  if (sealed.length < TAG_LENGTH || (!last && sealed.length < full)) throw new ObjectFormatError('TRUNCATED', index);
  if (sealed.length > full) throw new ObjectFormatError('TRAILING_DATA', index);
  const plain = openSegmentOrUndefined(key, index, last, sealed);
  if (!plain) throw new ObjectFormatError('SEGMENT_AUTH_FAILED', index);
  return plain;
}

function checkSegmentPlaintext(key: SegmentKey, last: boolean, length: number): void {
  if (last ? length > key.segmentSize : length !== key.segmentSize) {
    throw new RangeError(
      `a ${last ? 'final' : 'non-final'} segment holds ${last ? 'at most' : 'exactly'} ${key.segmentSize} bytes`,
    );
  }
}

/** Segments in an object of `plainSize` bytes: at least one (the empty object has one empty segment). */
export function segmentCount(plainSize: number, segmentSize = DEFAULT_SEGMENT_SIZE): number {
  checkSize(plainSize, 'plaintext size');
  return plainSize === 0 ? 1 : Math.ceil(plainSize / segmentSize);
}

/** Bytes of the stored object for `plainSize` bytes of plaintext: header + plaintext + 16 per segment. */
export function ciphertextSize(plainSize: number, segmentSize = DEFAULT_SEGMENT_SIZE): number {
  const n = segmentCount(plainSize, segmentSize);
  if (n > MAX_SEGMENTS) throw new RangeError('object too large for the segment index');
  return OBJECT_HEADER_LENGTH + plainSize + n * TAG_LENGTH;
}

/** Inverse of `ciphertextSize`; a size no object can have throws ObjectFormatError TRUNCATED. */
export function plaintextSize(cipherSize: number, segmentSize = DEFAULT_SEGMENT_SIZE): number {
  checkSize(cipherSize, 'ciphertext size');
  const body = cipherSize - OBJECT_HEADER_LENGTH;
  if (body < TAG_LENGTH) throw new ObjectFormatError('TRUNCATED');
  const plain = body - Math.ceil(body / (segmentSize + TAG_LENGTH)) * TAG_LENGTH;
  if (plain < 0 || ciphertextSize(plain, segmentSize) !== cipherSize) throw new ObjectFormatError('TRUNCATED');
  return plain;
}

/** What to fetch and how to cut it, for plaintext bytes [plainStart, plainEnd) of an object. */
export interface CiphertextRange {
  readonly plainStart: number;
  readonly plainEnd: number;
  /** Object bytes [start, end) to fetch: whole segments only (HTTP: `bytes=${start}-${end - 1}`). */
  readonly start: number;
  readonly end: number;
  readonly firstSegment: number;
  readonly lastSegment: number;
  /** True when `lastSegment` is the object's final segment (it is opened with the last flag). */
  readonly finalSegment: boolean;
  /** Plaintext bytes to drop from the start of the first decrypted segment. */
  readonly skip: number;
  /** Plaintext bytes the range yields: plainEnd − plainStart. */
  readonly length: number;
  readonly segmentSize: number;
}

/**
 * For plaintext bytes [plainStart, plainEnd) (end exclusive; HTTP's inclusive `last` is
 * plainEnd − 1) of an object of `totalPlainSize` bytes, which stored bytes to fetch. The header
 * is not included: read it separately (or keep a copy with the manifest) and `openObjectCipher` it.
 */
export function ciphertextRangeFor(
  plainStart: number,
  plainEnd: number,
  totalPlainSize: number,
  segmentSize = DEFAULT_SEGMENT_SIZE,
): CiphertextRange {
  checkSize(totalPlainSize, 'plaintext size');
  if (
    !Number.isSafeInteger(plainStart) ||
    !Number.isSafeInteger(plainEnd) ||
    plainStart < 0 ||
    plainStart >= plainEnd ||
    plainEnd > totalPlainSize
  ) {
    throw new RangeError('range must satisfy 0 <= start < end <= size');
  }
  const sealedSegment = segmentSize + TAG_LENGTH;
  const firstSegment = Math.floor(plainStart / segmentSize);
  const lastSegment = Math.floor((plainEnd - 1) / segmentSize);
  const lastPlain = Math.min(segmentSize, totalPlainSize - lastSegment * segmentSize);
  return {
    plainStart,
    plainEnd,
    segmentSize,
    firstSegment,
    lastSegment,
    start: OBJECT_HEADER_LENGTH + firstSegment * sealedSegment,
    end: OBJECT_HEADER_LENGTH + lastSegment * sealedSegment + lastPlain + TAG_LENGTH,
    finalSegment: lastSegment === segmentCount(totalPlainSize, segmentSize) - 1,
    skip: plainStart - firstSegment * segmentSize,
    length: plainEnd - plainStart,
  };
}

/**
 * Decrypts the bytes fetched for `range` (exactly end − start of them) and returns the
 * plaintext slice. All segments are verified before anything is returned.
 */
export function decryptRange(key: SegmentKey, range: CiphertextRange, fetched: Buffer): Buffer {
  if (key.segmentSize !== range.segmentSize) throw new RangeError('range was computed for another segment size');
  const expected = range.end - range.start;
  if (fetched.length < expected) throw new ObjectFormatError('TRUNCATED');
  if (fetched.length > expected) throw new ObjectFormatError('TRAILING_DATA');
  const sealedSegment = key.segmentSize + TAG_LENGTH;
  const out = Buffer.allocUnsafe(range.length);
  let written = 0;
  for (let i = range.firstSegment, off = 0; i <= range.lastSegment; i++, off += sealedSegment) {
    const last = range.finalSegment && i === range.lastSegment;
    const plain = decryptSegment(key, i, last, fetched.subarray(off, Math.min(off + sealedSegment, fetched.length)));
    const from = i === range.firstSegment ? range.skip : 0;
    written += plain.copy(out, written, from, Math.min(plain.length, from + range.length - written));
  }
  return out;
}

/** One multipart part: `plaintext` starts at segment `firstSegment` of the object. */
export interface PartInput {
  readonly firstSegment: number;
  readonly plaintext: Buffer;
  /** True for the part holding the object's last byte (or the only, empty part of an empty object). */
  readonly final: boolean;
  /** SHA-256 of the plaintext of an earlier attempt of this part, when this is a retry. */
  readonly previousSha256?: Buffer;
}

/** A sealed part, and the SHA-256 of its plaintext to record before the ciphertext is released. */
export interface SealedPart {
  readonly ciphertext: Buffer;
  readonly plaintextSha256: Buffer;
  /** Where `ciphertext` goes in the stored object. */
  readonly offset: number;
  /** The segment after this part: the next part's `firstSegment`. */
  readonly nextSegment: number;
}

/**
 * Seals one part of a multipart upload. A non-final part holds whole segments only; the part at
 * segment 0 starts with the header. Parts under one header may be sealed in any order and in
 * parallel. A retry must carry the same bytes (`previousSha256`); different bytes under the same
 * header would reuse nonces, so they are refused (PART_CONTENT_CHANGED) and the upload must
 * restart under a fresh header. An empty final part is only valid as the whole (empty) object.
 */
export function encryptPart(cipher: ObjectCipher, part: PartInput): SealedPart {
  const { firstSegment, plaintext, final } = part;
  const seg = cipher.segmentSize;
  if (!Number.isInteger(firstSegment) || firstSegment < 0)
    throw new RangeError('first segment must be a non-negative integer');
  if (final ? plaintext.length === 0 && firstSegment !== 0 : plaintext.length === 0 || plaintext.length % seg !== 0) {
    throw new RangeError(
      final
        ? 'an empty final part is only valid for an empty object'
        : `a non-final part holds a positive multiple of ${seg} bytes`,
    );
  }
  const plaintextSha256 = createHash('sha256').update(plaintext).digest();
  if (
    part.previousSha256 &&
    !(part.previousSha256.length === 32 && timingSafeEqual(part.previousSha256, plaintextSha256))
  ) {
    throw new ObjectFormatError('PART_CONTENT_CHANGED', firstSegment);
  }
  const count = Math.max(1, Math.ceil(plaintext.length / seg));
  if (firstSegment + count > MAX_SEGMENTS) throw new RangeError('object too large for the segment index');
  const out: Buffer[] = firstSegment === 0 ? [cipher.headerBytes] : [];
  let total = firstSegment === 0 ? cipher.headerBytes.length : 0;
  for (let k = 0; k < count; k++) {
    const last = final && k === count - 1;
    total += sealSegmentTo(cipher, firstSegment + k, last, plaintext.subarray(k * seg, (k + 1) * seg), out);
  }
  const offset = firstSegment === 0 ? 0 : OBJECT_HEADER_LENGTH + firstSegment * (seg + TAG_LENGTH);
  return { ciphertext: Buffer.concat(out, total), plaintextSha256, offset, nextSegment: firstSegment + count };
}

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a safe non-negative integer`);
}
