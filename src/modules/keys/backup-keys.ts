/**
 * Key handling for backups, kept in the keys module (the only place outside core/crypto that
 * touches key material).
 *
 * - A backup's data key (its DEK, 32 random bytes) is wrapped twice: under the root key and under
 *   the recovery key, each with AAD binding "strongroom/backup-key", the wrapping kind and the
 *   backup id — a wrapped key moved to another backup's manifest does not open.
 * - The manifest MAC key is HKDF(DEK, "strongroom/backup-manifest"): only whoever unwrapped the
 *   DEK can check or forge it, and an edited manifest fails before any row is loaded.
 * - The recovery path carries the keyring sealed under the recovery key, so a backup restores with
 *   the recovery key alone; the restore then seals that keyring under a fresh root key.
 * - Shred-ledger entries are MAC'd with a ledger key held barrier-sealed in the database.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { encodeAad, openAead, sealAead } from '../../core/crypto/aead.ts';
import { resealKeyring } from '../../core/crypto/keyring.ts';

export type BackupKeyWrap = 'root' | 'recovery';

const wrapAad = (kind: BackupKeyWrap, backupId: string) => encodeAad(['strongroom/backup-key', 1, kind, backupId]);

/** Wraps a backup DEK under `kek` (the root key or the recovery key). */
export function wrapBackupKey(kek: Buffer, kind: BackupKeyWrap, backupId: string, dek: Buffer): Buffer {
  return sealAead(kek, dek, wrapAad(kind, backupId));
}

/** Unwraps a backup DEK; a wrong key, kind or backup id throws DecryptionError. */
export function unwrapBackupKey(kek: Buffer, kind: BackupKeyWrap, backupId: string, wrapped: Buffer): Buffer {
  return openAead(kek, wrapped, wrapAad(kind, backupId));
}

/** The manifest MAC of a backup (hex), from its DEK and the manifest's canonical text. */
export function manifestMac(dek: Buffer, backupId: string, canonical: string): string {
  const key = Buffer.from(hkdfSync('sha256', dek, Buffer.from(backupId), 'strongroom/backup-manifest', 32));
  try {
    return createHmac('sha256', key).update(canonical).digest('hex');
  } finally {
    key.fill(0);
  }
}

export function macEquals(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}

/** A fresh 32-byte key (a backup DEK, a recovery key, a ledger key). */
export function createBackupSecret(): Buffer {
  return randomBytes(32);
}

/** The keyring blob re-sealed from `fromKey` to `toKey` (root → recovery at backup, recovery → new root at restore). */
export function resealKeyringBlob(blob: Buffer, fromKey: Buffer, toKey: Buffer): Buffer {
  return resealKeyring(blob, fromKey, toKey);
}

/** MAC of one shred-ledger entry under the ledger key (hex). */
export function ledgerMac(ledgerKey: Buffer, entry: { workspaceId: string; keyVersion: number; destroyedAt: string }) {
  return createHmac('sha256', ledgerKey)
    .update(encodeAad(['strongroom/shred-ledger', 1, entry.workspaceId, entry.keyVersion, entry.destroyedAt]))
    .digest('hex');
}
