import { sql, type Kysely } from 'kysely';

/**
 * Crypto-shredding reaches the data-policy keyed-hash keys (issue 20 follow-up). Destroying a
 * workspace key now also destroys that workspace's `data_policy_keys` row in the same
 * transaction: `sealed` becomes NULL and `destroyed_at` is set. The row stays as a tombstone, so
 * a keyed-hash mask of that workspace finds "destroyed" (and fails closed) instead of creating a
 * fresh key on first use; a tombstone is written even when the workspace never had a hash key.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table data_policy_keys alter column sealed drop not null`.execute(db);
  await sql`alter table data_policy_keys add column destroyed_at timestamptz`.execute(db);
  await sql`alter table data_policy_keys add constraint data_policy_keys_destroyed_ck
    check ((sealed is null) = (destroyed_at is not null))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from data_policy_keys where sealed is null`.execute(db);
  await sql`alter table data_policy_keys drop constraint data_policy_keys_destroyed_ck`.execute(db);
  await sql`alter table data_policy_keys drop column destroyed_at`.execute(db);
  await sql`alter table data_policy_keys alter column sealed set not null`.execute(db);
}
