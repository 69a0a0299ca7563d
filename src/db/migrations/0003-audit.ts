import { sql, type Kysely } from 'kysely';

/**
 * Audit trail tables. Owned by src/modules/audit (see its NOTES.md).
 * - `audit_pending`: drafts recorded inside callers' transactions (fail-closed, no hot row).
 * - `audit_events`: the hash chain; `seq` is the total order.
 * - `audit_head`: one row, the chain's last seq and hash; locked by the single chainer.
 * - `audit_checkpoints`: signed checkpoints of the head.
 * - `audit_keys`: Ed25519 public keys in the clear; signing seed and HMAC key barrier-sealed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audit_events')
    .addColumn('seq', 'bigint', (c) => c.primaryKey().check(sql`seq > 0`))
    .addColumn('time', sql`timestamptz(3)`, (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('actor_kind', 'text', (c) => c.notNull())
    .addColumn('auth_method', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('resource_type', 'text', (c) => c.notNull())
    .addColumn('resource_id', 'text')
    .addColumn('workspace', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text')
    .addColumn('source_ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('details', 'jsonb', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  for (const cols of [
    ['actor_id', 'seq'],
    ['action', 'seq'],
    ['resource_type', 'resource_id', 'seq'],
    ['outcome', 'seq'],
    ['time'],
  ]) {
    await db.schema.createIndex(`audit_events_${cols[0]}_idx`).on('audit_events').columns(cols).execute();
  }
  await db.schema
    .createTable('audit_pending')
    .addColumn('ingest_id', 'bigserial', (c) => c.primaryKey())
    .addColumn('draft', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('audit_head')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`insert into audit_head (id, seq, hash) values (1, 0, ${'0'.repeat(64)})`.execute(db);
  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('tree_size', 'bigint', (c) => c.primaryKey())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('audit_keys')
    .addColumn('key_id', 'text', (c) => c.primaryKey())
    .addColumn('public_key', 'bytea', (c) => c.notNull())
    .addColumn('signing_seed_sealed', 'bytea', (c) => c.notNull())
    .addColumn('hmac_key_sealed', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['audit_keys', 'audit_checkpoints', 'audit_head', 'audit_pending', 'audit_events']) {
    await db.schema.dropTable(t).execute();
  }
}
