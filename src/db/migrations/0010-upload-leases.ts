import { sql, type Kysely } from 'kysely';

/**
 * Upload leases (C8, issue 13). Owned by src/modules/datasets.
 * An `uploading` version row written by a streamed upload names the server process that owns it
 * (`lease_owner`: instance id, pid, boot id) and until when (`lease_expires_at`), renewed while
 * its bytes flow. Another upload, server or the cleanup job may remove it only once the lease
 * has expired or its owner is known dead. Rows of resumable sessions have no lease: their
 * session's `expires_at` governs them. Rows left by an older build get a lease ending an hour
 * after they were created (the old orphan rule).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('dataset_versions')
    .addColumn('lease_owner', 'text', (c) => c.check(sql`lease_owner is null or length(lease_owner) <= 200`))
    .execute();
  await db.schema.alterTable('dataset_versions').addColumn('lease_expires_at', 'timestamptz').execute();
  await sql`update dataset_versions v set lease_expires_at = v.created_at + interval '1 hour'
    where v.state = 'uploading' and not exists (select 1 from dataset_uploads u where u.workspace_id = v.workspace_id and u.dataset = v.dataset and u.version = v.version)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('dataset_versions').dropColumn('lease_expires_at').execute();
  await db.schema.alterTable('dataset_versions').dropColumn('lease_owner').execute();
}
