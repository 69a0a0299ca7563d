/**
 * PGlite is one Postgres session. Its Kysely driver hands every caller that same session, so two
 * concurrent transactions would interleave inside it: one's ROLLBACK would undo the other's
 * work, one's COMMIT would commit the other's half-done work — fail-closed auditing would not
 * hold. This wrapper gives the session to one caller at a time, from `acquireConnection` to
 * `releaseConnection` (a whole transaction, or a single query), in arrival order.
 *
 * Consequence: code must not run a query on the database handle while it holds a transaction
 * on it (use the transaction) — on PGlite that waits forever, as it would deadlock a pool of one.
 */
import type { DatabaseConnection, Dialect, Driver, TransactionSettings } from 'kysely';

class SerializedDriver implements Driver {
  #tail: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;

  constructor(private readonly inner: Driver) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    this.#release = release;
    return this.inner.acquireConnection();
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(connection);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.releaseConnection(connection);
    } finally {
      const release = this.#release;
      this.#release = undefined;
      release?.();
    }
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** The same dialect, with its driver serialized. */
export function serializeDialect(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new SerializedDriver(dialect.createDriver()),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
  };
}
