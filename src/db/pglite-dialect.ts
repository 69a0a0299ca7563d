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
 */
import type { PGlite } from '@electric-sql/pglite';
import { AppError } from '../core/errors.ts';
import type { CommitWatch } from './commit-watch.ts';
import { wantsArrayRows } from './array-rows.ts';
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

class PGliteConnection implements DatabaseConnection {
  private readonly seen: ReturnType<CommitWatch['connection']> | undefined;

  constructor(
    private readonly client: PGlite,
    watch?: CommitWatch,
  ) {
    this.seen = watch?.connection();
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    this.seen?.before(query.sql);
    const r = await this.client.query<R>(
      query.sql,
      [...query.parameters],
      wantsArrayRows(query.sql) ? { rowMode: 'array' } : undefined,
    );
    this.seen?.after(query.sql);
    return {
      rows: r.rows,
      ...(r.affectedRows !== undefined ? { numAffectedRows: BigInt(r.affectedRows) } : {}),
    };
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
