import { sql, type Kysely } from 'kysely';

/**
 * Resumable upload sessions (C8). Owned by src/modules/datasets.
 * - `dataset_uploads`: one open session per `uploading` version row (which already holds the
 *   object's wrapped data key, and here also its header, fixed when the session opens). The
 *   declared size fixes the part layout; `expires_at` slides forward with every stored part.
 * - `dataset_upload_parts`: the SHA-256 of each part's plaintext, recorded before any of its
 *   ciphertext leaves the process (a retry with other bytes is refused: nonces are never reused),
 *   and `stored_size` once the sealed part object is stored and checked.
 * Deleting the version row (cancel, cleanup) removes its session and parts.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('dataset_uploads')
    .addColumn('id', 'text', (c) => c.primaryKey().check(sql`id ~ '^up_[0-9a-f]{32}$'`))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('dataset', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull().check(sql`size > 0`))
    .addColumn('part_size', 'integer', (c) => c.notNull().check(sql`part_size > 0 and part_size % 65536 = 0`))
    .addColumn('expected_sha256', 'text', (c) =>
      c.check(sql`expected_sha256 is null or expected_sha256 ~ '^[0-9a-f]{64}$'`),
    )
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addForeignKeyConstraint(
      'dataset_uploads_version',
      ['workspace_id', 'dataset', 'version'],
      'dataset_versions',
      ['workspace_id', 'dataset', 'version'],
      (fk) => fk.onDelete('cascade'),
    )
    .addUniqueConstraint('dataset_uploads_one_per_version', ['workspace_id', 'dataset', 'version'])
    .execute();

  await db.schema
    .createTable('dataset_upload_parts')
    .addColumn('upload_id', 'text', (c) => c.notNull().references('dataset_uploads.id').onDelete('cascade'))
    .addColumn('part', 'integer', (c) => c.notNull().check(sql`part >= 1`))
    .addColumn('plain_sha256', 'bytea', (c) => c.notNull().check(sql`length(plain_sha256) = 32`))
    .addColumn('stored_size', 'bigint')
    .addColumn('stored_at', 'timestamptz')
    .addPrimaryKeyConstraint('dataset_upload_parts_pk', ['upload_id', 'part'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('dataset_upload_parts').execute();
  await db.schema.dropTable('dataset_uploads').execute();
}
