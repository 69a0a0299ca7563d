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
 * Cursors and anything else that is not (text, parameters) pass through unchanged.
 */
import { createHash } from 'node:crypto';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import type { CommitWatch } from './commit-watch.ts';

const NAMEABLE = /^\s*(select|insert|update|delete|with)\b/i;
const MAX_PARAMETERS = 32;

export function withPreparedStatements(pool: pg.Pool, limit = 256, watch?: CommitWatch): PostgresPool {
  /** text → its statement name, or null when it runs unnamed (both bounded). */
  const names = new Map<string, string | null>();
  const nameOf = (text: string, parameters: number): string | undefined => {
    const known = names.get(text);
    if (known !== undefined) return known ?? undefined;
    const ok = NAMEABLE.test(text) && !text.includes('*') && parameters <= MAX_PARAMETERS;
    const named = names.size < limit && ok;
    if (names.size < limit * 4)
      names.set(text, named ? `sr_${createHash('sha256').update(text).digest('hex').slice(0, 24)}` : null);
    return names.get(text) ?? undefined;
  };
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      const seen = watch?.connection();
      const run = (text: string, parameters: readonly unknown[]): Promise<pg.QueryResult> => {
        const name = nameOf(text, parameters.length);
        return name ? client.query({ name, text, values: [...parameters] }) : client.query(text, [...parameters]);
      };
      return {
        query: ((textOrCursor: unknown, parameters?: readonly unknown[]) => {
          if (typeof textOrCursor !== 'string' || !parameters) return client.query(textOrCursor as never);
          if (seen === undefined) return run(textOrCursor, parameters);
          seen.before(textOrCursor);
          return run(textOrCursor, parameters).then((r) => {
            seen.after(textOrCursor);
            return r;
          });
        }) as unknown as PostgresPoolClient['query'],
        release: () => client.release(),
      };
    },
    end: () => pool.end(),
  };
}
