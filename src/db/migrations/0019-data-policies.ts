import { sql, type Kysely } from 'kysely';

/**
 * Data protection policies (issue 17). Owned by src/modules/policies.
 * - `data_policies`: the version in force of each policy of a workspace (one row per name);
 *   replaced in the same transaction that appends its history row, so a crash mid-save leaves the
 *   previous version in force.
 * - `data_policy_versions`: every saved version (and every deletion, `body` NULL), append-only.
 * - `data_policy_keys`: the per-workspace keyed-hash (HMAC-SHA256) key, barrier-sealed
 *   (row id = workspace id).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('data_policies')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull().check(sql`name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'`))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('body', 'jsonb', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('data_policies_pk', ['workspace_id', 'name'])
    .execute();
  await db.schema
    .createTable('data_policy_versions')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('body', 'jsonb')
    .addColumn('changed_by', 'text', (c) => c.notNull())
    .addColumn('changed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('data_policy_versions_pk', ['workspace_id', 'name', 'version'])
    .execute();
  await db.schema
    .createTable('data_policy_keys')
    .addColumn('workspace_id', 'text', (c) => c.primaryKey())
    .addColumn('sealed', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('data_policy_keys').execute();
  await db.schema.dropTable('data_policy_versions').execute();
  await db.schema.dropTable('data_policies').execute();
}
