/**
 * Signed checkpoints: an Ed25519 signature over "the chain had `treeSize` events and its last
 * hash was `headHash`". Exported out of the database, a checkpoint is evidence the database
 * cannot take back: a later database that is shorter, or whose event at `treeSize` hashes
 * differently, has been truncated, rolled back or rewritten.
 *
 * The signing key is held elsewhere (sealed by the barrier); this module only takes `KeyObject`s
 * or raw 32-byte seeds and never stores them.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hash,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { z } from 'zod';
import { canonicalBytes } from './canonical.ts';
import { AuditFormatError, hex64Schema, isoTimeSchema, type ChainHead } from './event.ts';

/** Domain string in front of every signed checkpoint body. */
export const CHECKPOINT_DOMAIN = 'strongroom/audit-checkpoint/v1';
/** Key ids: short, printable, safe in file names and messages. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** What a checkpoint attests. Unknown keys are rejected: everything in a checkpoint is signed. */
export const checkpointBodySchema = z.strictObject({
  treeSize: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  headHash: hex64Schema,
  time: isoTimeSchema,
  keyId: z.string().regex(KEY_ID_PATTERN, 'must be 1-128 characters of A-Z a-z 0-9 . _ : -'),
  prevCheckpointHash: hex64Schema.optional(),
});

export const signedCheckpointSchema = checkpointBodySchema.extend({
  signature: z.string().regex(/^[0-9a-f]{128}$/, 'must be 128 lower-case hex digits'),
});

export type CheckpointBody = z.infer<typeof checkpointBodySchema>;
export type SignedCheckpoint = z.infer<typeof signedCheckpointSchema>;

/** The signed fields only, with an absent `prevCheckpointHash` omitted. */
function bodyOf(cp: CheckpointBody): CheckpointBody {
  const body: CheckpointBody = { treeSize: cp.treeSize, headHash: cp.headHash, time: cp.time, keyId: cp.keyId };
  if (cp.prevCheckpointHash !== undefined) body.prevCheckpointHash = cp.prevCheckpointHash;
  return body;
}

/**
 * The exact bytes that are signed: `"strongroom/audit-checkpoint/v1" ‖ 0x00 ‖ canonical JSON of
 * the body` (every field but `signature`).
 */
export function checkpointSigningInput(cp: CheckpointBody): Buffer {
  return Buffer.concat([Buffer.from(CHECKPOINT_DOMAIN + '\0', 'latin1'), canonicalBytes(bodyOf(cp))]);
}

/** SHA-256 (hex) of the signing input: what the next checkpoint's `prevCheckpointHash` holds. */
export function checkpointHash(cp: CheckpointBody): string {
  return hash('sha256', checkpointSigningInput(cp), 'hex');
}

/**
 * Signs a checkpoint of `head` (the last event's seq and hash). Pass the previous checkpoint as
 * `prev` to link them, so a deleted or replaced checkpoint is noticed. Throws
 * `AuditFormatError` on a malformed head, key id or time, a non-Ed25519 key, or a `prev` that
 * covers more events than `head`.
 */
export function makeCheckpoint(
  head: ChainHead,
  privateKey: KeyObject,
  keyId: string,
  time: string,
  prev?: SignedCheckpoint,
): SignedCheckpoint {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new AuditFormatError('checkpoint key must be an Ed25519 private key');
  }
  if (prev !== undefined && prev.treeSize > head.seq) {
    throw new AuditFormatError(`previous checkpoint covers ${prev.treeSize} events, more than the head ${head.seq}`);
  }
  const candidate: CheckpointBody = { treeSize: head.seq, headHash: head.hash, time, keyId };
  if (prev !== undefined) candidate.prevCheckpointHash = checkpointHash(prev);
  const parsed = checkpointBodySchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AuditFormatError(`checkpoint ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const signature = sign(null, checkpointSigningInput(parsed.data), privateKey).toString('hex');
  return { ...parsed.data, signature };
}

/**
 * True only if `cp` is a well-formed signed checkpoint and its signature verifies under
 * `publicKey` (which must be Ed25519). Never throws: anything malformed is simply not valid.
 * Looking up the key for `cp.keyId` is the caller's job.
 */
export function verifyCheckpoint(cp: unknown, publicKey: KeyObject): boolean {
  const parsed = signedCheckpointSchema.safeParse(cp);
  if (!parsed.success || publicKey.asymmetricKeyType !== 'ed25519') return false;
  try {
    return verify(null, checkpointSigningInput(parsed.data), publicKey, Buffer.from(parsed.data.signature, 'hex'));
  } catch {
    return false;
  }
}

export interface SigningKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Ed25519 key pair from a 32-byte seed (RFC 8032 private key). Same seed, same keys. */
export function keyPairFromSeed(seed: Buffer): SigningKeyPair {
  if (seed.length !== 32) throw new RangeError('an Ed25519 seed is exactly 32 bytes');
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** A fresh key pair and its seed (the 32 bytes to seal and store). */
export function generateSigningKey(): SigningKeyPair & { seed: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { seed: seedOf(privateKey), privateKey, publicKey };
}

/** The 32-byte seed of an Ed25519 private key. */
export function seedOf(privateKey: KeyObject): Buffer {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('not an Ed25519 key');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return Buffer.from(der.subarray(der.length - 32));
}

/** The 32 raw bytes of an Ed25519 public key (what to publish for auditors). */
export function rawPublicKey(publicKey: KeyObject): Buffer {
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new TypeError('not an Ed25519 key');
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(der.length - 32));
}

/** Public key from its 32 raw bytes. */
export function publicKeyFromRaw(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new RangeError('an Ed25519 public key is exactly 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}
