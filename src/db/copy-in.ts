/**
 * `COPY … FROM STDIN` through the ordinary query path, so that it runs on the connection of the
 * transaction (or handle) it is given, on both backends.
 *
 * Kysely has no COPY, and a transaction's connection is not reachable from outside it. So
 * {@link copyIn} parks the data under a one-time token and runs a statement text that names the
 * token in a leading comment; the two connection wrappers (db/pg-prepared.ts for PostgreSQL,
 * db/pglite-dialect.ts for PGlite) take the data back out by {@link takeCopyIn} and run the COPY
 * their backend's way: the COPY sub-protocol (pg-copy-streams) on PostgreSQL, a `/dev/blob`
 * attachment on PGlite. The token is random and used once; a marked statement whose token is
 * not parked fails before it reaches the database, never reads other data.
 *
 * The statement's result has one row, `{ rows_copied }`.
 *
 * The data is COPY text format (tab-separated, `\N` for NULL, backslash escapes): the caller
 * builds it, see {@link copyText}.
 */
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';

const parked = new Map<string, string>();
const MARK = /^\/\* sr:copy-in ([0-9a-f]{32}) \*\/ /;

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Loads `data` (COPY text format, one row per line, each ending in a newline) into `table`'s
 * `columns` on `ex`'s connection. Returns the number of rows loaded.
 */
export async function copyIn(ex: Kysely<never>, table: string, columns: string[], data: string): Promise<number> {
  const token = randomBytes(16).toString('hex');
  parked.set(token, data);
  try {
    const r = await sql
      .raw(`/* sr:copy-in ${token} */ copy ${ident(table)} (${columns.map(ident).join(', ')}) from stdin`)
      .execute(ex);
    return Number((r.rows[0] as { rows_copied?: unknown } | undefined)?.rows_copied ?? 0);
  } finally {
    parked.delete(token);
  }
}

/** For the connection wrappers: the COPY statement (without the mark) and its data, if `text` is one. */
export function takeCopyIn(text: string): { statement: string; data: string } | undefined {
  if (!text.startsWith('/* sr:copy-in ')) return undefined; // every other statement: one compare
  const m = MARK.exec(text);
  if (!m) return undefined;
  const data = parked.get(m[1]!);
  // Never run a marked COPY without its data (PGlite would wait for input that never comes).
  if (data === undefined) throw new Error('COPY FROM STDIN without its data (a token used twice, or never parked)');
  parked.delete(m[1]!);
  return { statement: text.slice(m[0].length), data };
}

/** One value as a COPY text field: NULL as `\N`, backslash, newline, carriage return and tab escaped. */
export function copyField(value: string | null): string {
  if (value === null) return '\\N';
  // Fast path: most values need no escape.
  if (!/[\\\n\r\t]/.test(value)) return value;
  return value.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}

/** A row of COPY text: fields joined by tabs, ended by a newline. */
export function copyText(fields: (string | null)[]): string {
  let line = '';
  for (let i = 0; i < fields.length; i++) line += (i ? '\t' : '') + copyField(fields[i]!);
  return `${line}\n`;
}
