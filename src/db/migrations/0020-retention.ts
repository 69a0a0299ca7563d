import { sql, type Kysely } from 'kysely';

/**
 * Retention, legal holds, workspace terminations and the audit trail's pruned start (C12, issue
 * 20). Owned by src/modules/retention (`audit_retention` is read by src/modules/audit's verify).
 * - `retention_classes`: days kept per data class; rows absent = the documented default.
 * - `legal_holds`: a hold on a workspace, a dataset or a user; `released_at` null = in force.
 * - `workspace_terminations`: a terminated workspace is purged (crypto-shred) after `purge_after`
 *   unless cancelled or held.
 * - `audit_retention` (one row, id = 1): events with seq <= `pruned_through` were pruned; the
 *   signed checkpoint at that tree size is the start `audit verify` proves the chain from.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('retention_classes')
    .addColumn('class', 'text', (c) => c.primaryKey())
    .addColumn('days', 'integer', (c) => c.notNull().check(sql`days between 1 and 36500`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('legal_holds')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('workspace', 'dataset', 'user')`))
    .addColumn('workspace_id', 'text')
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('released_at', 'timestamptz')
    .addColumn('released_by', 'text')
    .execute();
  await db.schema
    .createTable('workspace_terminations')
    .addColumn('workspace_id', 'text', (c) => c.primaryKey())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('requested_at', 'timestamptz', (c) => c.notNull())
    .addColumn('purge_after', 'timestamptz', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending', 'cancelled', 'purged')`))
    .addColumn('finished_at', 'timestamptz')
    .addColumn('evidence', 'jsonb')
    .execute();
  await db.schema
    .createTable('audit_retention')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('pruned_through', 'bigint', (c) => c.notNull())
    .addColumn('pruned_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['audit_retention', 'workspace_terminations', 'legal_holds', 'retention_classes'])
    await db.schema.dropTable(t).ifExists().execute();
}
