/**
 * Operator unseal: collects Shamir shares one at a time until the threshold is reached, then
 * combines them and accepts the result only if it matches the stored commitment. Share text,
 * combining and the commitment are those of `core/crypto/shamir.ts`.
 *
 * Guarantees:
 * - a malformed, mistyped or duplicate share (same x-coordinate) is rejected at once and does not
 *   count;
 * - a share made for another threshold is rejected at once and does not count; a share whose set
 *   id differs from the shares already submitted (another initialization) throws
 *   `SHARES_MISMATCH` at once rather than at the threshold — which side is wrong cannot be told,
 *   so progress is reset as below;
 * - the combined key is returned only after a constant-time match against the commitment;
 * - a wrong combination throws `SHARES_MISMATCH`, wipes every submitted share and starts over, so
 *   one bad share cannot poison later attempts;
 * - submitted share bytes are zero-filled on reset, on success and on failure;
 * - submissions are serialized: concurrent `submit` calls are processed one after another.
 */
import { SHARE_PREFIX, combineDecodedShares, tryDecodeShare } from '../../../core/crypto/shamir.ts';
import type { DecodedShare, ShareDefect } from '../../../core/crypto/shamir.ts';
import { keyError } from '../key-errors.ts';
import { ROOT_KEY_BYTES } from '../provider.ts';

/** Index of the x-coordinate in a decoded share's bytes (after the y-values). */
const X_INDEX = ROOT_KEY_BYTES;

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
  #shares: DecodedShare[] = [];
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
    for (const s of this.#shares) s.share.fill(0);
    this.#shares = [];
  }

  async #submitNow(shareText: string): Promise<UnsealProgress> {
    if (this.#unsealed) throw keyError('CONFLICT', 'ALREADY_UNSEALED', 'already unsealed; no more shares are needed');
    const share = parseShare(shareText);
    if (share.threshold !== this.threshold) {
      share.share.fill(0);
      throw keyError(
        'BAD_REQUEST',
        'SHARES_MISMATCH',
        `this share belongs to another initialization: it is one of a set that needs ${share.threshold} shares, this server's root key (key id ${this.keyId}) needs ${this.threshold}; it was not counted`,
      );
    }
    const first = this.#shares[0];
    if (first && !first.setId.equals(share.setId)) {
      share.share.fill(0);
      const count = this.#shares.length;
      this.reset();
      throw keyError(
        'BAD_REQUEST',
        'SHARES_MISMATCH',
        `this share and the ${count} submitted before it come from different initializations, so at least one is not for this server's root key (key id ${this.keyId}); progress was reset, submit the shares again`,
      );
    }
    if (this.#shares.some((s) => s.share[X_INDEX] === share.share[X_INDEX])) {
      share.share.fill(0);
      throw keyError(
        'CONFLICT',
        'SHARE_DUPLICATE',
        'this share was already submitted; submit a different operator’s share',
      );
    }
    this.#shares.push(share);
    if (this.#shares.length < this.threshold) return this.status;

    let candidate: Buffer | undefined;
    try {
      candidate = await combineDecodedShares(this.#shares, this.#commitment);
    } catch {
      candidate = undefined;
    }
    this.reset();
    if (candidate === undefined) {
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

const DEFECT_MESSAGES: Record<ShareDefect, string> = {
  'not-a-share': `not a Strongroom unseal share: expected the text printed at initialization, starting with ${SHARE_PREFIX}`,
  'wrong-length': 'the share has the wrong length: was part of it cut off or pasted twice?',
  checksum: 'the share checksum does not match: check the share for a typo',
  malformed: 'the share has an invalid threshold',
};

/**
 * Decode share text (whitespace ignored). Throws BAD_REQUEST `SHARE_MALFORMED` for anything not
 * shaped like a share and `SHARE_CHECKSUM` for a typo.
 */
function parseShare(text: string): DecodedShare {
  const result = tryDecodeShare(text);
  if (!result.ok) {
    const reason = result.defect === 'checksum' ? 'SHARE_CHECKSUM' : 'SHARE_MALFORMED';
    throw keyError('BAD_REQUEST', reason, DEFECT_MESSAGES[result.defect]);
  }
  if (result.share.share[X_INDEX] === 0) {
    result.share.share.fill(0);
    throw keyError('BAD_REQUEST', 'SHARE_MALFORMED', 'the share has an invalid index');
  }
  return result.share;
}
