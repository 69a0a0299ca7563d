/**
 * PKCS#11 root-key provider (HSM auto-unseal).
 *
 * The root key is 32 random bytes generated in Node, encrypted by an AES-256 key that lives only
 * in the HSM (sensitive, non-extractable; see pkcs11-key.ts) with CKM_AES_GCM, and stored as a
 * blob in `<dataDir>/root-key.pkcs11.json` (0600, O_EXCL). The blob alone is useless: reading the
 * root key needs the token, its PIN and the key. `load()` decrypts it inside the HSM.
 *
 * Guarantees: the token is found by label; the session is logged out and closed and the module
 * finalized after every operation, also on error; wrong PIN, missing token, missing key, unsafe
 * key and a tampered blob each fail with their own reason and a plain message; `initialize()`
 * refuses when the blob exists, and reuses (after checking it) a key that already has the label.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { describeProblem, keyError } from '../key-errors.ts';
import type { InitializeResult, RootKeyProvider } from '../provider.ts';
import { ROOT_KEY_BYTES } from '../provider.ts';
import { fileExists, readPrivateFile, readPrivateJson, writePrivateFileExclusive } from '../secure-file.ts';
import {
  GCM_IV_BYTES,
  GCM_TAG_BITS,
  WRAPPED_BYTES,
  blobInvalid,
  decryptInHsm,
  encryptInHsm,
  findKeysByLabel,
  findRootWrappingKey,
  generateRootWrappingKey,
} from './pkcs11-key.ts';
import { findSlotByLabel, withModule, withTokenSession } from './pkcs11-session.ts';
import type { TokenAccess } from './pkcs11-session.ts';

export interface Pkcs11RootKeyProviderOptions {
  /** Data directory; the blob defaults to `<dataDir>/root-key.pkcs11.json`. */
  dataDir: string;
  /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  modulePath: string;
  /** Label of the token (found among all slots; never assumed to be slot 0). */
  tokenLabel: string;
  /** User PIN. Give exactly one of `pin` and `pinFile`. */
  pin?: string;
  /** File holding the user PIN (0600; one trailing newline is ignored). */
  pinFile?: string;
  /** Label of the AES key in the HSM (created at initialize if absent). */
  keyLabel: string;
  /** Explicit blob path. */
  stateFile?: string;
}

/** Default file name of the wrapped root key inside the data directory. */
export const PKCS11_STATE_FILE_NAME = 'root-key.pkcs11.json';

/** The JSON stored on disk (version 1). */
export interface Pkcs11State {
  version: 1;
  kind: 'pkcs11';
  keyId: string;
  mechanism: 'CKM_AES_GCM';
  tokenLabel: string;
  keyLabel: string;
  /** base64, 12 bytes */
  iv: string;
  tagBits: 128;
  /** base64 of ciphertext ‖ tag (48 bytes) */
  wrappedKey: string;
  createdAt: string;
}

/** Root key wrapped by a non-extractable AES-256 key in an HSM; auto-unseals with the PIN. */
export class Pkcs11RootKeyProvider implements RootKeyProvider {
  readonly kind = 'pkcs11' as const;
  readonly stateFile: string;
  readonly #opts: Pkcs11RootKeyProviderOptions;

  constructor(opts: Pkcs11RootKeyProviderOptions) {
    const bad = (what: string) => keyError('BAD_REQUEST', 'INVALID_CONFIG', `invalid PKCS#11 configuration: ${what}`);
    if (!opts.modulePath) throw bad('modulePath is required');
    if (!opts.tokenLabel || Buffer.byteLength(opts.tokenLabel) > 32) throw bad('tokenLabel must be 1 to 32 bytes');
    if (!opts.keyLabel || Buffer.byteLength(opts.keyLabel) > 128) throw bad('keyLabel must be 1 to 128 bytes');
    if ((opts.pin === undefined) === (opts.pinFile === undefined)) throw bad('give exactly one of pin and pinFile');
    this.#opts = { ...opts };
    this.stateFile = path.resolve(opts.stateFile ?? path.join(opts.dataDir, PKCS11_STATE_FILE_NAME));
  }

