import { sql, type Kysely } from 'kysely';

/**
 * The incremental copy of dataset ciphertext objects to a backup target (issue 20).
 * - `backup_targets.copy_objects`: whether the backup job also copies dataset objects to this
 *   target (off by default: the drives are the customer's own stores, and a copy doubles them).
 * - `backup_object_copies`: one row per dataset version copied to a target — where the source
 *   object was (drive, key, object id, size, the driver's version tag) and the SHA-256 of the
 *   ciphertext measured while copying and read back from the target. The next run copies only
 *   versions with no row, or whose source no longer matches the row. `gone_at`: when the version
 *   stopped existing (deleted dataset or version); the copy is removed once no kept backup is
 *   older than that (prune).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table backup_targets add column copy_objects boolean not null default false`.execute(db);
  await db.schema
    .createTable('backup_object_copies')
    .addColumn('target', 'text', (c) => c.notNull().references('backup_targets.name').onDelete('cascade'))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('dataset', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('object_id', 'text', (c) => c.notNull())
    .addColumn('source_drive', 'text', (c) => c.notNull())
    .addColumn('source_key', 'text', (c) => c.notNull())
    .addColumn('source_etag', 'text')
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull().check(sql`sha256 ~ '^[0-9a-f]{64}$'`))
    .addColumn('copy_key', 'text', (c) => c.notNull())
    .addColumn('copied_at', 'timestamptz', (c) => c.notNull())
    .addColumn('gone_at', 'timestamptz')
    .addPrimaryKeyConstraint('backup_object_copies_pk', ['target', 'workspace_id', 'dataset', 'version'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('backup_object_copies').execute();
  await sql`alter table backup_targets drop column copy_objects`.execute(db);
}
