/**
 * `strongroom profile --postgres-url URL --table T` (issue 18, metadata-only mode): the profile of
 * a PostgreSQL table or view, computed in this process. Rows are read through the `pg` driver
 * (one read-only, repeatable-read transaction, a server-side cursor fetched in batches, every
 * value as PostgreSQL's text form) and appended to an in-memory DuckDB table, which
 * `computeProfile` then profiles exactly as it profiles a file. Nothing is sent anywhere; the
 * DuckDB instance may spill to a private temporary directory that is removed afterwards.
 *
 * Types: each column keeps the DuckDB type matching its PostgreSQL type (integers, floats,
 * numeric → DOUBLE, boolean, date, time, timestamp[tz]); a column with any value DuckDB cannot
 * read as that type, and every other type, is profiled as text.
 * Errors never quote a value: PostgreSQL's own message (connection, no such relation, no
 * privilege) is shown with the URL's password cut out; a DuckDB failure shows only its kind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { computeProfile, type Profile } from '../modules/profiling/index.ts';
import { CliExit } from './context.ts';
import { EXIT } from './exit-codes.ts';

/** Rows per FETCH from the server-side cursor. */
const BATCH = 5000;

/** PostgreSQL type OID → the DuckDB type its text form is read as (absent: VARCHAR). */
const DUCK_TYPE: Record<number, string> = {
  16: 'BOOLEAN',
  20: 'BIGINT',
  21: 'SMALLINT',
  23: 'INTEGER',
  26: 'BIGINT', // oid
  700: 'FLOAT',
  701: 'DOUBLE',
  1700: 'DOUBLE', // numeric: any precision, profiled as a double
  1082: 'DATE',
  1083: 'TIME',
  1114: 'TIMESTAMP',
  1184: 'TIMESTAMPTZ',
};

/** Every value as PostgreSQL's text form: no parsing in JavaScript, no precision lost. */
const asText = { getTypeParser: () => (v: string) => v };

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

function pgFailure(err: unknown, url: string): CliExit {
  let msg = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  try {
    const pw = decodeURIComponent(new URL(url).password);
    if (pw) msg = msg.split(pw).join('***');
  } catch {
    // not a URL: pg refused it already
  }
  return new CliExit(EXIT.FAILED, `PostgreSQL: ${msg.slice(0, 300)}`);
}

export interface PostgresProfile {
  /** The relation as PostgreSQL names it (schema-qualified when outside the search path). */
  relation: string;
  profile: Profile;
}

/**
 * Profiles `table` (a name as PostgreSQL's SQL reads it: `orders`, `sales.orders`, `"Mixed Case"`)
 * of the database at `url`. `onRows`: the running count of rows read (progress).
 */
export async function profilePostgresTable(
  url: string,
  table: string,
  opts: { sample?: number; k?: number; onRows?: (n: number) => void } = {},
): Promise<PostgresProfile> {
  const client = new pg.Client({ connectionString: url, application_name: 'strongroom profile' });
  client.on('error', () => undefined); // a dropped connection fails the pending query instead
  try {
    await client.connect();
  } catch (err) {
    throw pgFailure(err, url);
  }
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'strongroom-profile-pg-'));
  // Loaded on first use: every other command would pay for DuckDB at start.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:', { threads: '2', temp_directory: tmp });
  const conn = await inst.connect();
  try {
    let relation: string;
    let fields: { name: string; dataTypeID: number }[];
    let rows = 0;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query("SET LOCAL TimeZone = 'UTC'");
      await client.query("SET LOCAL DateStyle = 'ISO'");
      const found = await client.query<{ rel: string | null; kind: string | null }>(
        'SELECT to_regclass($1)::text AS rel, (SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)) AS kind',
        [table],
      );
      const rel = found.rows[0]?.rel;
      if (!rel) throw new CliExit(EXIT.FAILED, `PostgreSQL: no table or view named ${table}`);
      if (!['r', 'v', 'm', 'p', 'f'].includes(found.rows[0]?.kind ?? ''))
        throw new CliExit(EXIT.FAILED, `PostgreSQL: ${rel} is not a table or view`);
      relation = rel;
      // `rel` is PostgreSQL's own quoted, qualified rendering of the relation: safe as SQL text.
      await client.query(`DECLARE strongroom_profile NO SCROLL CURSOR FOR SELECT * FROM ${rel}`);
      const fetch = () =>
        client.query<unknown[]>({ text: `FETCH ${BATCH} FROM strongroom_profile`, rowMode: 'array', types: asText });
      let batch = await fetch();
      fields = batch.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID }));
      if (fields.length === 0) throw new CliExit(EXIT.FAILED, `PostgreSQL: ${rel} has no columns`);
      await conn.run(`CREATE TABLE staged (${fields.map((_, i) => `c${i} VARCHAR`).join(', ')})`);
      const appender = await conn.createAppender('staged');
      try {
        while (batch.rows.length > 0) {
          for (const row of batch.rows) {
            for (const v of row) {
              if (v === null) appender.appendNull();
              else appender.appendVarchar(v as string);
            }
            appender.endRow();
          }
          rows += batch.rows.length;
          opts.onRows?.(rows);
          if (batch.rows.length < BATCH) break;
          batch = await fetch();
        }
      } finally {
        appender.closeSync(); // flushes
      }
      await client.query('CLOSE strongroom_profile');
      await client.query('COMMIT');
    } catch (err) {
      if (err instanceof CliExit) throw err;
      if (err instanceof Error && 'severity' in err) throw pgFailure(err, url);
      throw duckFailure(err);
    }
    try {
      // Which typed columns read back cleanly; the others stay text.
      const typed = fields.map((f, i) => ({ i, type: DUCK_TYPE[f.dataTypeID] })).filter((x) => x.type);
      const bad = new Set<number>();
      if (typed.length > 0) {
        const r = await conn.runAndReadAll(
          `SELECT ${typed.map((t) => `count(c${t.i}) - count(TRY_CAST(c${t.i} AS ${t.type}))`).join(', ')} FROM staged`,
        );
        const counts = r.getRows()[0] ?? [];
        typed.forEach((t, j) => {
          if (Number(counts[j]) !== 0) bad.add(t.i);
        });
      }
      const select = fields
        .map((f, i) => {
          const t = DUCK_TYPE[f.dataTypeID];
          return `${t && !bad.has(i) ? `CAST(c${i} AS ${t})` : `c${i}`} AS ${quote(f.name)}`;
        })
        .join(', ');
      await conn.run(`CREATE TABLE profiled AS SELECT ${select} FROM staged`);
      await conn.run('DROP TABLE staged');
      const profile = await computeProfile(
        conn,
        { sql: 'SELECT * FROM profiled', params: {} },
        { k: opts.k ?? 10, includeValues: true, ...(opts.sample ? { sampleRows: opts.sample } : {}) },
      );
      return { relation, profile };
    } catch (err) {
      throw duckFailure(err);
    }
  } finally {
    conn.closeSync();
    inst.closeSync();
    await client.end().catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
}

/** DuckDB's message may quote a value: only its kind is shown. */
function duckFailure(err: unknown): CliExit {
  const first = ((err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '').slice(0, 200);
  const kind = /^([A-Za-z ]+) Error/.exec(first)?.[1] ?? 'profile';
  return new CliExit(EXIT.FAILED, `the table could not be profiled (${kind} error)`);
}
