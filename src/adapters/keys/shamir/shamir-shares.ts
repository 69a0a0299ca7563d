/**
 * Shamir split/combine of the root key and the text form of a share.
 *
 * Share text: `srs1-<base64url of the share>-<checksum>`, where the share is the 33 bytes of
 * `shamir-secret-sharing` (32 y-values, then the x-coordinate) and the checksum is the first two
 * bytes of SHA-256("strongroom/share/v1" ‖ share) in lowercase hex. The checksum catches a typo
 * (all but 1 in 65 536) before any combining; it is not a MAC — a forged share is caught by the
 * commitment check after combining.
 *
 * Commitment: HMAC-SHA256(key = root key, "strongroom/root-key-commitment"). It identifies the
 * right root key without revealing it (the key is 256 random bits, so the HMAC cannot be searched).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import { keyError } from '../key-errors.ts';
import { ROOT_KEY_BYTES } from '../provider.ts';

const PREFIX = 'srs1';
const SHARE_BYTES = ROOT_KEY_BYTES + 1;
const CHECKSUM_CONTEXT = 'strongroom/share/v1';
const COMMITMENT_CONTEXT = 'strongroom/root-key-commitment';
const SHARE_PATTERN = /^srs1-([A-Za-z0-9_-]+)-([0-9a-fA-F]{4})$/;

/** A parsed share: its raw bytes (owned by the holder; zero-fill when done) and x-coordinate. */
export interface ParsedShare {
  bytes: Buffer;
  index: number;
}

function checksum(share: Buffer): string {
  return createHash('sha256').update(CHECKSUM_CONTEXT).update(share).digest().subarray(0, 2).toString('hex');
}

/** Encode raw share bytes as operator-pasteable text. */
export function encodeShare(share: Uint8Array): string {
  const bytes = Buffer.from(share);
  const text = `${PREFIX}-${bytes.toString('base64url')}-${checksum(bytes)}`;
  bytes.fill(0);
  return text;
}

/**
 * Parse share text (surrounding whitespace ignored). Throws BAD_REQUEST `SHARE_MALFORMED` for
 * anything not shaped like a share and `SHARE_CHECKSUM` for a typo.
 */
export function parseShare(text: string): ParsedShare {
  const match = SHARE_PATTERN.exec(text.trim());
  if (!match) {
    throw keyError('BAD_REQUEST', 'SHARE_MALFORMED', 'not a Strongroom unseal share: expected text like srs1-<letters>-<4 hex digits>');
  }
  const body = match[1] ?? '';
  const bytes = Buffer.from(body, 'base64url');
  if (bytes.length !== SHARE_BYTES || bytes.toString('base64url') !== body) {
    bytes.fill(0);
    throw keyError('BAD_REQUEST', 'SHARE_MALFORMED', 'the share has the wrong length: was part of it cut off or pasted twice?');
  }
  if (!timingSafeEqual(Buffer.from(checksum(bytes)), Buffer.from((match[2] ?? '').toLowerCase()))) {
    bytes.fill(0);
    throw keyError('BAD_REQUEST', 'SHARE_CHECKSUM', 'the share checksum does not match: check the share for a typo');
  }
  const index = bytes[SHARE_BYTES - 1] ?? 0;
  if (index === 0) {
    bytes.fill(0);
    throw keyError('BAD_REQUEST', 'SHARE_MALFORMED', 'the share has an invalid index');
  }
  return { bytes, index };
}

/** Validate a threshold/share-count pair: 2 ≤ threshold ≤ shares ≤ 255. */
export function validateSplit(shares: number, threshold: number): void {
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

/** Split the root key into `shares` text shares, any `threshold` of which recover it. */
export async function splitRootKey(rootKey: Buffer, shares: number, threshold: number): Promise<string[]> {
  validateSplit(shares, threshold);
  const raw = await split(new Uint8Array(rootKey), shares, threshold);
  const texts = raw.map(encodeShare);
  for (const share of raw) share.fill(0);
  return texts;
}

/** Combine parsed shares into a candidate root key (unverified: check it with the commitment). */
export async function combineShares(shares: ParsedShare[]): Promise<Buffer> {
  const copies = shares.map((s) => new Uint8Array(s.bytes));
  try {
    const secret = await combine(copies);
    const key = Buffer.from(secret);
    secret.fill(0);
    return key;
  } finally {
    for (const c of copies) c.fill(0);
  }
}

/** HMAC-SHA256 commitment of a root key. */
export function commitRootKey(rootKey: Buffer): Buffer {
  return createHmac('sha256', rootKey).update(COMMITMENT_CONTEXT).digest();
}

/** Constant-time check of a candidate root key against a stored commitment. */
export function matchesCommitment(candidate: Buffer, commitment: Buffer): boolean {
  const actual = commitRootKey(candidate);
  return actual.length === commitment.length && timingSafeEqual(actual, commitment);
}
