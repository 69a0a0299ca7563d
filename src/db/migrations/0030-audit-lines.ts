import { sql, type Kysely } from 'kysely';

/**
 * Each chained event's export line, kept in its row (issue 22): the canonical JSON of the whole
 * event, `hash` included — the bytes the chainer hashed (minus the hash member) and exported.
 * Verification then reads one column per event and hashes it as it is, instead of reading
 * sixteen columns and encoding the event again; the columns stay (search filters on them) and
 * verification holds them against the line (src/modules/audit/NOTES.md, invariant 8).
 *
 * `json`, not `text`: the text is kept byte for byte, and the type refuses anything that is not
 * JSON, so the line can always be read as `jsonb` for that comparison. Rows chained before this
 * migration have no line (NULL) and are verified from their columns, as before.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table audit_events add column line json`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table audit_events drop column line`.execute(db);
}
