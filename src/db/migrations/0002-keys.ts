import { sql, type Kysely } from 'kysely';

/** Keyring (sealed under the root key) and per-workspace keys (sealed by the barrier). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('keyring')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('blob', 'bytea', (c) => c.notNull())
    .addColumn('root_key_id', 'text', (c) => c.notNull())
    .addColumn('active_term', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('workspace_keys')
    .addColumn('workspace_id', 'text', (c) => c.primaryKey())
    .addColumn('key_version', 'integer', (c) => c.notNull())
    .addColumn('sealed', 'bytea')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('destroy_requested_at', 'timestamptz')
    .addColumn('destroy_token_hash', 'text')
    .addColumn('destroyed_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('workspace_keys').execute();
  await db.schema.dropTable('keyring').execute();
}
