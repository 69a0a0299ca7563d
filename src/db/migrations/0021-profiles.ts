import { sql, type Kysely } from 'kysely';

/**
 * Stored profiles and column tags (C10, issue 18). Owned by src/modules/profiling.
 * - `dataset_profiles`: one row per tabular dataset version: the background job's state
 *   (pending → running → done | failed), its progress, the task that computed it and the stored
 *   profile — the unrestricted view's value-free profile (no raw string value, nothing but counts
 *   for sensitive columns; see the module's NOTES.md). `error` is a code, never a message;
 *   `sha256` names the content profiled (a deleted and re-uploaded version number is not reused).
 * - `column_tags`: classification tags on a dataset's columns, remembered across versions:
 *   `suggested` by detection, `confirmed` or `rejected` by a steward (`source` says who added it).
 * - `published_profiles`: metadata-only datasets (`strongroom profile FILE --publish NAME`): the
 *   profiles a CLI computed locally and sent without any content, one numbered version each.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('dataset_profiles')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('dataset', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version >= 1`))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending', 'running', 'done', 'failed')`))
    .addColumn('sha256', 'text')
    .addColumn('progress', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('task_id', 'text')
    .addColumn('profile', 'jsonb')
    .addColumn('error', 'text')
    .addColumn('requested_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('dataset_profiles_pk', ['workspace_id', 'dataset', 'version'])
    .execute();
  await db.schema
    .createTable('column_tags')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('dataset', 'text', (c) => c.notNull())
    .addColumn('column_name', 'text', (c) => c.notNull())
    .addColumn('tag', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('suggested', 'confirmed', 'rejected')`))
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('detected', 'steward')`))
    .addColumn('confidence', 'real')
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('column_tags_pk', ['workspace_id', 'dataset', 'column_name', 'tag'])
    .execute();
  await db.schema
    .createTable('published_profiles')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('dataset', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version >= 1`))
    .addColumn('profile', 'jsonb', (c) => c.notNull())
    .addColumn('published_by', 'text', (c) => c.notNull())
    .addColumn('published_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('published_profiles_pk', ['workspace_id', 'dataset', 'version'])
    .execute();
}
