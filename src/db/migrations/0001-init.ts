import { sql, type Kysely } from 'kysely';

/** The installation's identity: one row, created with the database. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('system_info')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('instance_id', 'uuid', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`insert into system_info (id, instance_id) values (1, gen_random_uuid())`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('system_info').execute();
}
