/**
 * The Strongroom object format: segmented streaming AEAD for dataset objects and backups
 * (DESIGN §4; byte layout in docs/format-object.md). This file is the public face; the parts
 * live in object-format-{header,segment,codec,stream}.ts.
 *
 * Layout: header(85) ‖ segment 0 ‖ … ‖ segment n−1, each segment = AES-256-GCM(plaintext of
 * 64 KiB, the last one 0..64 KiB) ‖ tag(16), under a content key derived per object from its
 * random DEK. The engine receives the raw DEK; wrapping it (WorkspaceEncryptor.wrapDataKey) and
 * storing it in the manifest is the caller's job.
 *
 * Threat model: the drive is hostile. Whoever can write it may truncate, extend, reorder, drop,
 * duplicate or alter segments, or swap in another object's header; each fails closed with an
 * ObjectFormatError, and no plaintext of a failing segment is released.
 *
 * @example Upload (streaming)
 * const dek = createDataKey();
 * const enc = createEncryptStream({ dataKey: dek, workspaceId, objectId, keyTerm: ws.keyVersion }, { hashPlaintext: true });
 * await pipeline(request, enc, driveWriteStream);
 * manifest = { wrappedDek: ws.wrapDataKey(objectId, dek), header: enc.headerBytes, size: enc.plainSize, sha256: enc.plainSha256 };
 *
 * @example Range download (plaintext bytes 1000..1999)
 * const cipher = openObjectCipher({ dataKey, workspaceId, objectId }, manifest.header);
 * const r = ciphertextRangeFor(1000, 2000, manifest.size);
 * await pipeline(drive.read(key, { start: r.start, end: r.end }), createRangeDecryptStream(cipher, r), response);
 */
export {
  COMMITMENT_LENGTH,
  DEFAULT_SEGMENT_SIZE,
  MAX_SEGMENT_SIZE,
  MIN_SEGMENT_SIZE,
  NONCE_PREFIX_LENGTH,
  OBJECT_FORMAT_VERSION,
  OBJECT_HEADER_LENGTH,
  OBJECT_MAGIC,
  ObjectFormatError,
  SALT_LENGTH,
  SUITE_AES256GCM_HKDF_SHA256,
  createObjectCipher,
  deriveObjectKeys,
  encodeHeader,
  openObjectCipher,
  parseHeader,
  type NewObjectParams,
  type ObjectCipher,
  type ObjectFormatReason,
  type ObjectHeader,
  type ObjectIdentity,
  type ObjectKeyParams,
  type SegmentKey,
} from './object-format-header.ts';
export {
  MAX_SEGMENTS,
  ciphertextRangeFor,
  ciphertextSize,
  decryptRange,
  decryptSegment,
  encryptPart,
  encryptSegment,
  plaintextSize,
  segmentCount,
  type CiphertextRange,
  type PartInput,
  type SealedPart,
} from './object-format-segment.ts';
export { ObjectDecoder, ObjectEncoder, type CodecOutputOptions, type DecodeOptions } from './object-format-codec.ts';
export { OUTPUT_CHUNK_SIZE } from './object-format-gather.ts';
export {
  ObjectDecryptStream,
  ObjectEncryptStream,
  INPUT_GATHER_SIZE,
  STREAM_HIGH_WATER_MARK,
  createDecryptStream,
  createEncryptStream,
  createRangeDecryptStream,
  decryptObject,
  encryptObject,
  verifyObject,
  type EncryptStreamOptions,
  type ObjectStreamOptions,
} from './object-format-stream.ts';
