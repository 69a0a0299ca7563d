/**
 * Named prepared statements for PostgreSQL: the pool Kysely uses gives each statement text it
 * sees often a stable name, so each connection parses and plans it once and afterwards sends only
 * its parameters (`pg` skips Parse for a name it has already prepared on that connection). The
 * request hot path (session lookup, secret read, audit insert) then costs the database server a
 * bind and an execute instead of a parse, plan and execute each time.
 *
 * Bounded and conservative:
 * - at most `limit` distinct texts get a name (per process; each connection holds at most that
 *   many prepared statements), the rest run unnamed as before;
 * - only plain DML (`select|insert|update|delete|with` …) with at most 32 parameters — a group
 *   insert of many rows is a different text per row count and stays unnamed;
 * - never a text with `*`: a prepared `select *` fails ("cached plan must not change result
 *   type") once another server's migration adds a column, so those stay unnamed.
 * A text that starts with the `ARRAY_ROWS` hint (array-rows.ts) returns its rows as arrays.
 * Cursors and anything else that is not (text, parameters) pass through unchanged.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { takeCopyIn } from './copy-in.ts';
import { wantsArrayRows, withoutHint } from './array-rows.ts';
import { COMMIT, ROLLBACK, type CommitWatch } from './commit-watch.ts';
import { AppError, commitOutcomeUnknown } from '../core/errors.ts';

/** SQLSTATE classes of a lost connection (08: connection exception; 57P01–57P03: shutdown, crash, cannot connect now). */
const LOST = /^(08|57P0[1-3])/;
const NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** The database cannot be reached: a 503 the pipeline answers as a problem (fail closed), not a 500. */
export const unavailable = (cause: unknown) =>
  new AppError('NOT_READY', { detail: 'The database cannot be reached. Try again shortly.', cause });

const NAMEABLE = /^\s*(select|insert|update|delete|with)\b/i;
const MAX_PARAMETERS = 32;

/** Whether a statement text may get a name (the rules above; shared with the PGlite dialect). */
export function nameable(text: string, parameters: number): boolean {
  const bare = withoutHint(text);
  return NAMEABLE.test(bare) && !bare.includes('*') && parameters <= MAX_PARAMETERS;
}

/** `COPY … FROM STDIN` with its data, over the COPY sub-protocol (db/copy-in.ts). */
async function copyFromStdin(client: pg.PoolClient, statement: string, data: string): Promise<pg.QueryResult> {
  const stream = client.query(copyFrom(statement));
  await pipeline(Readable.from([Buffer.from(data, 'utf8')]), stream);
  const n = stream.rowCount;
  return { command: 'COPY', rowCount: n, rows: [{ rows_copied: n }], oid: 0, fields: [] };
}

export function withPreparedStatements(pool: pg.Pool, limit = 256, watch?: CommitWatch): PostgresPool {
  /** text → its statement name, or null when it runs unnamed (both bounded). */
  const names = new Map<string, string | null>();
  const nameOf = (text: string, parameters: number): string | undefined => {
    const known = names.get(text);
    if (known !== undefined) return known ?? undefined;
    const ok = nameable(text, parameters);
    const named = names.size < limit && ok;
    if (names.size < limit * 4)
      names.set(text, named ? `sr_${createHash('sha256').update(text).digest('hex').slice(0, 24)}` : null);
    return names.get(text) ?? undefined;
  };
  return {
    async connect(): Promise<PostgresPoolClient> {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw unavailable(err); // refused, reset, or no answer within the connection timeout
      }
      // A checked-out connection that dies (the server restarts, pg_terminate_backend) emits
      // 'error' besides failing its query; unheard, that event would end the process. The pool
      // drops the dead client when it is released; idle clients are covered by the pool's handler.
      let lost = false;
      const onError = () => void (lost = true);
      client.on('error', onError);
      const lostConnection = (err: unknown) => {
        const code = String((err as { code?: unknown }).code ?? '');
        const notQueryable = (client as unknown as { _queryable?: boolean })._queryable === false;
        return lost || notQueryable || LOST.test(code) || NETWORK.has(code) ? unavailable(err) : err;
      };
      const translated = <T>(p: Promise<T>): Promise<T> =>
        p.catch((err: unknown) => {
          throw lostConnection(err);
        });
      // A COMMIT whose connection was lost may have committed: that is what the caller hears,
      // also through the ROLLBACK kysely sends next on the dead connection (whose own error
      // would otherwise replace it).
      let inDoubt: AppError | undefined;
      const settling = (text: string, send: () => Promise<pg.QueryResult>): Promise<pg.QueryResult> => {
        if (inDoubt && ROLLBACK.test(text)) return Promise.reject(inDoubt);
        if (!COMMIT.test(text)) return send();
        return send().catch((err: unknown) => {
          // `send` translates: a NOT_READY from it is a lost connection (lostConnection above).
          if (err instanceof AppError && err.code === 'NOT_READY') inDoubt = commitOutcomeUnknown(err.cause);
          throw inDoubt ?? err;
        });
      };
      const seen = watch?.connection();
      const run = (text: string, parameters: readonly unknown[]): Promise<pg.QueryResult> => {
        const name = nameOf(text, parameters.length);
        if (wantsArrayRows(text)) {
          const config: pg.QueryArrayConfig = { text, values: [...parameters], rowMode: 'array' };
          if (name) config.name = name;
          return translated(client.query(config)) as unknown as Promise<pg.QueryResult>;
        }
        return translated(
          name ? client.query({ name, text, values: [...parameters] }) : client.query(text, [...parameters]),
        );
      };
      return {
        query: ((textOrCursor: unknown, parameters?: readonly unknown[]) => {
          const copy = typeof textOrCursor === 'string' ? takeCopyIn(textOrCursor) : undefined;
          if (copy) return translated(copyFromStdin(client, copy.statement, copy.data));
          if (typeof textOrCursor !== 'string' || !parameters) {
            const q = client.query(textOrCursor as never) as unknown;
            // A cursor (submittable) is returned as is; a text query's promise is translated.
            return q instanceof Promise ? translated(q) : q;
          }
          if (seen === undefined) return settling(textOrCursor, () => run(textOrCursor, parameters));
          seen.before(textOrCursor);
          return settling(textOrCursor, () => run(textOrCursor, parameters)).then((r) => {
            seen.after(textOrCursor);
            return r;
          });
        }) as unknown as PostgresPoolClient['query'],
        release: () => {
          client.off('error', onError);
          // A COMMIT lost its connection: the client may not know yet (the socket's end can come
          // after the error), and no ROLLBACK went out to find out. It is not reused.
          client.release(inDoubt);
        },
      };
    },
    end: () => pool.end(),
  };
}
