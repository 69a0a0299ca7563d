/**
 * Shamir root-key provider (operator unseal, like Vault): the root key exists only in memory of an
 * unsealed server and, split, in the hands of N operators; any K of them recover it.
 *
 * On disk (`<dataDir>/root-key.shamir.json`, 0600) there is only a commitment of the root key
 * (HMAC-SHA256, `commitSecret`), the threshold, the share count and a key id — nothing that helps
 * recover the key. `load()` returns undefined: the server starts sealed and waits for an
 * {@link Unsealer} to collect K shares. Splitting, share text, combining and the commitment are
 * those of `core/crypto/shamir.ts`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { combineShares, splitSecret } from '../../../core/crypto/shamir.ts';
import { describeProblem, keyError } from '../key-errors.ts';
import type { InitializeResult, RootKeyProvider } from '../provider.ts';
import { ROOT_KEY_BYTES } from '../provider.ts';
import { fileExists, readPrivateJson, writePrivateFileExclusive } from '../secure-file.ts';
import { Unsealer } from './shamir-unsealer.ts';
import type { UnsealTarget } from './shamir-unsealer.ts';

export interface ShamirRootKeyProviderOptions {
  /** Data directory; state defaults to `<dataDir>/root-key.shamir.json`. */
  dataDir: string;
  /** Number of shares handed out (default 5). */
  shares?: number;
  /** Number of shares needed to unseal (default 3). */
  threshold?: number;
  /** Explicit state file path. */
  stateFile?: string;
}

/** Default file name of the Shamir state inside the data directory. */
export const SHAMIR_STATE_FILE_NAME = 'root-key.shamir.json';

/** The JSON stored on disk (version 1). */
export interface ShamirState {
  version: 1;
  kind: 'shamir';
  keyId: string;
  threshold: number;
  shares: number;
  commitmentAlg: 'HMAC-SHA256';
  /** base64 */
  commitment: string;
  createdAt: string;
}

/** Root key split into N operator shares, K to unseal; the server always starts sealed. */
export class ShamirRootKeyProvider implements RootKeyProvider {
  readonly kind = 'shamir' as const;
  readonly stateFile: string;
  readonly shares: number;
  readonly threshold: number;

  constructor(opts: ShamirRootKeyProviderOptions) {
    this.stateFile = path.resolve(opts.stateFile ?? path.join(opts.dataDir, SHAMIR_STATE_FILE_NAME));
    this.shares = opts.shares ?? 5;
    this.threshold = opts.threshold ?? 3;
    validateSplit(this.shares, this.threshold);
  }

  /**
   * Generate a root key, split it, store only its commitment, and return the key and the share
   * texts (show each to its operator once; they are not stored). Refuses if already initialized.
   */
  async initialize(): Promise<InitializeResult> {
    if (await fileExists(this.stateFile)) {
      throw keyError(
        'CONFLICT',
        'ROOT_KEY_EXISTS',
        `${this.stateFile} already exists: the root key is already initialized; refusing to overwrite it`,
      );
    }
    const rootKey = randomBytes(ROOT_KEY_BYTES);
    try {
      const { shares, commitment } = await splitSecret(rootKey, { shares: this.shares, threshold: this.threshold });
      await this.#selfCheck(shares, commitment, rootKey);
      const state: ShamirState = {
        version: 1,
        kind: 'shamir',
        keyId: randomUUID(),
        threshold: this.threshold,
        shares: this.shares,
        commitmentAlg: 'HMAC-SHA256',
        commitment: commitment.toString('base64'),
        createdAt: new Date().toISOString(),
      };
      await writePrivateFileExclusive(this.stateFile, `${JSON.stringify(state, null, 2)}\n`);
      return { rootKey, shares };
    } catch (err) {
      rootKey.fill(0);
      throw err;
    }
  }

  /** Always undefined: a Shamir server starts sealed. Validates the state file on the way. */
  async load(): Promise<undefined> {
    await this.readState();
    return undefined;
  }

  /** An unsealer bound to the stored commitment and threshold. */
  async unsealer(): Promise<Unsealer> {
    const state = await this.readState();
    const target: UnsealTarget = {
      keyId: state.keyId,
      threshold: state.threshold,
      commitment: Buffer.from(state.commitment, 'base64'),
    };
    return new Unsealer(target);
  }

  /** `{ kind, stateFile, initialized, keyId, threshold, shares, autoUnseal: false, ok }`. */
  async describe(): Promise<Record<string, unknown>> {
    const base = { kind: this.kind, stateFile: this.stateFile, autoUnseal: false };
    if (!(await fileExists(this.stateFile))) {
      return {
        ...base,
        initialized: false,
        threshold: this.threshold,
        shares: this.shares,
        ok: false,
        problem: `${this.stateFile} does not exist`,
      };
    }
    try {
      const s = await this.readState();
      return {
        ...base,
        initialized: true,
        keyId: s.keyId,
        threshold: s.threshold,
        shares: s.shares,
        createdAt: s.createdAt,
        ok: true,
      };
    } catch (err) {
      return { ...base, initialized: true, ...describeProblem(err) };
    }
  }

  /** Read and validate the state file (0600, well-formed). */
  async readState(): Promise<ShamirState> {
    const json = await readPrivateJson(this.stateFile, { what: 'Shamir state file', maxBytes: 64 * 1024 });
    if (!isShamirState(json)) {
      throw keyError(
        'SEALED',
        'STATE_FILE_INVALID',
        `Shamir state file ${this.stateFile} is not a valid version 1 state; restore it from backup`,
      );
    }
    return json;
  }

  async #selfCheck(shares: string[], commitment: Buffer, rootKey: Buffer): Promise<void> {
    let ok = false;
    try {
      const combined = await combineShares(shares.slice(0, this.threshold), commitment);
      ok = combined.equals(rootKey);
      combined.fill(0);
    } catch {
      ok = false;
    }
    if (!ok) throw new Error('Shamir self-check failed: shares do not recombine to the root key');
  }
}

/** Validate a threshold/share-count pair: 2 ≤ threshold ≤ shares ≤ 255. */
function validateSplit(shares: number, threshold: number): void {
  const ok =
    Number.isInteger(shares) && Number.isInteger(threshold) && threshold >= 2 && threshold <= shares && shares <= 255;
  if (!ok) {
    throw keyError(
      'BAD_REQUEST',
      'INVALID_CONFIG',
      `invalid Shamir parameters: ${threshold} of ${shares}; need 2 ≤ threshold ≤ shares ≤ 255`,
    );
  }
}

function isShamirState(v: unknown): v is ShamirState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  const int = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);
  return (
    s['version'] === 1 &&
    s['kind'] === 'shamir' &&
    typeof s['keyId'] === 'string' &&
    int(s['threshold']) &&
    int(s['shares']) &&
    s['threshold'] >= 2 &&
    s['threshold'] <= s['shares'] &&
    s['shares'] <= 255 &&
    s['commitmentAlg'] === 'HMAC-SHA256' &&
    typeof s['commitment'] === 'string' &&
    Buffer.from(s['commitment'], 'base64').length === 32 &&
    typeof s['createdAt'] === 'string'
  );
}
