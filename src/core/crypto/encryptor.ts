/**
 * Encryptors: what code outside the keyring module gets instead of keys.
 *
 * Guarantees:
 * - An `Encryptor` is bound to its context at creation (a barrier table/column, or a workspace
 *   and its key), so a caller can only choose the last, per-value part (row id or context
 *   string). It never exposes key bytes.
 * - Workspace ciphertexts bind "strongroom/workspace", the workspace id, the key version and the
 *   caller's context string as AAD: moved to another workspace or context, they fail to open.
 * - Data keys (DEKs) are 32 random bytes per object or record, wrapped by the workspace key with
 *   AAD binding the workspace id, key version and object id.
 * - Crypto-shredding: whoever deletes a workspace key makes everything sealed or wrapped under it
 *   unreadable. Callers that find the key gone answer KEY_DESTROYED; nothing here can recover it.
 */
import { randomBytes } from 'node:crypto';
import {
  DecryptionError,
  KEY_LENGTH,
  NONCE_LENGTH,
  TAG_LENGTH,
  assertKey,
  assertU32,
  encodeAad,
  openAead,
  sealAead,
  type UnsafeNonceOption,
} from './aead.ts';
import type { Barrier } from './barrier.ts';

/** Seals and opens values whose binding was fixed when the encryptor was made. */
export interface Encryptor {
  /** Seals `plaintext` for `context` (a row id, or a caller-defined context string). */
  seal(plaintext: Buffer, context: string): Buffer;
  /** Opens a value sealed for the same `context`; throws DecryptionError otherwise. */
  open(ciphertext: Buffer, context: string): Buffer;
}

/**
 * An `Encryptor` over the barrier for one table column; the context argument is the row id.
 * @example
 * const totp = bindEncryptor(barrier, { table: 'users', column: 'totp_seed' });
 * const stored = totp.seal(seed, user.id);
 */
export function bindEncryptor(
  barrier: Pick<Barrier, 'seal' | 'open'>,
  binding: { table: string; column: string },
): Encryptor {
  const { table, column } = binding;
  return {
    seal: (plaintext, rowId) => barrier.seal(plaintext, { table, column, rowId }),
    open: (ciphertext, rowId) => barrier.open(ciphertext, { table, column, rowId }),
  };
}

/** A workspace key-encryption key: 32 random bytes and the version it is stored under. */
export interface WorkspaceKey {
  readonly version: number;
  readonly key: Buffer;
}

/** Creates a workspace key with fresh random bytes; `version` starts at 1 and grows on rotation. */
export function createWorkspaceKey(version = 1): WorkspaceKey {
  assertU32(version, 'workspace key version', 1);
  return { version, key: randomBytes(KEY_LENGTH) };
}

/** An `Encryptor` for one workspace key, plus DEK wrapping under the same key. */
export interface WorkspaceEncryptor extends Encryptor {
  readonly workspaceId: string;
  readonly keyVersion: number;
  /** Wraps a 32-byte DEK for `objectId`. */
  wrapDataKey(objectId: string, dataKey: Buffer): Buffer;
  /** Unwraps a DEK wrapped for exactly this workspace, key version and `objectId`. */
  unwrapDataKey(objectId: string, wrapped: Buffer): Buffer;
}

/** Layout version byte of workspace-encryptor ciphertexts. */
export const WORKSPACE_VERSION = 0x02;
/** Layout version byte of wrapped data keys. */
export const WRAPPED_DEK_VERSION = 0x03;
const HEADER_LENGTH = 1 + 4;
const WRAPPED_DEK_LENGTH = HEADER_LENGTH + NONCE_LENGTH + KEY_LENGTH + TAG_LENGTH;

/** 32 fresh random bytes: a data key for one object version or record. */
export function createDataKey(): Buffer {
  return randomBytes(KEY_LENGTH);
}

/**
 * Binds `wsKey` to workspace `workspaceId`. Ciphertext: 0x02 ‖ key version u32 ‖ nonce ‖ ct ‖ tag.
 * The encryptor keeps a reference to `wsKey.key`; zero-filling it disables the encryptor.
 */
export function workspaceEncryptor(
  workspaceId: string,
  wsKey: WorkspaceKey,
  opts: UnsafeNonceOption = {},
): WorkspaceEncryptor {
  if (typeof workspaceId !== 'string' || workspaceId.length === 0) throw new TypeError('workspace id is required');
  assertKey(wsKey.key, 'workspace key');
  assertU32(wsKey.version, 'workspace key version', 1);
  const { key, version } = wsKey;
  const nonceOpt: UnsafeNonceOption = opts.unsafeNonce ? { unsafeNonce: opts.unsafeNonce } : {};
  const valueAad = (context: string) =>
    encodeAad(['strongroom/workspace', WORKSPACE_VERSION, workspaceId, version, requireText(context, 'context')]);
  const dekAad = (objectId: string) =>
    encodeAad(['strongroom/dek', WRAPPED_DEK_VERSION, workspaceId, version, requireText(objectId, 'object id')]);

  return {
    workspaceId,
    keyVersion: version,
    seal: (plaintext, context) =>
      frame(WORKSPACE_VERSION, version, sealAead(key, plaintext, valueAad(context), nonceOpt)),
    open: (ciphertext, context) => openAead(key, unframe(WORKSPACE_VERSION, version, ciphertext), valueAad(context)),
    wrapDataKey: (objectId, dataKey) => {
      assertKey(dataKey, 'data key');
      return frame(WRAPPED_DEK_VERSION, version, sealAead(key, dataKey, dekAad(objectId), nonceOpt));
    },
    unwrapDataKey: (objectId, wrapped) => {
      if (!Buffer.isBuffer(wrapped) || wrapped.length !== WRAPPED_DEK_LENGTH) throw new DecryptionError();
      return openAead(key, unframe(WRAPPED_DEK_VERSION, version, wrapped), dekAad(objectId));
    },
  };
}

/**
 * The key version a workspace ciphertext or wrapped DEK names, so the caller can fetch that
 * version of the workspace key. Header only, not authenticated; malformed → DecryptionError.
 */
export function workspaceKeyVersionOf(ciphertext: Buffer): number {
  const ok =
    Buffer.isBuffer(ciphertext) &&
    ciphertext.length >= HEADER_LENGTH + NONCE_LENGTH + TAG_LENGTH &&
    (ciphertext[0] === WORKSPACE_VERSION || ciphertext[0] === WRAPPED_DEK_VERSION);
  if (!ok) throw new DecryptionError();
  return ciphertext.readUInt32BE(1);
}

function requireText(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${what} is required`);
  return value;
}

function frame(layout: number, keyVersion: number, sealed: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  header[0] = layout;
  header.writeUInt32BE(keyVersion, 1);
  return Buffer.concat([header, sealed]);
}

/** Checks layout byte and key version (both also bound in the AAD) and strips the header. */
function unframe(layout: number, keyVersion: number, ciphertext: Buffer): Buffer {
  if (
    !Buffer.isBuffer(ciphertext) ||
    ciphertext.length < HEADER_LENGTH + NONCE_LENGTH + TAG_LENGTH ||
    ciphertext[0] !== layout ||
    ciphertext.readUInt32BE(1) !== keyVersion
  ) {
    throw new DecryptionError();
  }
  return ciphertext.subarray(HEADER_LENGTH);
}
