/**
 * Root-key providers: where the 32-byte root key that protects the keyring comes from.
 *
 * Guarantees every provider keeps:
 * - the root key never touches the database, logs or `describe()` output;
 * - `initialize()` refuses (CONFLICT, reason `ROOT_KEY_EXISTS`) when material already exists, so an
 *   existing root key is never overwritten;
 * - every file a provider writes is created exclusively (O_EXCL), mode 0600, and fsynced, and is
 *   refused on read when group/other permission bits are set;
 * - failures are `AppError`s whose `meta.reason` is a stable {@link KeyErrorReason} and whose
 *   `detail` names the file or token involved and the fix, never key bytes or a native stack.
 *
 * Buffers holding a root key belong to the caller, who should `fill(0)` them when done.
 */

/** Length of the root key in bytes (AES-256). */
export const ROOT_KEY_BYTES = 32;

/** What `initialize()` hands back, once. */
export interface InitializeResult {
  /**
   * The freshly created root key, so the caller can create the keyring right away (a Shamir
   * server has no other way to get it before the operator unseals). Zero it after use.
   */
  rootKey: Buffer;
  /** Shamir shares to show the operator exactly once; absent for other providers. */
  shares?: string[];
}

export interface RootKeyProvider {
  readonly kind: 'file' | 'shamir' | 'pkcs11';
  /**
   * Create the root key material at `strongroom init`. Refuses if it already exists. Returns the
   * root key and whatever the operator must be shown once (Shamir shares).
   */
  initialize(): Promise<InitializeResult>;
  /**
   * Obtain the root key for auto-unseal at start. Providers that need operator input (shamir)
   * return `undefined`: the server starts sealed. Throws when material is missing or unsafe.
   */
  load(): Promise<Buffer | undefined>;
  /**
   * Describe the provider's state for status/doctor without revealing key bytes. Never throws:
   * a problem is reported as `{ ok: false, problem }`.
   */
  describe(): Promise<Record<string, unknown>>;
}
