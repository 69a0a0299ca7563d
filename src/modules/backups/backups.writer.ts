/**
 * Writing one backup: a consistent snapshot of every table, streamed as JSON lines through the
 * Strongroom object format under a fresh data key to `<prefix>/<id>/data.sro`, then the manifest.
 *
 * - One snapshot transaction (REPEATABLE READ, READ ONLY) on both backends: every table, the
 *   keyring row and the audit head are read as of one instant. On PGlite (one connection) writes
 *   wait while it runs.
 * - The manifest is written last: a crash before it leaves an object without a manifest, which no
 *   reader accepts and the service never lists as complete.
 * - The data key is wrapped under the root key and, when one exists, the recovery key; the
 *   keyring of the snapshot is also sealed under the recovery key (backup-keys.ts).
 */
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { sql, type Kysely } from 'kysely';
import type { BlobDriver } from '../../adapters/blob/driver.ts';
import { createEncryptStream } from '../../core/crypto/object-format.ts';
import { commitSecret } from '../../core/crypto/shamir.ts';
import type { Database } from '../../db/schema.ts';
import type { KeysService } from '../keys/index.ts';
import { createBackupSecret, manifestMac, wrapBackupKey } from '../keys/index.ts';
import {
  BACKUP_FORMAT,
  BACKUP_OBJECT_SCOPE,
  MANIFEST_KEY,
  OBJECT_KEY,
  canonicalJson,
  type Manifest,
  type UnsignedManifest,
} from './backups.manifest.ts';
import { HashMeter } from './backups.objects.ts';
import { backupPhases as phases } from './backups.phases.ts';
import { TableChecksum, canonicalSession, describeTables, readRows } from './backups.tables.ts';

export interface WriteBackupInput {
  db: Kysely<Database>;
  databaseKind: 'pglite' | 'postgres';
  keys: Pick<KeysService, 'wrapBackupKey' | 'keyringForRecovery'>;
  driver: BlobDriver;
  /** Key prefix of the backup's folder on the target (no trailing slash). */
  folder: string;
  id: string;
  createdAt: Date;
  trigger: Manifest['trigger'];
  /** The recovery key, when one exists (opened by the caller, wiped by the caller). */
  recoveryKey?: Buffer | undefined;
  /** The object copy's counts, when the target copies dataset objects. */
  objects?: Manifest['objects'];
}

export async function writeBackup(input: WriteBackupInput): Promise<Manifest> {
  const { db, driver, folder, id } = input;
  const dek = createBackupSecret();
  phases.reset();
  const started = performance.now();
  try {
    return await db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        await sql`set transaction read only`.execute(trx);
        await canonicalSession(trx);
        const tables = await describeTables(trx);
        const keyring = await trx.selectFrom('keyring').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
        const head = await trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
        const info = await trx.selectFrom('system_info').select('instance_id').executeTakeFirst();
        const migrations = (
          await sql<{ name: string }>`select name from kysely_migration order by name`.execute(trx)
        ).rows.map((r) => r.name);

        const stats: Manifest['tables'] = [];
        async function* lines(): AsyncGenerator<Buffer> {
          yield Buffer.from(`#${JSON.stringify({ format: BACKUP_FORMAT, id })}\n`);
          for (const t of tables) {
            const sum = new TableChecksum();
            yield Buffer.from(`#${JSON.stringify({ table: t.name })}\n`);
            const pages = readRows(trx, t);
            for (;;) {
              let t0 = performance.now();
              const next = await pages.next();
              phases.add('snapshot-read', performance.now() - t0);
              if (next.done) break;
              const page = next.value;
              t0 = performance.now();
              for (const row of page) sum.add(row);
              phases.add('checksum', performance.now() - t0);
              t0 = performance.now();
              const out = Buffer.from(`${page.join('\n')}\n`);
              phases.add('encode', performance.now() - t0);
              yield out;
            }
            stats.push({ name: t.name, rows: sum.rows, checksum: sum.hex });
            yield Buffer.from(`#${JSON.stringify({ end: t.name, rows: sum.rows, checksum: sum.hex })}\n`);
          }
          yield Buffer.from(`#${JSON.stringify({ done: tables.length })}\n`);
        }
        const enc = createEncryptStream(
          { dataKey: dek, workspaceId: BACKUP_OBJECT_SCOPE, objectId: id, keyTerm: 1 },
          { hashPlaintext: true },
        );
        phases.meter('encrypt', enc);
        const meter = phases.meter('hash-object', new HashMeter());
        const body = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
        const upload = driver.put(`${folder}/${OBJECT_KEY}`, body, { contentType: 'application/octet-stream' });
        // A failed upload stops the snapshot reader (no unbounded buffering, no hang).
        const uploaded = upload.catch((err: unknown) => {
          body.destroy(err as Error);
          throw err;
        });
        // Compressed before it is encrypted (ciphertext does not compress): fewer bytes to seal,
        // hash and store. Level 1: the rows are repetitive JSON, most of the gain for little CPU.
        const gzip = phases.meter('compress', createGzip({ level: 1, chunkSize: 256 * 1024 }));
        await Promise.all([pipeline(Readable.from(lines()), gzip, enc, meter, body), uploaded]);
        phases.add('stream-total', performance.now() - started);

        const unsigned: UnsignedManifest = {
          format: BACKUP_FORMAT,
          version: 1,
          id,
          installationId: info?.instance_id ?? 'unknown',
          createdAt: input.createdAt.toISOString(),
          trigger: input.trigger,
          database: input.databaseKind,
          migrations,
          auditHead: head ? { seq: Number(head.seq), hash: head.hash } : null,
          tables: stats,
          ...(input.objects ? { objects: input.objects } : {}),
          object: {
            key: OBJECT_KEY,
            size: meter.size,
            sha256: meter.hash.digest('hex'),
            plainSize: enc.plainSize,
            plainSha256: enc.plainSha256!.toString('hex'),
            header: enc.headerBytes.toString('base64'),
            compression: 'gzip',
          },
          keys: {
            root: input.keys.wrapBackupKey(id, dek).toString('base64'),
            ...(input.recoveryKey
              ? {
                  recovery: wrapBackupKey(input.recoveryKey, 'recovery', id, dek).toString('base64'),
                  recoveryCommitment: commitSecret(input.recoveryKey).toString('hex'),
                  keyringRecovery: input.keys
                    .keyringForRecovery(Buffer.from(keyring.blob), input.recoveryKey)
                    .toString('base64'),
                }
              : {}),
            rootKeyId: keyring.root_key_id,
          },
        };
        const manifest: Manifest = { ...unsigned, mac: manifestMac(dek, id, canonicalJson(unsigned)) };
        await driver.put(`${folder}/${MANIFEST_KEY}`, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), {
          contentType: 'application/json',
        });
        phases.add('total', performance.now() - started);
        return manifest;
      });
  } finally {
    dek.fill(0);
  }
}
