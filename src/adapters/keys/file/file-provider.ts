/**
 * File root-key provider (the default): the root key is 32 raw bytes in a file, by default
 * `<dataDir>/root.key`.
 *
 * Format: exactly 32 raw random bytes, nothing else (no encoding, no newline), so "the file is 32
 * bytes" is the whole validity check and a truncated or padded file is refused.
 *
 * Guarantees: `initialize()` creates the file exclusively with mode 0600 and fsyncs it (and its
 * directory); it never overwrites an existing key. `load()` refuses a file that is group- or
 * world-accessible, owned by another user, not a regular file, or not exactly 32 bytes, with an
 * error naming the file and the fix. Threat model: protects against other local users and
 * careless copies, not against root on the host or someone holding the disk (use pkcs11 or
 * shamir for that).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describeProblem, keyError } from '../key-errors.ts';
import type { InitializeResult, RootKeyProvider } from '../provider.ts';
import { ROOT_KEY_BYTES } from '../provider.ts';
import { fileExists, readPrivateFile, writePrivateFileExclusive } from '../secure-file.ts';

export interface FileRootKeyProviderOptions {
  /** Data directory; the key defaults to `<dataDir>/root.key`. */
  dataDir: string;
  /** Explicit key file path (absolute, or relative to the working directory). */
  keyFile?: string;
}

/** Default file name of the root key inside the data directory. */
export const ROOT_KEY_FILE_NAME = 'root.key';

/** Root key in a 0600 file of exactly 32 raw bytes; auto-unseals. */
export class FileRootKeyProvider implements RootKeyProvider {
  readonly kind = 'file' as const;
  /** Absolute path of the key file. */
  readonly keyFile: string;

  constructor(opts: FileRootKeyProviderOptions) {
    this.keyFile = path.resolve(opts.keyFile ?? path.join(opts.dataDir, ROOT_KEY_FILE_NAME));
  }

  /** Create the key file (0600, O_EXCL, fsynced). CONFLICT `ROOT_KEY_EXISTS` if it exists. */
  async initialize(): Promise<InitializeResult> {
    const rootKey = randomBytes(ROOT_KEY_BYTES);
    try {
      await writePrivateFileExclusive(this.keyFile, rootKey);
    } catch (err) {
      rootKey.fill(0);
      throw err;
    }
    return { rootKey };
  }

  /** Read and validate the key file; throws SEALED with a reason and the fix on any problem. */
  async load(): Promise<Buffer> {
    const raw = await readPrivateFile(this.keyFile, { what: 'root key file', maxBytes: 4096 });
    if (raw.length !== ROOT_KEY_BYTES) {
      raw.fill(0);
      throw keyError(
        'SEALED',
        'ROOT_KEY_FILE_INVALID',
        `root key file ${this.keyFile} is ${raw.length} bytes; it must hold exactly ${ROOT_KEY_BYTES} raw bytes (was it edited or truncated? restore it from backup)`,
      );
    }
    return raw;
  }

  /** `{ kind, keyFile, initialized, ok, problem? }`; reads the file to validate it, never shows it. */
  async describe(): Promise<Record<string, unknown>> {
    const base = { kind: this.kind, keyFile: this.keyFile, autoUnseal: true };
    if (!(await fileExists(this.keyFile)))
      return { ...base, initialized: false, ok: false, problem: `${this.keyFile} does not exist` };
    try {
      (await this.load()).fill(0);
      return { ...base, initialized: true, ok: true };
    } catch (err) {
      return { ...base, initialized: true, ...describeProblem(err) };
    }
  }
}
