/**
 * AES-256-GCM with associated data, the only cipher Strongroom uses for values and keys.
 *
 * Guarantees:
 * - Every seal uses a fresh 12-byte nonce from the OS CSPRNG and a full 16-byte tag.
 * - There is no API without associated data: callers must say what a ciphertext belongs to, so a
 *   ciphertext moved to another place (row, column, workspace, object) fails to open.
 * - Every failure to open, whatever its cause (wrong key, wrong AAD, flipped bit, truncation),
 *   throws the same `DecryptionError` with no detail, so an attacker who can submit ciphertexts
 *   learns nothing about which check failed.
 *
 * Threat model: storage is hostile (Vault's barrier lesson). Whoever can write the database may
 * copy, truncate or alter bytes; none of that may yield plaintext or a silently wrong value.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '../errors.ts';

/** Bytes in an AES-256 key. */
export const KEY_LENGTH = 32;
/** Bytes in a GCM nonce (the 96-bit size GCM is specified for). */
export const NONCE_LENGTH = 12;
/** Bytes in a GCM tag (never truncated). */
export const TAG_LENGTH = 16;

const CIPHER = 'aes-256-gcm';
const MAX_U32 = 0xffff_ffff;

/**
 * The one error for "this ciphertext does not open". It carries no detail and no cause on
 * purpose: which check failed (tag, length, version, term) is not revealed to anyone.
 */
export class DecryptionError extends AppError {
  constructor() {
    super('DECRYPTION_FAILED');
    this.name = 'DecryptionError';
  }
}

/**
 * Test-only knob. A fixed nonce lets known-answer tests pin exact bytes; reusing a nonce under
 * one key in production destroys GCM's confidentiality and integrity, so nothing outside tests
 * may pass it.
 * @internal
 */
export interface UnsafeNonceOption {
  /** @internal Fixed 12-byte nonce, for known-answer tests only. */
  unsafeNonce?: Buffer;
}

/**
 * Encodes AAD parts unambiguously: each part is a type tag byte ('b' bytes, 's' UTF-8 string,
 * 'n' number), a uint32 big-endian length and the bytes. So ("ab","c") ≠ ("a","bc"), and the
 * string "1" ≠ the number 1. Numbers must be safe non-negative integers (8 bytes, big-endian).
 * Strings must be well-formed Unicode, so two different strings never encode the same.
 */
export function encodeAad(parts: readonly (string | Buffer | number)[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const [tag, bytes] = encodePart(part);
    const head = Buffer.alloc(5);
    head.write(tag, 0, 'latin1');
    head.writeUInt32BE(bytes.length, 1);
    chunks.push(head, bytes);
  }
  return Buffer.concat(chunks);
}

function encodePart(part: string | Buffer | number): [string, Buffer] {
  if (Buffer.isBuffer(part)) return ['b', part];
  if (typeof part === 'string') {
    const bytes = Buffer.from(part, 'utf8');
    if (bytes.toString('utf8') !== part) throw new TypeError('AAD string is not well-formed Unicode');
    return ['s', bytes];
  }
  if (!Number.isSafeInteger(part) || part < 0) throw new RangeError('AAD number must be a safe non-negative integer');
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(part));
  return ['n', bytes];
}

/** Throws unless `key` is exactly 32 bytes. Guards every entry point that takes a key. */
export function assertKey(key: Buffer, what = 'key'): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_LENGTH) {
    throw new RangeError(`${what} must be ${KEY_LENGTH} bytes`);
  }
}

/** Throws unless `n` fits the uint32 fields of the ciphertext headers and is at least `min`. */
export function assertU32(n: number, what: string, min = 0): void {
  if (!Number.isInteger(n) || n < min || n > MAX_U32) {
    throw new RangeError(`${what} must be an integer in ${min}..${MAX_U32}`);
  }
}

/**
 * Seals `plaintext` under `key` bound to `aad`. Returns nonce(12) ‖ ciphertext ‖ tag(16).
 * `aad` must be non-empty (build it with `encodeAad`), so no value is ever sealed unbound.
 */
export function sealAead(key: Buffer, plaintext: Buffer, aad: Buffer, opts: UnsafeNonceOption = {}): Buffer {
  assertKey(key);
  if (!Buffer.isBuffer(aad) || aad.length === 0) throw new TypeError('associated data is required');
  const nonce = opts.unsafeNonce ?? randomBytes(NONCE_LENGTH);
  if (nonce.length !== NONCE_LENGTH) throw new RangeError(`nonce must be ${NONCE_LENGTH} bytes`);
  const cipher = createCipheriv(CIPHER, key, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/**
 * Opens nonce ‖ ciphertext ‖ tag sealed by `sealAead` with the same key and AAD. Returns the
 * plaintext only if the tag verifies; any failure throws `DecryptionError` and releases nothing.
 */
export function openAead(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  assertKey(key);
  if (!Buffer.isBuffer(aad) || aad.length === 0) throw new TypeError('associated data is required');
  if (!Buffer.isBuffer(sealed) || sealed.length < NONCE_LENGTH + TAG_LENGTH) throw new DecryptionError();
  const nonce = sealed.subarray(0, NONCE_LENGTH);
  const body = sealed.subarray(NONCE_LENGTH, sealed.length - TAG_LENGTH);
  const tag = sealed.subarray(sealed.length - TAG_LENGTH);
  try {
    const decipher = createDecipheriv(CIPHER, key, nonce, { authTagLength: TAG_LENGTH });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const out = decipher.update(body);
    try {
      return Buffer.concat([out, decipher.final()]);
    } finally {
      out.fill(0);
    }
  } catch {
    throw new DecryptionError();
  }
}
