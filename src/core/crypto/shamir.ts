/**
 * Shamir unseal shares for the 32-byte root key (operator unseal, as in Vault).
 *
 * Guarantees:
 * - The split and the interpolation are done by `shamir-secret-sharing` (audited, GF(2^8));
 *   nothing here does field arithmetic.
 * - Shares are text an operator can paste: "srs1-" and base64url of
 *   set id(4) ‖ threshold(1) ‖ share(33) ‖ checksum(4). A typo is caught by the checksum before
 *   any combining, and shares from different splits are refused by their set id.
 * - Combining always checks the result against the commitment stored at split time (HMAC-SHA256
 *   keyed by the secret over a fixed label), compared in constant time. Wrong or too few shares
 *   give a clear error, never a wrong key. The checksum is not a MAC: the commitment is what
 *   stops a forged share.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import { AppError } from '../errors.ts';
import { KEY_LENGTH, assertKey } from './aead.ts';

/** Text prefix of every encoded share; the "1" is the encoding version. */
export const SHARE_PREFIX = 'srs1-';
const COMMITMENT_LABEL = 'strongroom/root-key-commitment/v1';
const CHECKSUM_LABEL = 'strongroom/shamir-share/v1';
const SET_ID_LENGTH = 4;
const CHECKSUM_LENGTH = 4;
const SHARE_LENGTH = KEY_LENGTH + 1;
const BODY_LENGTH = SET_ID_LENGTH + 1 + SHARE_LENGTH;

/** How many shares to make and how many recover the secret (defaults 5 and 3). */
export interface SplitOptions {
  shares?: number;
  threshold?: number;
}

/** Encoded shares plus the commitment to store (not secret) for checking a later combine. */
export interface SplitResult {
  shares: string[];
  commitment: Buffer;
}

/** One share, decoded. `share` is the library's bytes: y-values(32) ‖ x-coordinate(1). */
export interface DecodedShare {
  setId: Buffer;
  threshold: number;
  share: Buffer;
}

/**
 * Splits a 32-byte secret into `shares` encoded shares, any `threshold` of which recover it.
 * Requires 2 ≤ threshold ≤ shares ≤ 255.
 */
export async function splitSecret(secret: Buffer, opts: SplitOptions = {}): Promise<SplitResult> {
  assertKey(secret, 'secret');
  const n = opts.shares ?? 5;
  const k = opts.threshold ?? 3;
  if (!Number.isInteger(n) || !Number.isInteger(k) || k < 2 || k > n || n > 255) {
    throw new AppError('VALIDATION_FAILED', { detail: 'shares need 2 ≤ threshold ≤ shares ≤ 255' });
  }
  const input = new Uint8Array(secret);
  try {
    const raw = await split(input, n, k);
    const setId = randomBytes(SET_ID_LENGTH);
    const shares = raw.map((s) =>
      encodeShare({ setId, threshold: k, share: Buffer.from(s.buffer, s.byteOffset, s.byteLength) }),
    );
    for (const s of raw) s.fill(0);
    return { shares, commitment: commitSecret(secret) };
  } finally {
    input.fill(0);
  }
}

/** Encodes one share as "srs1-" + base64url(set id ‖ threshold ‖ share ‖ checksum). */
export function encodeShare(decoded: DecodedShare): string {
  const { setId, threshold, share } = decoded;
  if (
    setId.length !== SET_ID_LENGTH ||
    share.length !== SHARE_LENGTH ||
    !Number.isInteger(threshold) ||
    threshold < 2 ||
    threshold > 255
  ) {
    throw new RangeError('malformed share');
  }
  const body = Buffer.concat([setId, Buffer.of(threshold), share]);
  return SHARE_PREFIX + Buffer.concat([body, checksum(body)]).toString('base64url');
}

/**
 * Decodes a pasted share; whitespace is ignored. Throws VALIDATION_FAILED naming share
 * `position` (1-based, for messages) when the text is malformed or its checksum does not match.
 */
export function decodeShare(text: string, position = 1): DecodedShare {
  const result = tryDecodeShare(text);
  if (result.ok) return result.share;
  const detail = {
    'not-a-share': `share ${position} is not a Strongroom share (expected "${SHARE_PREFIX}…")`,
    'wrong-length': `share ${position} is not a Strongroom share (expected "${SHARE_PREFIX}…")`,
    checksum: `share ${position} failed its checksum: it has a typo`,
    malformed: `share ${position} is malformed`,
  }[result.defect];
  throw new AppError('VALIDATION_FAILED', { detail });
}

/**
 * Why a share text was refused: not share-shaped at all, the wrong length (cut off or pasted
 * twice), a checksum mismatch (a typo), or share-shaped with impossible contents.
 */
