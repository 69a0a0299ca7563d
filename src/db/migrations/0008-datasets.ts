import { sql, type Kysely } from 'kysely';

/**
 * Datasets (C8). Owned by src/modules/datasets.
 * - `datasets`: one row per dataset of a workspace (metadata only).
 * - `dataset_versions`: the manifest of each immutable version: which drive and random object key
 *   hold its ciphertext, the object's data key wrapped by the workspace key (never in the clear),
 *   its header, plaintext size and SHA-256. A version is visible only in state `committed`;
 *   `uploading` rows are uploads in flight (or orphans for the cleanup job), `deleting` rows are
 *   deletions whose objects may still exist. At most one upload per dataset is in flight.
 * - The drive reference is RESTRICT: a drive holding versions cannot be deleted underneath them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('datasets')
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull().check(sql`name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'`))
    .addColumn('description', 'text', (c) =>
      c
        .notNull()
        .defaultTo('')
        .check(sql`length(description) <= 4096`),
    )
    .addColumn('tags', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('owner', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('datasets_pk', ['workspace_id', 'name'])
    .execute();

  await db.schema
    .createTable('dataset_versions')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('dataset', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version >= 1`))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('uploading', 'committed', 'deleting')`))
    .addColumn('drive', 'text', (c) => c.notNull())
    .addColumn('object_key', 'text', (c) => c.notNull())
    .addColumn('object_id', 'text', (c) => c.notNull())
    .addColumn('key_term', 'integer', (c) => c.notNull())
    .addColumn('wrapped_dek', 'bytea', (c) => c.notNull())
    .addColumn('header', 'bytea')
    .addColumn('plain_size', 'bigint')
    .addColumn('stored_size', 'bigint')
    .addColumn('sha256', 'text', (c) => c.check(sql`sha256 is null or sha256 ~ '^[0-9a-f]{64}$'`))
    .addColumn('media_type', 'text', (c) => c.notNull().defaultTo('application/octet-stream'))
    .addColumn('filename', 'text')
    .addColumn('tabular_format', 'text', (c) =>
      c.check(sql`tabular_format is null or tabular_format in ('csv', 'jsonl', 'parquet')`),
    )
    .addColumn('schema', 'jsonb')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('committed_at', 'timestamptz')
    .addPrimaryKeyConstraint('dataset_versions_pk', ['workspace_id', 'dataset', 'version'])
    .addForeignKeyConstraint(
      'dataset_versions_dataset',
      ['workspace_id', 'dataset'],
      'datasets',
      ['workspace_id', 'name'],
      (fk) => fk.onDelete('cascade'),
    )
    .addForeignKeyConstraint(
      'dataset_versions_drive',
      ['workspace_id', 'drive'],
      'drives',
      ['workspace_id', 'name'],
      (fk) => fk.onDelete('restrict'),
    )
    .addCheckConstraint(
      'dataset_versions_committed_complete',
      sql`state <> 'committed' or (header is not null and plain_size is not null and sha256 is not null and committed_at is not null)`,
    )
    .execute();
  await sql`create unique index dataset_versions_one_upload on dataset_versions (workspace_id, dataset) where state = 'uploading'`.execute(
    db,
  );
  await sql`create unique index dataset_versions_object on dataset_versions (workspace_id, drive, object_key)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('dataset_versions').execute();
  await db.schema.dropTable('datasets').execute();
}
