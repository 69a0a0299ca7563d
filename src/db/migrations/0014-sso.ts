import { sql, type Kysely } from 'kysely';

/**
 * Single sign-on (C4, issue 19). Owned by src/modules/sso.
 * - `sso_providers`: installation-wide identity providers (OIDC or SAML). The issuer (OIDC issuer
 *   or SAML IdP entity id) is unique, so two providers never share the (issuer, subject) space of
 *   `external_identities`. The OIDC client secret is barrier-sealed (row id = provider id).
 * - `sso_pending_logins`: one row per started sign-in, keyed by the SHA-256 of its `state`;
 *   used once, expires after minutes. The PKCE verifier is barrier-sealed (row id = state hash).
 * - `sso_assertion_ids`: the SAML replay cache (provider, assertion ID) until the assertion expires.
 * - `sso_role_mappings`: per workspace and provider, group → role; group '*' = every user of the
 *   provider (the just-in-time default role).
 * - `sso_workspace_settings`: per workspace, whether password sign-in is refused for SSO users.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const ts = (c: any) => c.notNull().defaultTo(sql`now()`);
  await db.schema
    .createTable('sso_providers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('oidc', 'saml')`))
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text', (c) => c.notNull().unique())
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('settings', 'jsonb', (c) => c.notNull())
    .addColumn('secret_sealed', 'bytea')
    .addColumn('last_error', 'text')
    .addColumn('last_error_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', ts)
    .addColumn('updated_at', 'timestamptz', ts)
    .execute();

  await db.schema
    .createTable('sso_pending_logins')
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('provider_id', 'text', (c) => c.notNull().references('sso_providers.id').onDelete('cascade'))
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('verifier_sealed', 'bytea')
    .addColumn('request_id', 'text')
    .addColumn('return_to', 'text', (c) => c.notNull())
    .addColumn('link_user_id', 'uuid', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', ts)
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('sso_assertion_ids')
    .addColumn('provider_id', 'text', (c) => c.notNull().references('sso_providers.id').onDelete('cascade'))
    .addColumn('assertion_id', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('sso_assertion_ids_pk', ['provider_id', 'assertion_id'])
    .execute();

  await db.schema
    .createTable('sso_role_mappings')
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('provider_id', 'text', (c) => c.notNull().references('sso_providers.id').onDelete('cascade'))
    .addColumn('group_name', 'text', (c) => c.notNull().check(sql`length(group_name) between 1 and 400`))
    .addColumn('role', 'text', (c) =>
      c.notNull().check(sql`role in ('owner', 'admin', 'steward', 'engineer', 'analyst', 'viewer', 'auditor')`),
    )
    .addPrimaryKeyConstraint('sso_role_mappings_pk', ['workspace_id', 'provider_id', 'group_name', 'role'])
    .execute();
  await db.schema.createIndex('sso_role_mappings_provider').on('sso_role_mappings').column('provider_id').execute();

  await db.schema
    .createTable('sso_workspace_settings')
    .addColumn('workspace_id', 'text', (c) => c.primaryKey().references('workspaces.id').onDelete('cascade'))
    .addColumn('enforce_sso', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('updated_at', 'timestamptz', ts)
    .execute();

  await db.schema
    .alterTable('external_identities')
    .addColumn('provider_id', 'text', (c) => c.references('sso_providers.id').onDelete('cascade'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('external_identities').dropColumn('provider_id').execute();
  for (const t of [
    'sso_workspace_settings',
    'sso_role_mappings',
    'sso_assertion_ids',
    'sso_pending_logins',
    'sso_providers',
  ])
    await db.schema.dropTable(t).execute();
}
