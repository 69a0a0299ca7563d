/**
 * The HSM key that wraps the root key, and AES-GCM with it inside the token.
 *
 * The key is AES-256, CKA_TOKEN (persistent), CKA_PRIVATE (visible only after login),
 * CKA_SENSITIVE and not CKA_EXTRACTABLE (its value never leaves the HSM, not even wrapped),
 * usable only for encrypt/decrypt (no wrap/unwrap/sign/derive), and not modifiable. Any key found
 * by label is checked for these properties before use; a key that fails is refused.
 *
 * Encryption is CKM_AES_GCM with a caller-chosen random 96-bit IV, a 128-bit tag and associated
 * data binding the purpose ("strongroom/root-key"): a flipped bit, another IV, or a blob from
 * another key fails authentication inside the HSM.
 */
import pkcs11js from 'pkcs11js';
import type { GcmParams, Mechanism } from 'pkcs11js';
import { keyError } from '../key-errors.ts';
import { ROOT_KEY_BYTES } from '../provider.ts';
import { pkcs11Code, toKeyError } from './pkcs11-session.ts';
import type { TokenSession } from './pkcs11-session.ts';

/** Associated data bound into every wrapped root key. */
export const ROOT_KEY_AAD = Buffer.from('strongroom/root-key');
/** AES-GCM IV length (random per wrap) and tag length. */
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BITS = 128;
/** Length of the stored ciphertext: the root key plus the 16-byte tag. */
export const WRAPPED_BYTES = ROOT_KEY_BYTES + GCM_TAG_BITS / 8;

/** Handles of secret keys on the token with this label. */
export function findKeysByLabel({ p11, session }: TokenSession, keyLabel: string): Buffer[] {
  try {
    p11.C_FindObjectsInit(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_LABEL, value: keyLabel },
    ]);
    try {
      return p11.C_FindObjects(session, 16);
    } finally {
      p11.C_FindObjectsFinal(session);
    }
  } catch (err) {
    throw toKeyError(err, `search for key "${keyLabel}"`);
  }
}

/** The single key labelled `keyLabel`, checked; KEY_NOT_FOUND / KEY_AMBIGUOUS / KEY_UNSAFE otherwise. */
export function findRootWrappingKey(s: TokenSession, keyLabel: string, tokenLabel: string): Buffer {
  const keys = findKeysByLabel(s, keyLabel);
  if (keys.length > 1) {
    throw keyError(
      'SEALED',
      'PKCS11_KEY_AMBIGUOUS',
      `${keys.length} keys are labelled "${keyLabel}" on token "${tokenLabel}"; the label must be unique`,
    );
  }
  const key = keys[0];
  if (!key) {
    throw keyError(
      'SEALED',
      'PKCS11_KEY_NOT_FOUND',
      `no key labelled "${keyLabel}" was found on PKCS#11 token "${tokenLabel}" (wrong label, or the key was deleted)`,
    );
  }
  assertKeySafe(s, key, keyLabel);
  return key;
}

/** Generate the persistent, sensitive, non-extractable AES-256 wrapping key. */
export function generateRootWrappingKey({ p11, session }: TokenSession, keyLabel: string): Buffer {
  try {
    return p11.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      { type: pkcs11js.CKA_LABEL, value: keyLabel },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_MODIFIABLE, value: false },
      { type: pkcs11js.CKA_ENCRYPT, value: true },
      { type: pkcs11js.CKA_DECRYPT, value: true },
      { type: pkcs11js.CKA_WRAP, value: false },
      { type: pkcs11js.CKA_UNWRAP, value: false },
      { type: pkcs11js.CKA_SIGN, value: false },
      { type: pkcs11js.CKA_VERIFY, value: false },
      { type: pkcs11js.CKA_DERIVE, value: false },
    ]);
  } catch (err) {
    throw toKeyError(err, `C_GenerateKey for "${keyLabel}"`);
  }
}

/** Security-relevant attributes of a key object, decoded. */
export interface KeyAttributes {
  keyType: number;
  valueLen: number;
  token: boolean;
  sensitive: boolean;
  extractable: boolean;
  alwaysSensitive: boolean;
  neverExtractable: boolean;
  encrypt: boolean;
  decrypt: boolean;
}

