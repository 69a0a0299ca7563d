/**
 * Object format, part 1: the header, the key schedule and the error type.
 *
 * Guarantees:
 * - Every object carries an 85-byte header in the clear: magic "SROB", version, suite, segment
 *   size, a 32-byte random salt, a 7-byte random nonce prefix, the key term of the wrapped data
 *   key, and a 32-byte key commitment. Its SHA-256 is the associated data of every segment, so
 *   no header byte can be altered (or swapped in from another object) without every segment
 *   failing to open.
 * - The content key is HKDF-SHA256(DEK, salt, info binding the format, suite, workspace id and
 *   object id); the commitment is a second HKDF output under another label. `openObjectCipher`
 *   compares the commitment in constant time before it returns anything that can decrypt, so a
 *   wrong key, a wrong workspace or object id, or another object's header fails before a single
 *   segment is opened (GCM alone is not key-committing).
 * - Failures are `ObjectFormatError`s: an `AppError` (`DECRYPTION_FAILED`, or `CONFLICT` for a
 *   changed multipart retry) with a closed `reason` and a detail safe to show a stranger: it
 *   never carries key, plaintext or ciphertext bytes.
 */
import { createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.ts';
import { assertKey, assertU32, encodeAad } from './aead.ts';

/** "SROB": Strongroom object. */
export const OBJECT_MAGIC = Buffer.from('SROB', 'latin1');
/** The only layout version this code writes and reads. */
export const OBJECT_FORMAT_VERSION = 1;
/** Suite 1: AES-256-GCM segments, HKDF-SHA256 key schedule, SHA-256 header hash. */
export const SUITE_AES256GCM_HKDF_SHA256 = 1;
/** Plaintext bytes per segment (the unit of random access, not of I/O). */
export const DEFAULT_SEGMENT_SIZE = 64 * 1024;
/** Smallest and largest segment size a reader accepts (writers use the default). */
export const MIN_SEGMENT_SIZE = 16;
export const MAX_SEGMENT_SIZE = 16 * 1024 * 1024;
export const SALT_LENGTH = 32;
export const NONCE_PREFIX_LENGTH = 7;
export const COMMITMENT_LENGTH = 32;
/** magic 4 ‖ version 1 ‖ suite 1 ‖ segment size 4 ‖ salt 32 ‖ nonce prefix 7 ‖ key term 4 ‖ commitment 32. */
export const OBJECT_HEADER_LENGTH = 4 + 1 + 1 + 4 + SALT_LENGTH + NONCE_PREFIX_LENGTH + 4 + COMMITMENT_LENGTH;

const CONTENT_KEY_LABEL = 'strongroom/object/content-key';
const COMMITMENT_LABEL = 'strongroom/object/key-commitment';
const HKDF_INFO_MAX = 1024; // node:crypto's (and RFC 5869's practical) limit on info

/** Why an object failed. Closed: callers may switch on it. */
export type ObjectFormatReason =
  | 'HEADER_INVALID' // not an object header (magic, length, field out of range)
  | 'UNSUPPORTED_VERSION' // a version or suite this code does not read
  | 'KEY_COMMITMENT_MISMATCH' // wrong DEK, wrong workspace/object id, or another object's header
  | 'SEGMENT_AUTH_FAILED' // a segment's tag did not verify: flipped bits, reordered, dropped or duplicated segments
  | 'TRUNCATED' // the object ends before its final segment
  | 'TRAILING_DATA' // bytes follow the final segment (extension)
  | 'NON_CANONICAL' // an empty final segment after full ones: no writer of this format makes that
  | 'SIZE_MISMATCH' // authenticated, but not the plaintext size the caller expected
  | 'PART_CONTENT_CHANGED'; // a multipart retry with different bytes under the same header

const DETAILS: Record<ObjectFormatReason, string> = {
  HEADER_INVALID: 'the object header is malformed',
  UNSUPPORTED_VERSION: 'the object uses a format version or suite this server does not read',
  KEY_COMMITMENT_MISMATCH: 'the object does not belong to this key (key commitment mismatch)',
  SEGMENT_AUTH_FAILED: 'an object segment failed authentication',
  TRUNCATED: 'the object is truncated',
  TRAILING_DATA: 'the object has data after its final segment',
  NON_CANONICAL: 'the object has an empty final segment after full ones',
  SIZE_MISMATCH: 'the object does not have the expected size',
  PART_CONTENT_CHANGED: 'a retried part carries different bytes than its first attempt',
};

/**
 * A dataset object failed to parse or authenticate (or a multipart retry changed content).
 * `segment` is the index of the segment concerned, when one is.
 */
export class ObjectFormatError extends AppError {
  readonly reason: ObjectFormatReason;
  readonly segment: number | undefined;

  constructor(reason: ObjectFormatReason, segment?: number) {
    const where = segment === undefined ? '' : ` (segment ${segment})`;
    super(reason === 'PART_CONTENT_CHANGED' ? 'CONFLICT' : 'DECRYPTION_FAILED', {
      detail: DETAILS[reason] + where,
      meta: { reason, ...(segment === undefined ? {} : { segment }) },
    });
    this.name = 'ObjectFormatError';
    this.reason = reason;
    this.segment = segment;
  }
}

/** The header fields, as stored. */
export interface ObjectHeader {
  readonly version: number;
  readonly suite: number;
  readonly segmentSize: number;
  readonly salt: Buffer;
  readonly noncePrefix: Buffer;
  /** Key term (workspace key version) that wraps this object's DEK, so readers know which to unwrap with. */
  readonly keyTerm: number;
  readonly commitment: Buffer;
}

/** Which object a key belongs to: both ids go into the key schedule. */
export interface ObjectIdentity {
  readonly workspaceId: string;
  readonly objectId: string;
}

/** What a reader needs: the raw (unwrapped) DEK and the object's identity. */
export interface ObjectKeyParams extends ObjectIdentity {
  /** The object's 32-byte data key, unwrapped. The engine never keeps a reference after use. */
  readonly dataKey: Buffer;
}

/** What a writer needs to start a new object. */
export interface NewObjectParams extends ObjectKeyParams {
  /** Key term of the workspace key wrapping `dataKey`; written in the header. */
  readonly keyTerm: number;
  readonly segmentSize?: number;
  /** @internal Fixed salt, for known-answer tests only. Reuse with the same DEK repeats the content key. */
  readonly unsafeSalt?: Buffer;
  /** @internal Fixed nonce prefix, for known-answer tests only. */
  readonly unsafeNoncePrefix?: Buffer;
}

/**
 * Everything segment encryption depends on. Segment crypto is a pure function of these, the
 * segment index, the last flag and the plaintext, so parts can be encrypted anywhere in parallel.
 */
export interface SegmentKey {
  readonly contentKey: Buffer;
  readonly noncePrefix: Buffer;
  /** SHA-256 of the header bytes: the AAD of every segment. */
  readonly headerHash: Buffer;
  readonly segmentSize: number;
}

/** A header and the keys derived for it, after the commitment was created or checked. */
export interface ObjectCipher extends SegmentKey {
  readonly header: ObjectHeader;
  readonly headerBytes: Buffer;
}

/** Writes the 85-byte header. Checks field sizes; does not derive or check anything. */
export function encodeHeader(h: ObjectHeader): Buffer {
  assertU32(h.segmentSize, 'segment size', MIN_SEGMENT_SIZE);
  if (h.segmentSize > MAX_SEGMENT_SIZE) throw new RangeError(`segment size must be at most ${MAX_SEGMENT_SIZE}`);
  assertU32(h.keyTerm, 'key term', 1);
  if (h.version !== OBJECT_FORMAT_VERSION || h.suite !== SUITE_AES256GCM_HKDF_SHA256)
    throw new RangeError('unsupported version or suite');
  checkLength(h.salt, SALT_LENGTH, 'salt');
  checkLength(h.noncePrefix, NONCE_PREFIX_LENGTH, 'nonce prefix');
  checkLength(h.commitment, COMMITMENT_LENGTH, 'commitment');
  const out = Buffer.alloc(OBJECT_HEADER_LENGTH);
  let o = OBJECT_MAGIC.copy(out, 0);
  o = out.writeUInt8(h.version, o);
  o = out.writeUInt8(h.suite, o);
  o = out.writeUInt32BE(h.segmentSize, o);
  o += h.salt.copy(out, o);
  o += h.noncePrefix.copy(out, o);
  o = out.writeUInt32BE(h.keyTerm, o);
  h.commitment.copy(out, o);
  return out;
}

/**
 * Reads a header (the first `OBJECT_HEADER_LENGTH` bytes of `bytes`; more is ignored). Checks
 * structure only — nothing here is authenticated until `openObjectCipher` checks the commitment
 * and the segments check the header hash. Throws ObjectFormatError HEADER_INVALID / UNSUPPORTED_VERSION.
 */
export function parseHeader(bytes: Buffer): ObjectHeader {
  if (!Buffer.isBuffer(bytes)) throw new TypeError('header bytes must be a Buffer');
  const magic = bytes.subarray(0, Math.min(OBJECT_MAGIC.length, bytes.length));
  if (!magic.equals(OBJECT_MAGIC.subarray(0, magic.length))) throw new ObjectFormatError('HEADER_INVALID');
  if (bytes.length < OBJECT_HEADER_LENGTH) throw new ObjectFormatError('TRUNCATED');
  const version = bytes[4]!;
  const suite = bytes[5]!;
  if (version !== OBJECT_FORMAT_VERSION || suite !== SUITE_AES256GCM_HKDF_SHA256)
    throw new ObjectFormatError('UNSUPPORTED_VERSION');
  const segmentSize = bytes.readUInt32BE(6);
  const keyTerm = bytes.readUInt32BE(10 + SALT_LENGTH + NONCE_PREFIX_LENGTH);
  if (segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE || keyTerm < 1)
    throw new ObjectFormatError('HEADER_INVALID');
  const copy = (start: number, len: number) => Buffer.from(bytes.subarray(start, start + len));
  return {
    version,
    suite,
    segmentSize,
    keyTerm,
    salt: copy(10, SALT_LENGTH),
    noncePrefix: copy(10 + SALT_LENGTH, NONCE_PREFIX_LENGTH),
    commitment: copy(OBJECT_HEADER_LENGTH - COMMITMENT_LENGTH, COMMITMENT_LENGTH),
  };
}

/**
 * The key schedule: content key and commitment for one DEK, salt and object identity.
 * info = encodeAad([label, version, suite, workspaceId, objectId]); both are 32 bytes.
 */
export function deriveObjectKeys(
  dataKey: Buffer,
  salt: Buffer,
  id: ObjectIdentity,
): { contentKey: Buffer; commitment: Buffer } {
  assertKey(dataKey, 'data key');
  checkLength(salt, SALT_LENGTH, 'salt');
  for (const [what, v] of [
    ['workspace id', id.workspaceId],
    ['object id', id.objectId],
  ] as const) {
    if (typeof v !== 'string' || v.length === 0) throw new TypeError(`${what} is required`);
  }
  const derive = (label: string) => {
    const info = encodeAad([label, OBJECT_FORMAT_VERSION, SUITE_AES256GCM_HKDF_SHA256, id.workspaceId, id.objectId]);
    if (info.length > HKDF_INFO_MAX) throw new RangeError('workspace and object ids are too long');
    return Buffer.from(hkdfSync('sha256', dataKey, salt, info, 32));
  };
  return { contentKey: derive(CONTENT_KEY_LABEL), commitment: derive(COMMITMENT_LABEL) };
}

/** Starts a new object: fresh random salt and nonce prefix, derived keys, encoded header. */
export function createObjectCipher(params: NewObjectParams): ObjectCipher {
  const salt = params.unsafeSalt ?? randomBytes(SALT_LENGTH);
  const noncePrefix = params.unsafeNoncePrefix ?? randomBytes(NONCE_PREFIX_LENGTH);
  const { contentKey, commitment } = deriveObjectKeys(params.dataKey, salt, params);
  const header: ObjectHeader = {
    version: OBJECT_FORMAT_VERSION,
    suite: SUITE_AES256GCM_HKDF_SHA256,
    segmentSize: params.segmentSize ?? DEFAULT_SEGMENT_SIZE,
    salt: Buffer.from(salt),
    noncePrefix: Buffer.from(noncePrefix),
    keyTerm: params.keyTerm,
    commitment,
  };
  const headerBytes = encodeHeader(header);
  return {
    header,
    headerBytes,
    headerHash: sha256(headerBytes),
    contentKey,
    noncePrefix: header.noncePrefix,
    segmentSize: header.segmentSize,
  };
}

/**
 * Parses `headerBytes`, derives the keys and checks the commitment in constant time. Only a
 * header that matches this DEK, workspace and object yields a cipher; otherwise
 * KEY_COMMITMENT_MISMATCH (and the derived key is zero-filled).
 */
export function openObjectCipher(params: ObjectKeyParams, headerBytes: Buffer): ObjectCipher {
  const header = parseHeader(headerBytes);
  const exact = Buffer.from(headerBytes.subarray(0, OBJECT_HEADER_LENGTH));
  const { contentKey, commitment } = deriveObjectKeys(params.dataKey, header.salt, params);
  if (!timingSafeEqual(commitment, header.commitment)) {
    contentKey.fill(0);
    throw new ObjectFormatError('KEY_COMMITMENT_MISMATCH');
  }
  return {
    header,
    headerBytes: exact,
    headerHash: sha256(exact),
    contentKey,
    noncePrefix: header.noncePrefix,
    segmentSize: header.segmentSize,
  };
}

function sha256(b: Buffer): Buffer {
  return createHash('sha256').update(b).digest();
}

function checkLength(b: Buffer, n: number, what: string): void {
  if (!Buffer.isBuffer(b) || b.length !== n) throw new RangeError(`${what} must be ${n} bytes`);
}
