import { sql, type Kysely } from 'kysely';

/**
 * Drive health history (C7, issue 15). Owned by src/modules/drives.
 * `drive_checks`: one row per test of a saved drive (on add, re-test and the periodic health
 * check) — when, whether it passed, the diagnosis code and failed step, the latency. No
 * credential, no remote text. The module keeps the newest 100 per drive; rows go with the drive.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('drive_checks')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('drive', 'text', (c) => c.notNull())
    .addColumn('checked_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('ok', 'boolean', (c) => c.notNull())
    .addColumn('code', 'text', (c) => c.check(sql`code is null or length(code) <= 64`))
    .addColumn('failed_step', 'text', (c) => c.check(sql`failed_step is null or length(failed_step) <= 32`))
    .addColumn('latency_ms', 'double precision')
    .addForeignKeyConstraint(
      'drive_checks_drive_fk',
      ['workspace_id', 'drive'],
      'drives',
      ['workspace_id', 'name'],
      (fk) => fk.onDelete('cascade'),
    )
    .execute();
  await sql`create index drive_checks_by_drive on drive_checks (workspace_id, drive, checked_at desc)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('drive_checks').execute();
}
