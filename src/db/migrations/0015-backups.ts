import { sql, type Kysely } from 'kysely';

/**
 * Backups, their targets and settings, the shred ledger and the maintenance job table (C11,
 * issue 20). Owned by src/modules/backups.
 * - `backup_targets`: where backups go — a drive of a workspace and a key prefix on it.
 * - `backups`: one row per backup; `complete` only once its object and manifest are on the
 *   target, so a crash mid-way never leaves a backup listed as complete.
 * - `backup_settings` (one row, id = 1): schedule, rotation, recovery objective, the recovery key
 *   and the shred-ledger key (both barrier-sealed, row id '1').
 * - `shred_ledger`: every destroyed workspace key, MAC'd; copied to every target and re-applied by
 *   a restore so that restoring an older backup cannot bring a destroyed key back.
 * - `maintenance_jobs`: scheduled work (backup, drill, prune) claimed with FOR UPDATE SKIP LOCKED.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('backup_targets')
    .addColumn('name', 'text', (c) => c.primaryKey().check(sql`name ~ '^[a-z0-9][a-z0-9-]{0,39}$'`))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('drive', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('backups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('trigger', 'text', (c) => c.notNull().check(sql`trigger in ('manual', 'scheduled', 'pre-migration')`))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('running', 'complete', 'failed', 'deleted')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('completed_at', 'timestamptz')
    .addColumn('size', 'bigint')
    .addColumn('sha256', 'text')
    .addColumn('manifest', 'jsonb')
    .addColumn('error', 'text')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'timestamptz')
    .addColumn('verified_at', 'timestamptz')
    .addColumn('verify_ok', 'boolean')
    .addColumn('verify_ms', 'integer')
    .addColumn('verify_error', 'text')
    .addColumn('deleted_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('backups_created').on('backups').columns(['created_at']).execute();
  await db.schema
    .createTable('backup_settings')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('schedule_hour_utc', 'integer', (c) => c.notNull().defaultTo(2))
    .addColumn('drill_weekday', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('keep_daily', 'integer', (c) => c.notNull().defaultTo(7))
    .addColumn('keep_weekly', 'integer', (c) => c.notNull().defaultTo(4))
    .addColumn('keep_monthly', 'integer', (c) => c.notNull().defaultTo(12))
    .addColumn('max_age_days', 'integer', (c) => c.notNull().defaultTo(365))
    .addColumn('objective_hours', 'integer', (c) => c.notNull().defaultTo(26))
    .addColumn('recovery_key_sealed', 'bytea')
    .addColumn('recovery_key_exported_at', 'timestamptz')
    .addColumn('ledger_key_sealed', 'bytea')
    .execute();
  await sql`insert into backup_settings (id) values (1)`.execute(db);
  await db.schema
    .createTable('shred_ledger')
    .addColumn('workspace_id', 'text', (c) => c.primaryKey())
    .addColumn('key_version', 'integer', (c) => c.notNull())
    .addColumn('destroyed_at', 'timestamptz', (c) => c.notNull())
    .addColumn('mac', 'text')
    .execute();
  await db.schema
    .createTable('maintenance_jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('run_at', 'timestamptz', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending', 'running', 'done', 'failed')`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'timestamptz')
    .addColumn('result', 'jsonb')
    .addColumn('finished_at', 'timestamptz')
    .addUniqueConstraint('maintenance_jobs_kind_run_at', ['kind', 'run_at'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['maintenance_jobs', 'shred_ledger', 'backup_settings', 'backups', 'backup_targets'])
    await db.schema.dropTable(t).execute();
}
