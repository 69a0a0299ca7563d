import { sql, type Kysely } from 'kysely';

/**
 * Drives (C7). Owned by src/modules/drives.
 * - `drives`: one row per mounted store in a workspace. `config` holds only the non-secret fields
 *   of its kind (bucket, region, endpoint, container, directory…); credentials live in the vault
 *   and `credential_path` names the secret. `status*` and `last_test` are the latest health check.
 * - At most one default drive per workspace (partial unique index).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('drives')
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull().check(sql`name ~ '^[a-z0-9][a-z0-9-]{0,62}$'`))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('local', 's3', 'azure', 'gcs')`))
    .addColumn('description', 'text', (c) =>
      c
        .notNull()
        .defaultTo('')
        .check(sql`length(description) <= 1024`),
    )
    .addColumn('config', 'jsonb', (c) => c.notNull())
    .addColumn('credential_path', 'text')
    .addColumn('is_default', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('unknown')
        .check(sql`status in ('unknown', 'healthy', 'failing')`),
    )
    .addColumn('status_code', 'text')
    .addColumn('status_checked_at', 'timestamptz')
    .addColumn('last_test', 'jsonb')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('drives_pk', ['workspace_id', 'name'])
    .addCheckConstraint('drives_local_has_no_credential', sql`kind <> 'local' or credential_path is null`)
    .execute();
  await sql`create unique index drives_one_default on drives (workspace_id) where is_default`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('drives').execute();
}
