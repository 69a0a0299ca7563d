/**
 * Kysely dialect for the embedded PGlite database.
 *
 * PGlite is ONE Postgres session. If every caller were handed that session at once, two
 * concurrent transactions would interleave inside it — one's ROLLBACK undoing the other's work,
 * one's COMMIT committing the other's half-done work — and fail-closed auditing would not hold.
 * This driver therefore lends the session to one caller at a time, from `acquireConnection` to
 * `releaseConnection` (a whole transaction, or a single query), in arrival order.
 *
 * Consequence: code must not query the database handle while it holds a transaction on it (use
 * the transaction) — on PGlite that would deadlock, as it would a pool of one. So that such a bug
 * is a refused request and not a hang, a caller that has waited `waitMs` (default 60 s) for the
 * session gives up with NOT_READY; the transaction it was inside then rolls back and frees it.
 *
 * Named statements (the PostgreSQL pool's rules, `pg-prepared.ts`, plus begin/commit/rollback):
 * PGlite's `query()` sends Parse, Describe, Bind, Describe, Execute and Sync as six separate calls
 * into the WebAssembly backend, and Postgres parses and plans the text every time. A text that
 * may be named is parsed once on this session (Parse + Describe of a named statement: its
 * parameter types) and afterwards runs as one call, Bind + Describe + Execute + Sync, with the
 * plan cached by Postgres (replanned by Postgres itself when a table it reads changes). The
 * messages are built and read by PGlite's own protocol serializer and parser; parameters are
 * serialized and rows parsed by the client's own type handlers, as `query()` does. Like
 * `query()`, the work runs under the client's query lock and the file system is synced after a
 * statement that leaves no transaction open.
 */
import { parse as pgliteResults, protocol, type PGlite } from '@electric-sql/pglite';
import { AppError } from '../core/errors.ts';
import type { CommitWatch } from './commit-watch.ts';
import { wantsArrayRows } from './array-rows.ts';
import { takeCopyIn } from './copy-in.ts';
import { nameable } from './pg-prepared.ts';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely';

const TRANSACTION_CONTROL = /^(begin|commit|rollback)$/i;
const { serialize } = protocol;
/** Statements named on each client so far: names stay unique if two dialects share one client. */
const prepared = new WeakMap<PGlite, number>();

/** One buffer holding several frontend messages (one call into the backend). */
function messages(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

class PGliteConnection implements DatabaseConnection {
  private readonly seen: ReturnType<CommitWatch['connection']> | undefined;
  /** text → its named statement's parameter types, or null: runs through `query()` (both bounded). */
  private readonly statements = new Map<string, { name: string; types: number[] } | null>();

  constructor(
    private readonly client: PGlite,
    watch?: CommitWatch,
    private readonly limit = 256,
  ) {
    this.seen = watch?.connection();
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    this.seen?.before(query.sql);
    const copy = takeCopyIn(query.sql);
    if (copy) {
      // PGlite reads COPY data from its virtual `/dev/blob` file (db/copy-in.ts).
      const statement = copy.statement.replace(/ from stdin$/, ` from '/dev/blob'`);
      const r = await this.client.query(statement, [], { blob: new Blob([copy.data]) });
      this.seen?.after(query.sql);
      return { rows: [{ rows_copied: r.affectedRows ?? 0 } as R] };
    }
    const options = wantsArrayRows(query.sql) ? ({ rowMode: 'array' } as const) : undefined;
    const r = this.mayName(query.sql, query.parameters.length)
      ? await this.named<R>(query.sql, query.parameters, options)
      : await this.client.query<R>(query.sql, [...query.parameters], options);
    this.seen?.after(query.sql);
    return {
      rows: r.rows,
      ...(r.affectedRows !== undefined ? { numAffectedRows: BigInt(r.affectedRows) } : {}),
    };
  }

  private mayName(text: string, parameters: number): boolean {
    const known = this.statements.get(text);
    if (known !== undefined) return known !== null;
    const ok = this.statements.size < this.limit && (nameable(text, parameters) || TRANSACTION_CONTROL.test(text));
    if (!ok && this.statements.size < this.limit * 4) this.statements.set(text, null);
    return ok;
  }

  private async named<R>(
    text: string,
    parameters: readonly unknown[],
    options?: { rowMode: 'array' },
  ): Promise<{ rows: R[]; affectedRows?: number }> {
    const client = this.client;
    if (!client.ready && !client.closed) await client.waitReady;
    return client.runExclusive(async () => {
      if (client.closed) throw new Error('PGlite is closed');
      try {
        let st = this.statements.get(text);
        if (!st) {
          // Parse once; a text Postgres refuses is not remembered and fails as it would unnamed.
          const n = (prepared.get(client) ?? 0) + 1;
          prepared.set(client, n);
          const name = `sr_${n}`;
          const described = await client.execProtocolStream(
            messages(serialize.parse({ name, text }), serialize.describe({ type: 'S', name }), serialize.sync()),
            { syncToFs: false },
          );
          st = { name, types: pgliteResults.parseDescribeStatementResults(described) };
          this.statements.set(text, st);
        }
        const types = st.types;
        const values = parameters.map((v, i) => {
          if (v === null || v === undefined) return null;
          const serializer = client.serializers[types[i]!];
          return serializer ? serializer(v) : String(v);
        });
        // Sync is in the same buffer: after an error the session is ready for the next statement.
        const replies = await client.execProtocolStream(
          messages(
            serialize.bind({ statement: st.name, values }),
            serialize.describe({ type: 'P' }),
            serialize.execute({}),
            serialize.sync(),
          ),
          { syncToFs: false },
        );
        if (!client.isInTransaction()) await client.syncToFs();
        return pgliteResults.parseResults(replies, client.parsers, options)[0] as unknown as {
          rows: R[];
          affectedRows?: number;
        };
      } catch (err) {
        if (err instanceof Error && !('query' in err)) Object.assign(err, { query: text });
        throw err;
      }
    });
  }

  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite does not stream query results');
  }
}

class PGliteDriver implements Driver {
  #tail: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;
  readonly #connection: PGliteConnection;

  constructor(
    client: PGlite,
    private readonly waitMs: number,
    watch?: CommitWatch,
  ) {
    this.#connection = new PGliteConnection(client, watch);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.waitMs);
    });
    const outcome = await Promise.race([previous.then(() => 'ready' as const), gaveUp]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      // Keep the queue intact: our turn still comes, and is passed straight on.
      void previous.then(release);
      throw new AppError('NOT_READY', {
        detail: 'The embedded database stayed busy; try again.',
        cause: new Error(
          `PGlite session not free after ${this.waitMs} ms (a query on the database handle inside one of its transactions deadlocks)`,
        ),
      });
    }
    this.#release = release;
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(): Promise<void> {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  /** The PGlite client belongs to the database handle, which closes it. */
  async destroy(): Promise<void> {}
}

export function pgliteDialect(client: PGlite, opts: { waitMs?: number; watch?: CommitWatch } = {}): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new PGliteDriver(client, opts.waitMs ?? 60_000, opts.watch),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}
