/**
 * The tables a backup holds and how rows are read and checked, shared by the writer (snapshot) and
 * the reader (restore, drill). All SQL of the row copy lives here and in backups.store.ts.
 *
 * - Every base table of the `public` schema except the migrator's own (`kysely_migration*`: a
 *   restore migrates to the backup's schema version instead).
 * - A row is its `row_to_json` text, read with TimeZone UTC and DateStyle ISO so the same row reads
 *   the same on PGlite and PostgreSQL.
 * - A table's checksum is the sum, modulo 2^256, of the SHA-256 of each row's text: independent of
 *   row order, so a backup taken on PGlite checks on PostgreSQL (whose collation may order text
 *   keys differently). Integrity against an attacker comes from the AEAD and the manifest MAC;
 *   the checksums prove the load put back exactly the rows that were read.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { copyIn, copyText } from '../../db/copy-in.ts';
import type { Database } from '../../db/schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

export interface TableInfo {
  name: string;
  /** Primary-key columns, in key order (every Strongroom table has one). */
  pk: string[];
  /** Columns a restore inserts (generated columns are recomputed). */
  insertable: string[];
  /** How each insertable column's `row_to_json` value becomes COPY text (see {@link copyRows}). */
  kinds?: ColumnKind[];
  /** Columns filled from a sequence, set past their maximum after a load. */
  serial: string[];
}

/**
 * Order-independent checksum of a table's rows (see the file comment): the sum mod 2^256 of each
 * row's SHA-256 read as a big-endian number. Kept as eight 32-bit words in doubles whose carries
 * are propagated every 2^20 rows (each word then stays below 2^52, exact in a double), so no
 * BigInt or hex text per row; the result equals the plain big-integer sum.
 */
export class TableChecksum {
  readonly #words = new Float64Array(8); // least significant word first
  #pending = 0;
  rows = 0;
  add(rowText: string): void {
    const d = createHash('sha256').update(rowText).digest();
    const w = this.#words;
    for (let i = 0; i < 8; i++) w[i]! += d.readUInt32BE(28 - 4 * i);
    this.rows++;
    if (++this.#pending >= 1 << 20) this.#carry();
  }
  #carry(): void {
    const w = this.#words;
    let carry = 0;
    for (let i = 0; i < 8; i++) {
      const v = w[i]! + carry;
      w[i] = v % 0x1_0000_0000;
      carry = Math.floor(v / 0x1_0000_0000);
    }
    this.#pending = 0; // the carry out of the top word is dropped: mod 2^256
  }
  get hex(): string {
    this.#carry();
    let out = '';
    for (let i = 7; i >= 0; i--) out += this.#words[i]!.toString(16).padStart(8, '0');
    return out;
  }
}

/** Sets the session so row texts are identical on both backends. Call inside the transaction. */
export async function canonicalSession(trx: Transaction<Database>): Promise<void> {
  await sql`set local timezone = 'UTC'`.execute(trx);
  await sql`set local datestyle = 'ISO, MDY'`.execute(trx);
  await sql`set local intervalstyle = 'postgres'`.execute(trx);
}

