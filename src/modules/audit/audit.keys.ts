/**
 * The audit keys: one Ed25519 signing key (checkpoints) and one HMAC key (fingerprints of
 * sensitive values), created together on first use. The seed and the HMAC key are stored only
 * barrier-sealed (table `audit_keys`, column name, row id = key id); the public key is stored in
 * the clear so verification needs no root key.
 */
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { generateSigningKey, keyPairFromSeed, publicKeyFromRaw, rawPublicKey } from '../../core/audit/checkpoint.ts';
import type { Barrier } from '../../core/crypto/barrier.ts';
import { AppError } from '../../core/errors.ts';
import { currentKey, insertKey, listPublicKeys, type Executor, type KeyRow } from './audit.store.ts';

/** Unsealed audit keys, held in memory by the module. */
export interface AuditKeys {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  hmacKey: Buffer;
}

const TABLE = 'audit_keys';

/**
 * Loads the audit keys, creating them if none exist. Safe with several instances: inserts never
 * overwrite, and every instance then uses the oldest key. Throws SEALED while the barrier is
 * sealed and AUDIT_UNAVAILABLE if the stored public key does not match the sealed seed.
 */
export async function ensureKeys(db: Executor, barrier: Barrier | undefined): Promise<AuditKeys> {
  if (barrier === undefined)
    throw new AppError('AUDIT_UNAVAILABLE', {
      detail: 'the audit keys need the barrier, which this process does not have',
    });
  let row = await currentKey(db);
  if (row === undefined) {
    await insertKey(db, newKeyRow(barrier));
    row = await currentKey(db);
    if (row === undefined) throw new AppError('AUDIT_UNAVAILABLE', { detail: 'the audit key could not be stored' });
  }
  return openKeyRow(row, barrier);
}

function newKeyRow(barrier: Barrier): KeyRow {
  const { seed, publicKey } = generateSigningKey();
  const hmacKey = randomBytes(32);
  const raw = rawPublicKey(publicKey);
  const keyId = `audit-${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`;
  try {
    return {
      key_id: keyId,
      public_key: raw,
      signing_seed_sealed: barrier.seal(seed, { table: TABLE, column: 'signing_seed_sealed', rowId: keyId }),
      hmac_key_sealed: barrier.seal(hmacKey, { table: TABLE, column: 'hmac_key_sealed', rowId: keyId }),
    };
  } finally {
    seed.fill(0);
    hmacKey.fill(0);
  }
}

function openKeyRow(row: KeyRow, barrier: Barrier): AuditKeys {
  const seed = barrier.open(row.signing_seed_sealed, {
    table: TABLE,
    column: 'signing_seed_sealed',
    rowId: row.key_id,
  });
  try {
    const pair = keyPairFromSeed(seed);
    if (!rawPublicKey(pair.publicKey).equals(row.public_key)) {
      throw new AppError('AUDIT_UNAVAILABLE', {
        detail: `audit key ${row.key_id}: the stored public key does not match the sealed signing key`,
      });
    }
    const hmacKey = barrier.open(row.hmac_key_sealed, { table: TABLE, column: 'hmac_key_sealed', rowId: row.key_id });
    return { keyId: row.key_id, ...pair, hmacKey };
  } finally {
    seed.fill(0);
  }
}

/** Every audit public key by key id (no barrier needed: works offline). Malformed keys are skipped. */
export async function loadPublicKeys(db: Executor): Promise<Map<string, KeyObject>> {
  const out = new Map<string, KeyObject>();
  for (const r of await listPublicKeys(db)) {
    try {
      out.set(r.key_id, publicKeyFromRaw(r.public_key));
    } catch {
      // A damaged public key: checkpoints under it are then reported as signed by an unknown key.
    }
  }
  return out;
}
