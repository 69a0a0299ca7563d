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
 *
 * `task_runs`: one row per background task (rewrap, drive health, posture checks, scheduled
 * rotation …) — its status and progress, and where its log lives: an object in the Strongroom
 * format on the system drive, whose data key is barrier-sealed here (row id = task id). Owned by
 * src/modules/tasks.
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
  await db.schema
    .createTable('task_runs')
    .addColumn('id', 'text', (c) => c.primaryKey().check(sql`length(id) <= 100`))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`length(kind) <= 40`))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('running', 'succeeded', 'failed')`))
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('finished_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('progress', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('entries', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('drive', 'text', (c) => c.notNull().check(sql`length(drive) <= 200`))
    .addColumn('object_key', 'text', (c) => c.check(sql`object_key is null or length(object_key) <= 1024`))
    .addColumn('object_id', 'text')
    .addColumn('sealed_dek', 'bytea')
    .execute();
  await db.schema.createIndex('task_runs_by_start').on('task_runs').columns(['started_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('task_runs').execute();
  await db.schema.dropTable('audit_stream_positions').execute();
  await db.schema.dropTable('posture_results').execute();
}
