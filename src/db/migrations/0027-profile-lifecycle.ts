import { sql, type Kysely } from 'kysely';

/**
 * Metadata-only datasets and the lifecycle of profiles (issue 18).
 * - `datasets.metadata_only`: the dataset holds published profiles (`strongroom profile
 *   --publish`) and never content. Set when a publish creates it; an upload to it is refused. The
 *   `metadata-only` tag stays as a label for lists and filters; this flag is what decides (a tag
 *   can be edited, this cannot). Existing datasets with published profiles are flagged.
 * - Profiles of versions that are gone (deleted before profile rows went with their version)
 *   are removed; from now on a version's profile row is deleted in the transaction that marks
 *   the version deleted.
 * - `pii_policy_defaults` (owned by src/modules/policies): a workspace's default data policy for
 *   columns tagged `pii.*` (a mask kind and the readers it applies to). When set, each dataset
 *   with such columns gets a regular data policy (`pii-default-…`, versioned and conflict-checked
 *   like any other) masking them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('datasets')
    .addColumn('metadata_only', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await sql`update datasets d set metadata_only = true
    where exists (select 1 from published_profiles p where p.workspace_id = d.workspace_id and p.dataset = d.name)`.execute(
    db,
  );
  await sql`delete from dataset_profiles p where not exists (
    select 1 from dataset_versions v where v.workspace_id = p.workspace_id and v.dataset = p.dataset
      and v.version = p.version and v.state = 'committed')`.execute(db);
  await db.schema
    .createTable('pii_policy_defaults')
    .addColumn('workspace_id', 'text', (c) => c.primaryKey())
    .addColumn('setting', 'jsonb', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}