export type ShareDefect = 'not-a-share' | 'wrong-length' | 'checksum' | 'malformed';

/**
 * {@link decodeShare} without throwing, for callers that report each defect in their own terms
 * (e.g. as their own stable error reasons). Accepts and refuses exactly the same texts.
 */
export function tryDecodeShare(text: string): { ok: true; share: DecodedShare } | { ok: false; defect: ShareDefect } {
  const compact = typeof text === 'string' ? text.replace(/\s+/g, '') : '';
  const encoded = compact.startsWith(SHARE_PREFIX) ? compact.slice(SHARE_PREFIX.length) : '';
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return { ok: false, defect: 'not-a-share' };
  const bytes = Buffer.from(encoded, 'base64url');
  try {
    if (bytes.length !== BODY_LENGTH + CHECKSUM_LENGTH || bytes.toString('base64url') !== encoded) {
      return { ok: false, defect: 'wrong-length' };
    }
    const body = bytes.subarray(0, BODY_LENGTH);
    if (!timingSafeEqual(checksum(body), bytes.subarray(BODY_LENGTH))) return { ok: false, defect: 'checksum' };
    const threshold = body[SET_ID_LENGTH]!;
    if (threshold < 2) return { ok: false, defect: 'malformed' };
    return {
      ok: true,
      share: {
        setId: Buffer.from(body.subarray(0, SET_ID_LENGTH)),
        threshold,
        share: Buffer.from(body.subarray(SET_ID_LENGTH + 1)),
      },
    };
  } finally {
    bytes.fill(0);
  }
}

/** The commitment to a secret: HMAC-SHA256(key = secret, message = fixed label). Not secret. */
export function commitSecret(secret: Buffer): Buffer {
  assertKey(secret, 'secret');
  return createHmac('sha256', secret).update(COMMITMENT_LABEL, 'utf8').digest();
}

/** True iff `secret` matches `commitment`; compared in constant time. */
export function verifyCommitment(secret: Buffer, commitment: Buffer): boolean {
  const expected = commitSecret(secret);
  return commitment.length === expected.length && timingSafeEqual(expected, commitment);
}

/**
 * Recovers the secret from pasted shares and checks it against `commitment`. Throws
 * VALIDATION_FAILED for a typo, mixed or duplicate shares, too few shares, or a result that does
 * not match the commitment; a wrong secret is never returned.
 */
export async function combineShares(shares: readonly string[], commitment: Buffer): Promise<Buffer> {
  const decoded = shares.map((s, i) => decodeShare(s, i + 1));
  try {
    return await combineDecodedShares(decoded, commitment);
  } finally {
    for (const d of decoded) d.share.fill(0);
  }
}

/**
 * {@link combineShares} for shares already decoded (e.g. collected one at a time by an unsealer).
 * Same checks and errors; the caller keeps ownership of `decoded` and should zero-fill it.
 */
export async function combineDecodedShares(decoded: readonly DecodedShare[], commitment: Buffer): Promise<Buffer> {
  checkShareSet(decoded);
  const inputs = decoded.map((d) => new Uint8Array(d.share));
  let out: Uint8Array;
  try {
    out = await combine(inputs);
  } finally {
    for (const buf of inputs) buf.fill(0);
  }
  const secret = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  if (secret.length === KEY_LENGTH && verifyCommitment(secret, commitment)) return secret;
  secret.fill(0);
  throw new AppError('VALIDATION_FAILED', { detail: 'the shares do not reconstruct the expected key' });
}

function checkShareSet(decoded: readonly DecodedShare[]): void {
  const first = decoded[0];
  if (!first) throw new AppError('VALIDATION_FAILED', { detail: 'no shares given' });
  const seen = new Set<number>();
  decoded.forEach((d, i) => {
    if (!d.setId.equals(first.setId) || d.threshold !== first.threshold) {
      throw new AppError('VALIDATION_FAILED', { detail: `share ${i + 1} comes from a different split than share 1` });
    }
    const x = d.share[KEY_LENGTH]!;
    if (seen.has(x)) throw new AppError('VALIDATION_FAILED', { detail: `share ${i + 1} repeats an earlier share` });
    seen.add(x);
  });
  if (decoded.length < first.threshold) {
    throw new AppError('VALIDATION_FAILED', {
      detail: `${first.threshold} shares are needed, ${decoded.length} given`,
    });
  }
}

function checksum(body: Buffer): Buffer {
  return createHash('sha256').update(CHECKSUM_LABEL, 'utf8').update(body).digest().subarray(0, CHECKSUM_LENGTH);
}
