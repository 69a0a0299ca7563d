/**
 * The backup manifest: what a backup holds and how to check it, stored beside its object as
 * `<prefix>/<id>/manifest.json`. Its MAC (backup-keys.ts `manifestMac`) covers every other field,
 * so nothing in it can be edited, and its object fields (size, SHA-256 of the ciphertext, the
 * object header) tie it to exactly one object.
 */
import { z } from 'zod';
import { backupIdSchema } from '../../contracts/backups.ts';

export const BACKUP_FORMAT = 'strongroom-backup';
export const MANIFEST_KEY = 'manifest.json';
export const OBJECT_KEY = 'data.sro';
/** The object-format "workspace" every backup object is bound to (no workspace owns a backup). */
export const BACKUP_OBJECT_SCOPE = 'strongroom/backup';

const b64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/)
  .max(1_000_000);
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export { backupIdSchema };

export const manifestSchema = z.strictObject({
  format: z.literal(BACKUP_FORMAT),
  version: z.literal(1),
  id: backupIdSchema,
  installationId: z.string().max(200),
  createdAt: z.string().datetime(),
  trigger: z.enum(['manual', 'scheduled', 'pre-migration']),
  database: z.enum(['pglite', 'postgres']),
  /** Migrations applied when the snapshot was taken, in order; the last is the schema version. */
  migrations: z.array(z.string().max(200)).min(1).max(10_000),
  auditHead: z.strictObject({ seq: z.number().int().min(0), hash: z.string().max(200) }).nullable(),
  tables: z
    .array(z.strictObject({ name: z.string().max(100), rows: z.number().int().min(0), checksum: hex64 }))
    .max(1000),
  object: z.strictObject({
    key: z.literal(OBJECT_KEY),
    size: z.number().int().min(0),
    sha256: hex64,
    plainSize: z.number().int().min(0),
    plainSha256: hex64,
    header: b64,
    /**
     * The row stream was gzip-compressed before encryption (level 1); `plainSize`/`plainSha256`
     * are then of the compressed bytes. Absent: backups written before compression (plain).
     */
    compression: z.literal('gzip').optional(),
  }),
  /**
   * The copy of dataset ciphertext objects that ran before the snapshot (targets with
   * `copy_objects` on; backups.objects.ts). Absent: no copy was asked for.
   */
  objects: z
    .strictObject({
      total: z.number().int().min(0),
      copied: z.number().int().min(0),
      bytes: z.number().int().min(0),
      unchanged: z.number().int().min(0),
      skipped: z.number().int().min(0),
      gone: z.number().int().min(0),
      removed: z.number().int().min(0),
    })
    .optional(),
  keys: z.strictObject({
    /** The backup DEK wrapped under the root key. */
    root: b64,
    /** The backup DEK wrapped under the recovery key, once one exists. */
    recovery: b64.optional(),
    /** Checks a recovery key put back together from Shamir shares (HMAC keyed by it; not secret). */
    recoveryCommitment: hex64.optional(),
    /** The keyring of the snapshot, sealed under the recovery key. */
    keyringRecovery: b64.optional(),
    /** The keyring row's root-key id, put back as it was by a root-key restore. */
    rootKeyId: z.string().max(200),
  }),
  mac: hex64,
});

export type Manifest = z.infer<typeof manifestSchema>;
export type UnsignedManifest = Omit<Manifest, 'mac'>;

/** JSON with object keys sorted at every depth: the text the MAC covers. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A new backup id: the creation time (UTC, to the second) and 32 random bits. */
export function newBackupId(at: Date, random: string): string {
  const iso = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'z')
    .toLowerCase();
  return `bk-${iso}-${random}`;
}
