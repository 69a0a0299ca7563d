import { sql, type Kysely } from 'kysely';

/**
 * Workspace key rotation, workspace task runs and per-workspace client network allowlists (issue 21).
 * - `workspace_keys.rotated_at`: when the current version replaced the previous one (null: never
 *   rotated; its age is then `created_at`'s). Owned by src/modules/keys.
 * - `workspace_key_versions`: superseded versions of a workspace key, barrier-sealed
 *   (row id = `id`, "<workspace>:<version>"), kept while a wrapped data key still names them and
 *   deleted (the old key destroyed) once none does. Crypto-shredding a workspace deletes them all.
 * - `task_runs.workspace_id`: the workspace a task ran for (null: the installation's). A
 *   workspace's owners, admins and auditors see its tasks; the installation's are the operator's.
 * - `workspace_network_allowlists`: the CIDRs a workspace's API may be called from (one row per
 *   workspace; absent = no restriction beyond the installation's). Owned by src/modules/access.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('workspace_keys').addColumn('rotated_at', 'timestamptz').execute();
  await db.schema.alterTable('task_runs').addColumn('workspace_id', 'text').execute();
  await db.schema
    .createTable('workspace_key_versions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('key_version', 'integer', (c) => c.notNull())
    .addColumn('sealed', 'bytea', (c) => c.notNull())
    .addColumn('superseded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('workspace_key_versions_ws_version', ['workspace_id', 'key_version'])
    .execute();
  await db.schema
    .createTable('workspace_network_allowlists')
    .addColumn('workspace_id', 'text', (c) => c.primaryKey())
    .addColumn('cidrs', 'jsonb', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('workspace_network_allowlists').execute();
  await db.schema.dropTable('workspace_key_versions').execute();
  await db.schema.alterTable('task_runs').dropColumn('workspace_id').execute();
  await db.schema.alterTable('workspace_keys').dropColumn('rotated_at').execute();
}
