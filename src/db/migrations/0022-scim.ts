import { sql, type Kysely } from 'kysely';

/**
 * SCIM 2.0 provisioning (C4, issue 19). Owned by src/modules/sso.
 * - `scim_tokens`: one bearer token per workspace, bound to one SSO provider; only its SHA-256 is
 *   kept (the token is shown once). Rotation replaces the row.
 * - `scim_users`: the users a workspace's SCIM client manages (resource id = user id); `active`
 *   false = deprovisioned in that workspace (no membership there, sessions revoked).
 * - `scim_groups` / `scim_group_members`: the IdP's groups pushed by SCIM; their display names
 *   feed the workspace's group → role mappings of the token's provider.
 * - `sso_pending_logins.cli_challenge`: a sign-in started by `strongroom login --sso` (SHA-256 of
 *   the CLI's secret verifier, base64url).
 * - `sso_cli_handoffs`: the session such a sign-in created, barrier-sealed (row id = code hash),
 *   handed to the CLI once for the code shown in the browser plus the verifier; minutes only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const ts = (c: any) => c.notNull().defaultTo(sql`now()`);
  await db.schema
    .createTable('scim_tokens')
    .addColumn('workspace_id', 'text', (c) => c.primaryKey().references('workspaces.id').onDelete('cascade'))
    .addColumn('provider_id', 'text', (c) => c.notNull().references('sso_providers.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', ts)
    .execute();
  await db.schema
    .createTable('scim_users')
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text')
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', ts)
    .addColumn('updated_at', 'timestamptz', ts)
    .addPrimaryKeyConstraint('scim_users_pk', ['workspace_id', 'user_id'])
    .addUniqueConstraint('scim_users_name', ['workspace_id', 'user_name'])
    .execute();
  await db.schema
    .createTable('scim_groups')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('display_name', 'text', (c) => c.notNull().check(sql`length(display_name) between 1 and 400`))
    .addColumn('external_id', 'text')
    .addColumn('created_at', 'timestamptz', ts)
    .addColumn('updated_at', 'timestamptz', ts)
    .addUniqueConstraint('scim_groups_name', ['workspace_id', 'display_name'])
    .execute();
  await db.schema
    .createTable('scim_group_members')
    .addColumn('group_id', 'uuid', (c) => c.notNull().references('scim_groups.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('scim_group_members_pk', ['group_id', 'user_id'])
    .execute();
  await db.schema.alterTable('sso_pending_logins').addColumn('cli_challenge', 'text').execute();
  await db.schema
    .createTable('sso_cli_handoffs')
    .addColumn('code_hash', 'text', (c) => c.primaryKey())
    .addColumn('challenge', 'text', (c) => c.notNull())
    .addColumn('session_sealed', 'bytea', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('strength', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('scim_group_members_user').on('scim_group_members').column('user_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sso_pending_logins').dropColumn('cli_challenge').execute();
  for (const t of ['sso_cli_handoffs', 'scim_group_members', 'scim_groups', 'scim_users', 'scim_tokens'])
    await db.schema.dropTable(t).ifExists().execute();
}
