import { sql, type Kysely } from 'kysely';

/**
 * Vault tables (C6). Owned by src/modules/vault.
 * - `secrets`: one row per secret (workspace, path) with its metadata; never a value.
 * - `secret_versions`: one row per version. `value_sealed` is barrier-sealed (table
 *   `secret_versions`, column `value_sealed`) with row id `seal_id` = `<ws>/<path>#<version>`, a
 *   generated column, so the binding cannot drift from the row: a ciphertext copied to another
 *   secret or version does not open. Destroying a version sets `value_sealed` to NULL.
 * - Check constraints repeat the API's limits so no other writer can store what the API refuses.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('secrets')
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('path', 'text', (c) => c.notNull().check(sql`length(path) between 1 and 256`))
    .addColumn('type', 'text', (c) =>
      c.notNull().check(sql`type in ('password', 'api-key', 'cloud-credential', 'certificate', 'generic')`),
    )
    .addColumn('description', 'text', (c) =>
      c
        .notNull()
        .defaultTo('')
        .check(sql`length(description) <= 1024`),
    )
    .addColumn('tags', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('owner', 'text')
    .addColumn('custom', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('max_versions', 'integer', (c) =>
      c
        .notNull()
        .defaultTo(10)
        .check(sql`max_versions between 1 and 1000`),
    )
    .addColumn('cas_required', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('current_version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expires_at', 'timestamptz')
    .addColumn('rotate_every_seconds', 'integer', (c) =>
      c.check(sql`rotate_every_seconds is null or rotate_every_seconds > 0`),
    )
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('secrets_pk', ['workspace_id', 'path'])
    .execute();
  // Prefix listing: `path like 'team/%'` with text_pattern_ops.
  await sql`create index secrets_prefix on secrets (workspace_id, path text_pattern_ops)`.execute(db);

  await db.schema
    .createTable('secret_versions')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version >= 1`))
    .addColumn('seal_id', 'text', (c) =>
      c
        .notNull()
        .generatedAlwaysAs(sql`workspace_id || '/' || path || '#' || version::text`)
        .stored(),
    )
    .addColumn('value_sealed', 'bytea')
    .addColumn('cert_not_after', 'timestamptz')
    .addColumn('cert_subject', 'text')
    .addColumn('cert_fingerprint256', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('deleted_at', 'timestamptz')
    .addColumn('deleted_by', 'text')
    .addColumn('destroyed_at', 'timestamptz')
    .addColumn('destroyed_by', 'text')
    .addPrimaryKeyConstraint('secret_versions_pk', ['workspace_id', 'path', 'version'])
    .addForeignKeyConstraint(
      'secret_versions_secret',
      ['workspace_id', 'path'],
      'secrets',
      ['workspace_id', 'path'],
      (fk) => fk.onDelete('cascade'),
    )
    .addCheckConstraint('secret_versions_destroyed_empty', sql`destroyed_at is null or value_sealed is null`)
    .addCheckConstraint('secret_versions_live_has_value', sql`destroyed_at is not null or value_sealed is not null`)
    .execute();
  await sql`create unique index secret_versions_seal_id on secret_versions (seal_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('secret_versions').execute();
  await db.schema.dropTable('secrets').execute();
}