  /**
   * Create (or reuse) the HSM key, wrap a fresh root key with it, check the round trip, and store
   * the blob. CONFLICT `ROOT_KEY_EXISTS` when the blob already exists.
   */
  async initialize(): Promise<InitializeResult> {
    if (await fileExists(this.stateFile)) {
      throw keyError(
        'CONFLICT',
        'ROOT_KEY_EXISTS',
        `${this.stateFile} already exists: the root key is already initialized; refusing to overwrite it`,
      );
    }
    const access = await this.#access();
    const { keyLabel, tokenLabel } = this.#opts;
    const rootKey = randomBytes(ROOT_KEY_BYTES);
    const iv = randomBytes(GCM_IV_BYTES);
    try {
      const wrapped = withTokenSession(access, (s) => {
        const existing = findKeysByLabel(s, keyLabel);
        if (existing.length === 0) generateRootWrappingKey(s, keyLabel);
        const key = findRootWrappingKey(s, keyLabel, tokenLabel);
        const ct = encryptInHsm(s, key, iv, rootKey);
        const check = decryptInHsm(s, key, iv, ct, 'the new blob');
        const same = check.equals(rootKey);
        check.fill(0);
        if (!same) throw new Error('PKCS#11 self-check failed: the HSM did not decrypt what it encrypted');
        return ct;
      });
      const state: Pkcs11State = {
        version: 1,
        kind: 'pkcs11',
        keyId: randomUUID(),
        mechanism: 'CKM_AES_GCM',
        tokenLabel,
        keyLabel,
        iv: iv.toString('base64'),
        tagBits: GCM_TAG_BITS,
        wrappedKey: wrapped.toString('base64'),
        createdAt: new Date().toISOString(),
      };
      await writePrivateFileExclusive(this.stateFile, `${JSON.stringify(state, null, 2)}\n`);
      return { rootKey };
    } catch (err) {
      rootKey.fill(0);
      throw err;
    }
  }

  /** Log in, find the key by label, decrypt the blob in the HSM, and return the root key. */
  async load(): Promise<Buffer> {
    const state = await this.readState();
    if (state.keyLabel !== this.#opts.keyLabel) {
      throw keyError(
        'SEALED',
        'INVALID_CONFIG',
        `${this.stateFile} was wrapped by HSM key "${state.keyLabel}" but the configured key label is "${this.#opts.keyLabel}"`,
      );
    }
    const iv = Buffer.from(state.iv, 'base64');
    const wrapped = Buffer.from(state.wrappedKey, 'base64');
    if (iv.length !== GCM_IV_BYTES || wrapped.length !== WRAPPED_BYTES) throw blobInvalid(this.stateFile);
    const access = await this.#access();
    return withTokenSession(access, (s) => {
      const key = findRootWrappingKey(s, this.#opts.keyLabel, this.#opts.tokenLabel);
      return decryptInHsm(s, key, iv, wrapped, this.stateFile);
    });
  }

  /** Blob and token status (token presence is checked without logging in); never key bytes. */
  async describe(): Promise<Record<string, unknown>> {
    const { modulePath, tokenLabel, keyLabel } = this.#opts;
    const base = { kind: this.kind, autoUnseal: true, modulePath, tokenLabel, keyLabel, stateFile: this.stateFile };
    let tokenPresent = false;
    try {
      withModule(modulePath, (p11) => findSlotByLabel(p11, tokenLabel));
      tokenPresent = true;
    } catch (err) {
      return { ...base, tokenPresent, initialized: await fileExists(this.stateFile), ...describeProblem(err) };
    }
    if (!(await fileExists(this.stateFile))) {
      return { ...base, tokenPresent, initialized: false, ok: false, problem: `${this.stateFile} does not exist` };
    }
    try {
      const s = await this.readState();
      return {
        ...base,
        tokenPresent,
        initialized: true,
        keyId: s.keyId,
        mechanism: s.mechanism,
        createdAt: s.createdAt,
        ok: true,
      };
    } catch (err) {
      return { ...base, tokenPresent, initialized: true, ...describeProblem(err) };
    }
  }

  /** Read and validate the blob file (0600, well-formed). */
  async readState(): Promise<Pkcs11State> {
    const json = await readPrivateJson(this.stateFile, { what: 'PKCS#11 wrapped root key file', maxBytes: 64 * 1024 });
    if (!isPkcs11State(json)) {
      throw keyError(
        'SEALED',
        'STATE_FILE_INVALID',
        `PKCS#11 wrapped root key file ${this.stateFile} is not a valid version 1 file; restore it from backup`,
      );
    }
    return json;
  }

  async #access(): Promise<TokenAccess> {
    const { modulePath, tokenLabel, pinFile } = this.#opts;
    let pin = this.#opts.pin;
    if (pinFile !== undefined) {
      const raw = await readPrivateFile(path.resolve(pinFile), { what: 'PKCS#11 PIN file', maxBytes: 1024 });
      pin = raw.toString('utf8').replace(/\r?\n$/, '');
      raw.fill(0);
    }
    if (!pin) throw keyError('BAD_REQUEST', 'INVALID_CONFIG', 'the PKCS#11 PIN is empty');
    return { modulePath, tokenLabel, pin };
  }
}

function isPkcs11State(v: unknown): v is Pkcs11State {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  const str = (k: string) => typeof s[k] === 'string';
  return (
    s['version'] === 1 &&
    s['kind'] === 'pkcs11' &&
    s['mechanism'] === 'CKM_AES_GCM' &&
    s['tagBits'] === GCM_TAG_BITS &&
    ['keyId', 'tokenLabel', 'keyLabel', 'iv', 'wrappedKey', 'createdAt'].every(str)
  );
}
