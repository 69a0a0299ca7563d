/**
 * Operator unseal: collects Shamir shares one at a time until the threshold is reached, then
 * combines them and accepts the result only if it matches the stored commitment.
 *
 * Guarantees:
 * - a malformed, mistyped or duplicate share (same index) is rejected at once and does not count;
 * - the combined key is returned only after a constant-time match against the commitment;
 * - a wrong combination throws `SHARES_MISMATCH`, wipes every submitted share and starts over, so
 *   one bad share cannot poison later attempts;
 * - submitted share bytes are zero-filled on reset, on success and on failure;
 * - submissions are serialized: concurrent `submit` calls are processed one after another.
 */
import { keyError } from '../key-errors.ts';
import { combineShares, matchesCommitment, parseShare } from './shamir-shares.ts';
import type { ParsedShare } from './shamir-shares.ts';

/** What the unsealer needs to know about the initialization it unseals. */
export interface UnsealTarget {
  keyId: string;
  threshold: number;
  commitment: Buffer;
}

/** Progress after a submission. `rootKey` is present exactly once, when `unsealed` turns true. */
export interface UnsealProgress {
  progress: number;
  threshold: number;
  unsealed: boolean;
  rootKey?: Buffer;
}

/** Collects K shares for one initialization; one instance per unseal attempt/session. */
export class Unsealer {
  readonly keyId: string;
  readonly threshold: number;
  readonly #commitment: Buffer;
  #shares: ParsedShare[] = [];
  #unsealed = false;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(target: UnsealTarget) {
    this.keyId = target.keyId;
    this.threshold = target.threshold;
    this.#commitment = Buffer.from(target.commitment);
  }

  /** Current progress, without submitting anything. */
  get status(): UnsealProgress {
    const progress = this.#unsealed ? this.threshold : this.#shares.length;
    return { progress, threshold: this.threshold, unsealed: this.#unsealed };
  }

  /**
   * Submit one share as text. Resolves with the new progress; when the threshold is reached and
   * the combination matches, `unsealed` is true and `rootKey` holds the root key (the caller owns
   * and should zero it). Rejects with BAD_REQUEST (`SHARE_MALFORMED`, `SHARE_CHECKSUM`,
   * `SHARES_MISMATCH`) or CONFLICT (`SHARE_DUPLICATE`, `ALREADY_UNSEALED`).
   */
  submit(shareText: string): Promise<UnsealProgress> {
    const run = this.#queue.then(() => this.#submitNow(shareText));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Forget every submitted share, zero-filling their bytes. */
  reset(): void {
    for (const share of this.#shares) share.bytes.fill(0);
    this.#shares = [];
  }

  async #submitNow(shareText: string): Promise<UnsealProgress> {
    if (this.#unsealed) throw keyError('CONFLICT', 'ALREADY_UNSEALED', 'already unsealed; no more shares are needed');
    const share = parseShare(shareText);
    if (this.#shares.some((s) => s.index === share.index)) {
      share.bytes.fill(0);
      throw keyError('CONFLICT', 'SHARE_DUPLICATE', 'this share was already submitted; submit a different operator’s share');
    }
    this.#shares.push(share);
    if (this.#shares.length < this.threshold) return this.status;

    let candidate: Buffer | undefined;
    try {
      candidate = await combineShares(this.#shares);
    } catch {
      candidate = undefined;
    }
    this.reset();
    if (candidate === undefined || !matchesCommitment(candidate, this.#commitment)) {
      candidate?.fill(0);
      throw keyError(
        'BAD_REQUEST',
        'SHARES_MISMATCH',
        `the ${this.threshold} shares do not combine to this server's root key (key id ${this.keyId}): at least one belongs to another initialization or is corrupt; progress was reset, submit the shares again`,
      );
    }
    this.#unsealed = true;
    return { progress: this.threshold, threshold: this.threshold, unsealed: true, rootKey: candidate };
  }
}
