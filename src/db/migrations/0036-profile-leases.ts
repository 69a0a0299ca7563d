import { sql, type Kysely } from 'kysely';

/**
 * Profile jobs under a lease (scale-out, issue 22). A job is claimed with FOR UPDATE SKIP LOCKED
 * and held by its server (`lease_owner`, the lease holder's `instance:pid:boot`) until
 * `lease_expires_at`, renewed while it runs. Another server takes over a `running` job only once
 * its lease has ended; a starting server puts back to `pending` only the jobs its own dead
 * predecessor held. Before this, a start put every `running` job back (a live server's too) and a
 * job whose server died stayed `running` until some server restarted.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table dataset_profiles add column lease_owner text`.execute(db);
  await sql`alter table dataset_profiles add column lease_expires_at timestamptz`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table dataset_profiles drop column lease_expires_at`.execute(db);
  await sql`alter table dataset_profiles drop column lease_owner`.execute(db);
}