export async function describeTables(db: Db): Promise<TableInfo[]> {
  const cols = await sql<{
    table_name: string;
    column_name: string;
    is_generated: string;
    column_default: string | null;
    data_type: string;
  }>`
    select table_name, column_name, is_generated, column_default, data_type from information_schema.columns
    where table_schema = current_schema() order by table_name, ordinal_position`.execute(db);
  const pks = await sql<{ table_name: string; column_name: string }>`
    select k.table_name, k.column_name from information_schema.table_constraints c
    join information_schema.key_column_usage k
      on k.constraint_name = c.constraint_name and k.table_name = c.table_name and k.table_schema = c.table_schema
    where c.table_schema = current_schema() and c.constraint_type = 'PRIMARY KEY'
    order by k.table_name, k.ordinal_position`.execute(db);
  const base = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'kysely\\_migration%'
    order by table_name`.execute(db);
  return base.rows.map(({ table_name: name }) => {
    const c = cols.rows.filter((r) => r.table_name === name);
    const pk = pks.rows.filter((r) => r.table_name === name).map((r) => r.column_name);
    if (pk.length === 0) throw new Error(`table ${name} has no primary key; backups need one`);
    return {
      name,
      pk,
      insertable: c.filter((r) => r.is_generated !== 'ALWAYS').map((r) => r.column_name),
      kinds: c.filter((r) => r.is_generated !== 'ALWAYS').map((r) => kindOf(r.data_type)),
      serial: c.filter((r) => r.column_default?.startsWith('nextval(')).map((r) => r.column_name),
    };
  });
}

const list = (names: string[]) =>
  sql.join(
    names.map((n) => sql.ref(n)),
    sql`, `,
  );

/** `a desc, b desc, …`: every key column descending (a bare trailing `desc` turns only the last). */
const descending = (names: string[]) =>
  sql.join(
    names.map((n) => sql`${sql.ref(n)} desc`),
    sql`, `,
  );

/**
 * Every row of `table` as JSON text, a page at a time in primary-key order (keyset paging: the
 * next page starts after the highest key of this one, so each page costs the same). A page arrives
 * as one text (rows joined by newlines: `row_to_json` escapes every newline inside a row), which
 * spares the driver a row object per row; rows within a page come in no set order (the aggregate
 * is not sorted: sorting it doubled the CPU of a whole PGlite backup). The next page is already
 * asked for while the caller works on this one.
 */
export async function* readRows(trx: Db, table: TableInfo, pageSize = 2000): AsyncGenerator<string[]> {
  const t = sql.table(table.name);
  const fetchPage = async (last: string | undefined): Promise<{ page: string[]; last: string | undefined }> => {
    const after =
      last === undefined
        ? sql``
        : sql`where (${list(table.pk)}) > (select ${list(table.pk)} from json_populate_record(null::${t}, ${last}::json))`;
    // The page's order does not matter (checksums are order-free, rows load as a set); only the
    // key to continue after must be the page's highest, hence its own top-1 (no sort of the page).
    const r = await sql<{ page: string | null; last: string | null }>`
      with p as materialized (
        select row_to_json(x)::text as sr_row_text, ${list(table.pk.map((c) => `x.${c}`))}
        from ${t} x ${after} order by ${list(table.pk)} limit ${pageSize}
      )
      select (select string_agg(sr_row_text, ${'\n'}) from p) as page,
        (select sr_row_text from p order by ${descending(table.pk.map((c) => `p.${c}`))} limit 1) as last`.execute(trx);
    const page = r.rows[0]?.page ? r.rows[0].page.split('\n') : [];
    return { page, last: r.rows[0]?.last ?? undefined };
  };
  let pending: Promise<{ page: string[]; last: string | undefined }> | undefined = fetchPage(undefined);
  while (pending) {
    const got: { page: string[]; last: string | undefined } = await pending;
    const page = got.page;
    if (page.length === 0) return;
    pending = page.length < pageSize ? undefined : fetchPage(got.last);
    // A caller that stops early never awaits the prefetch: its failure must not go unhandled.
    pending?.catch(() => undefined);
    yield page;
  }
}

/**
 * - `json`: jsonb; the value is written back as JSON (jsonb keeps no formatting, so the stored
 *   value is the same).
 * - `bool`: `true`/`false` become `t`/`f`.
 * - `text`: a JSON string, written as is: `row_to_json` prints every such type with its own output
 *   function, which its input function reads back (text, uuid, timestamps, bytea as `\x…`).
 * - `number`: integers and floats; only integers JavaScript holds exactly are written.
 * - `exact`: any other type (json, arrays, …): never through COPY.
 */
export type ColumnKind = 'json' | 'bool' | 'text' | 'number' | 'exact';

function kindOf(dataType: string): ColumnKind {
  switch (dataType) {
    case 'jsonb':
      return 'json';
    case 'boolean':
      return 'bool';
    case 'smallint':
    case 'integer':
    case 'bigint':
    case 'real':
    case 'double precision':
    case 'numeric':
      return 'number';
    case 'text':
    case 'character varying':
    case 'character':
    case 'uuid':
    case 'bytea':
    case 'date':
    case 'timestamp with time zone':
    case 'timestamp without time zone':
      return 'text';
    default:
      return 'exact';
  }
}

/** Every number in a JSON value is an integer JavaScript holds exactly (so it prints back the same). */
function exactNumbers(v: unknown): boolean {
  if (typeof v === 'number') return Number.isSafeInteger(v);
  if (v === null || typeof v !== 'object') return true;
  if (Array.isArray(v)) return v.every(exactNumbers);
  for (const k in v) if (!exactNumbers((v as Record<string, unknown>)[k])) return false;
  return true;
}

/** One `row_to_json` value as a COPY field, or `undefined` when it cannot be written exactly. */
function fieldOf(kind: ColumnKind, v: unknown): string | null | undefined {
  if (v === null || v === undefined) return null;
  switch (kind) {
    case 'json':
      return exactNumbers(v) ? JSON.stringify(v) : undefined;
    case 'bool':
      return v === true ? 't' : v === false ? 'f' : undefined;
    case 'text':
      return typeof v === 'string' ? v : undefined;
    case 'number':
      return typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : undefined;
    default:
      return undefined;
  }
}

/**
 * Rows (JSON texts of `row_to_json`) as COPY text for `table`, or `undefined` when a value does
 * not convert exactly (see {@link ColumnKind}): such a batch is loaded with {@link insertRows}.
 * Pure CPU work, so it can run while the database loads the previous batch.
 */
export function copyData(table: TableInfo, rows: string[]): string | undefined {
  const kinds = table.kinds;
  if (!kinds || kinds.includes('exact')) return undefined;
  const cols = table.insertable;
  let data = '';
  const fields: (string | null)[] = new Array<string | null>(cols.length);
  for (const text of rows) {
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return undefined; // the exact path reports it
    }
    for (let i = 0; i < cols.length; i++) {
      const f = fieldOf(kinds[i]!, row[cols[i]!]);
      if (f === undefined) return undefined;
      fields[i] = f;
    }
    // JSON writes a backslash, newline, carriage return or tab inside a string only as an escape
    // beginning with a backslash, and JSON.stringify adds one only where the line had one: a line
    // without any backslash has nothing to escape for COPY either.
    data += text.includes('\\') ? copyText(fields) : `${fields.map((f) => f ?? '\\N').join('\t')}\n`;
  }
  return data;
}

/** Loads {@link copyData}'s text for `rows` rows into `table` with COPY (db/copy-in.ts). */
export async function copyRows(
  trx: Transaction<Database>,
  table: TableInfo,
  data: string,
  rows: number,
): Promise<void> {
  const copied = await copyIn(trx as unknown as Kysely<never>, table.name, table.insertable, data);
  if (copied !== rows) throw new Error(`COPY into ${table.name} loaded ${copied} of ${rows} rows`);
}

/**
 * Loads rows (JSON texts of `row_to_json`) into `table`: with COPY when every value converts
 * exactly, about three times cheaper for the database than {@link insertRows}, which loads the
 * rest. The checksum read-back after the load is the proof either way.
 */
export async function loadRows(
  trx: Transaction<Database>,
  table: TableInfo,
  rows: string[],
): Promise<'copy' | 'insert'> {
  if (rows.length === 0) return 'copy';
  const data = copyData(table, rows);
  if (data === undefined) {
    await insertRows(trx, table, rows);
    return 'insert';
  }
  await copyRows(trx, table, data, rows.length);
  return 'copy';
}

/** Inserts rows (JSON texts of `row_to_json`) into `table`. */
export async function insertRows(trx: Transaction<Database>, table: TableInfo, rows: string[]): Promise<void> {
  if (rows.length === 0) return;
  const cols = list(table.insertable);
  await sql`insert into ${sql.table(table.name)} (${cols})
    select ${cols} from json_populate_recordset(null::${sql.table(table.name)}, ${`[${rows.join(',')}]`}::json)`.execute(
    trx,
  );
}

/**
 * Drops every plain (non-unique, constraint-free) index of the schema and returns the statements
 * that recreate them: a restore loads rows without maintaining them row by row, then builds each
 * once, sorted, before its checks (all in the load's transaction, so a failed load leaves them as
 * they were). Unique and primary-key indexes stay: they still refuse a duplicated row as it loads.
 */
export async function dropPlainIndexes(trx: Transaction<Database>): Promise<string[]> {
  const r = await sql<{ name: string; def: string }>`
    select i.relname as name, pg_get_indexdef(x.indexrelid) as def
    from pg_index x
    join pg_class i on i.oid = x.indexrelid
    join pg_class t on t.oid = x.indrelid
    join pg_namespace n on n.oid = t.relnamespace
    where n.nspname = current_schema() and not x.indisunique and not x.indisprimary
      and not exists (select 1 from pg_constraint c where c.conindid = x.indexrelid)
    order by i.relname`.execute(trx);
  for (const ix of r.rows) await sql`drop index ${sql.ref(ix.name)}`.execute(trx);
  return r.rows.map((ix) => ix.def);
}

/** Recreates the indexes {@link dropPlainIndexes} dropped (its own statements, from the catalog). */
export async function recreateIndexes(trx: Transaction<Database>, defs: string[]): Promise<void> {
  for (const def of defs) await sql.raw(def).execute(trx);
}

/** Moves each serial column's sequence past the loaded rows. */
export async function resetSequences(trx: Transaction<Database>, table: TableInfo): Promise<void> {
  for (const col of table.serial) {
    await sql`select setval(pg_get_serial_sequence(${table.name}, ${col}), coalesce(max(${sql.ref(col)}), 0) + 1, false)
      from ${sql.table(table.name)}`.execute(trx);
  }
}

/**
 * The checksum of a table as it is now in `db`, computed by the database in one scan: each row's
 * SHA-256 over the same `row_to_json` text the writer hashed, and the sum of each of the 32 digest
 * bytes over all rows (a byte sum stays below 2^63 for any table that fits in PostgreSQL). Then
 * sum_i byteSum_i * 256^(31-i) mod 2^256 is the sum of the digests read big-endian: the very
 * checksum {@link TableChecksum} computes, without sending a row to this process.
 */
export async function checksumTable(db: Db, table: TableInfo): Promise<{ rows: number; checksum: string }> {
  // `offset 0` keeps the digest computed once per row (otherwise each sum would recompute it).
  const sums = sql.join(
    Array.from({ length: 32 }, (_, i) => sql`sum(get_byte(d, ${sql.lit(i)}))::text as ${sql.ref(`b${i}`)}`),
    sql`, `,
  );
  const r = await sql<Record<string, string | null>>`
    select count(*)::text as n, ${sums} from (
      select sha256(convert_to(row_to_json(x)::text, 'UTF8')) as d from ${sql.table(table.name)} x offset 0
    ) s`.execute(db);
  const row = r.rows[0]!;
  let total = 0n;
  for (let i = 0; i < 32; i++) total += BigInt(row[`b${i}`] ?? '0') << BigInt(8 * (31 - i));
  const checksum = (total % (1n << 256n)).toString(16).padStart(64, '0');
  return { rows: Number(row.n), checksum };
}