/** Read {@link KeyAttributes} with C_GetAttributeValue. */
export function readKeyAttributes({ p11, session }: TokenSession, key: Buffer): KeyAttributes {
  const types = [
    pkcs11js.CKA_KEY_TYPE,
    pkcs11js.CKA_VALUE_LEN,
    pkcs11js.CKA_TOKEN,
    pkcs11js.CKA_SENSITIVE,
    pkcs11js.CKA_EXTRACTABLE,
    pkcs11js.CKA_ALWAYS_SENSITIVE,
    pkcs11js.CKA_NEVER_EXTRACTABLE,
    pkcs11js.CKA_ENCRYPT,
    pkcs11js.CKA_DECRYPT,
  ];
  const values = p11.C_GetAttributeValue(
    session,
    key,
    types.map((type) => ({ type })),
  );
  const raw = (i: number): Buffer => {
    const v = values[i]?.value;
    return Buffer.isBuffer(v) ? v : Buffer.alloc(8);
  };
  const ulong = (i: number) => raw(i).readUIntLE(0, Math.min(6, raw(i).length || 1));
  const bool = (i: number) => (raw(i)[0] ?? 0) !== 0;
  return {
    keyType: ulong(0),
    valueLen: ulong(1),
    token: bool(2),
    sensitive: bool(3),
    extractable: bool(4),
    alwaysSensitive: bool(5),
    neverExtractable: bool(6),
    encrypt: bool(7),
    decrypt: bool(8),
  };
}

/** Refuse a key that is not a persistent, sensitive, non-extractable AES-256 encrypt/decrypt key. */
export function assertKeySafe(s: TokenSession, key: Buffer, keyLabel: string): void {
  let a: KeyAttributes;
  try {
    a = readKeyAttributes(s, key);
  } catch (err) {
    throw toKeyError(err, `reading attributes of key "${keyLabel}"`);
  }
  const problems = [
    a.keyType !== pkcs11js.CKK_AES || a.valueLen !== 32 ? 'not AES-256' : '',
    a.token ? '' : 'not persistent (CKA_TOKEN=false)',
    a.sensitive ? '' : 'not sensitive',
    a.extractable ? 'extractable' : '',
    a.encrypt && a.decrypt ? '' : 'not allowed to encrypt and decrypt',
  ].filter((p) => p !== '');
  if (problems.length > 0) {
    throw keyError(
      'SEALED',
      'PKCS11_KEY_UNSAFE',
      `key "${keyLabel}" on the token is unsafe to protect the root key: ${problems.join(', ')}`,
    );
  }
}

function gcm(iv: Buffer): Mechanism {
  const parameter: GcmParams = {
    type: pkcs11js.CK_PARAMS_GCM,
    iv,
    ivBits: iv.length * 8,
    aad: ROOT_KEY_AAD,
    tagBits: GCM_TAG_BITS,
  };
  return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
}

/** AES-GCM encrypt `plaintext` inside the HSM; returns ciphertext ‖ tag. */
export function encryptInHsm({ p11, session }: TokenSession, key: Buffer, iv: Buffer, plaintext: Buffer): Buffer {
  try {
    p11.C_EncryptInit(session, gcm(iv), key);
    return Buffer.from(p11.C_Encrypt(session, plaintext, Buffer.alloc(plaintext.length + 64)));
  } catch (err) {
    throw toKeyError(err, 'AES-GCM encryption in the HSM');
  }
}

/** AES-GCM decrypt inside the HSM; an authentication failure is `PKCS11_BLOB_INVALID`. */
export function decryptInHsm(
  { p11, session }: TokenSession,
  key: Buffer,
  iv: Buffer,
  ciphertext: Buffer,
  blobName: string,
): Buffer {
  try {
    p11.C_DecryptInit(session, gcm(iv), key);
  } catch (err) {
    throw toKeyError(err, 'C_DecryptInit with AES-GCM');
  }
  let out: Buffer;
  try {
    out = Buffer.from(p11.C_Decrypt(session, ciphertext, Buffer.alloc(ciphertext.length + 64)));
  } catch (err) {
    const code = pkcs11Code(err);
    const authFailure = [
      pkcs11js.CKR_ENCRYPTED_DATA_INVALID,
      pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE,
      pkcs11js.CKR_DATA_INVALID,
      pkcs11js.CKR_DATA_LEN_RANGE,
      pkcs11js.CKR_GENERAL_ERROR,
      pkcs11js.CKR_FUNCTION_FAILED,
    ];
    if (code !== undefined && authFailure.includes(code)) throw blobInvalid(blobName);
    throw toKeyError(err, 'AES-GCM decryption in the HSM');
  }
  if (out.length !== ROOT_KEY_BYTES) {
    out.fill(0);
    throw blobInvalid(blobName);
  }
  return out;
}

/** The error for a wrapped root key that fails authentication or validation. */
export function blobInvalid(blobName: string) {
  return keyError(
    'SEALED',
    'PKCS11_BLOB_INVALID',
    `the wrapped root key in ${blobName} failed authentication in the HSM: the file was altered, or it was wrapped by a different key; restore it from backup`,
  );
}
