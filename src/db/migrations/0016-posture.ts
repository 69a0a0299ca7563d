import { sql, type Kysely } from 'kysely';

/**
 * Security posture and audit streaming (C14 + C3, issue 21). Owned by src/modules/posture
 * (`posture_results`) and src/modules/audit (`audit_stream_positions`).
 *
 * `posture_results`: one row per control per run — its status and evidence (numbers, dates, ids,
 * never secrets) — so the console shows history and a change to `fail` can be detected. `scope`
 * is '' for the installation's run, or the workspace id of a workspace's run.
 *
 * `audit_stream_positions`: per SIEM sink, the chain seq delivered up to (at-least-once: the
 * position moves only after the sink acknowledged the batch).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('posture_results')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('run_id', 'text', (c) => c.notNull().check(sql`length(run_id) <= 64`))
    .addColumn('scope', 'text', (c) => c.notNull().check(sql`length(scope) <= 64`))
    .addColumn('control_id', 'text', (c) => c.notNull().check(sql`length(control_id) <= 100`))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pass', 'warn', 'fail')`))
    .addColumn('summary', 'text', (c) => c.notNull().check(sql`length(summary) <= 2000`))
    .addColumn('evidence', 'jsonb', (c) => c.notNull())
    .addColumn('checked_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('posture_results_by_control')
    .on('posture_results')
    .columns(['scope', 'control_id', 'checked_at'])
    .execute();
  await db.schema
    .createTable('audit_stream_positions')
    .addColumn('sink', 'text', (c) => c.primaryKey().check(sql`length(sink) <= 64`))
    .addColumn('seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('last_error', 'text', (c) => c.check(sql`last_error is null or length(last_error) <= 500`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('audit_stream_positions').execute();
  await db.schema.dropTable('posture_results').execute();
}
