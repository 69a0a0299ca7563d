/**
 * Liveness and readiness. `/healthz` answers while the process runs; `/readyz` answers 200 only
 * when the database is reachable and every migration this build knows is applied.
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { AppError } from '../core/errors.ts';
import { pingDatabase } from '../db/database.ts';
import { migrationStatus } from '../db/migrate.ts';
import type { Database } from '../db/schema.ts';

export function registerHealthRoutes(app: FastifyInstance, db: Kysely<Database>): void {
  app.get('/healthz', { config: { access: { public: 'liveness probe', allowSealed: true } } }, async () => ({
    status: 'ok',
  }));

  app.get('/readyz', { config: { access: { public: 'readiness probe' } } }, async () => {
    try {
      await pingDatabase(db);
    } catch (cause) {
      throw new AppError('NOT_READY', { detail: 'The database is not reachable.', cause });
    }
    const m = await migrationStatus(db as Kysely<unknown>);
    if (m.pending.length > 0) {
      throw new AppError('NOT_READY', { detail: `${m.pending.length} database migration(s) pending.` });
    }
    return { status: 'ready', database: 'ok', migrations: m.applied };
  });
}
