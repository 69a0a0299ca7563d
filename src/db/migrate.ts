import { Migrator, sql, type Kysely, type MigrationProvider } from 'kysely';
import { AppError } from '../core/errors.ts';
import { migrations } from './migrations/index.ts';

const provider: MigrationProvider = { getMigrations: async () => migrations };

function migrator(db: Kysely<unknown>): Migrator {
  return new Migrator({ db, provider });
}

/**
 * Whether the database has exactly this build's migrations applied, asked with one statement.
 * Kysely's migrator first introspects every table and column of the database (to find its own
 * tables), then locks and reads its table: on PGlite that was over a second of each start. A
 * database that is up to date needs none of it; anything else (no migration table yet, pending
 * or unknown migrations) goes to the migrator as before, lock and checks included.
 */
async function upToDate(db: Kysely<unknown>): Promise<boolean> {
  let names: string[];
  try {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
    names = rows.map((r) => r.name).sort();
  } catch {
    return false; // no migration table yet (a new database)
  }
  const known = Object.keys(migrations).sort();
  return names.length === known.length && names.every((n, i) => n === known[i]);
}

/**
 * Bring the schema to the newest version. Safe with several instances starting at once: the
 * migrator takes a database lock. Throws (and applies nothing further) on the first failure.
 */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  if (await upToDate(db)) return [];
  const { error, results } = await migrator(db).migrateToLatest();
  if (error) {
    throw new AppError('NOT_READY', { detail: 'database migration failed', cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Bring an empty database to exactly `name` (a restore loads a backup taken at that version). */
export async function migrateTo(db: Kysely<unknown>, name: string): Promise<void> {
  if (!(name in migrations))
    throw new AppError('CONFLICT', {
      detail: `This build does not know schema version ${name}; restore with a newer build.`,
    });
  const { error } = await migrator(db).migrateTo(name);
  if (error) throw new AppError('NOT_READY', { detail: 'database migration failed', cause: error });
}

export interface MigrationStatus {
  applied: number;
  pending: string[];
  /** Migrations recorded in the database that this build does not know (a newer build ran). */
  unknown: string[];
}

export async function migrationStatus(db: Kysely<unknown>): Promise<MigrationStatus> {
  if (await upToDate(db)) return { applied: Object.keys(migrations).length, pending: [], unknown: [] };
  const all = await migrator(db).getMigrations();
  const known = new Set(Object.keys(migrations));
  const applied = all.filter((m) => m.executedAt !== undefined);
  let unknown: string[] = [];
  try {
    const rows = await db
      .selectFrom('kysely_migration' as never)
      .select('name' as never)
      .execute();
    unknown = (rows as { name: string }[]).map((r) => r.name).filter((n) => !known.has(n));
  } catch {
    unknown = [];
  }
  return {
    applied: applied.length,
    pending: all.filter((m) => m.executedAt === undefined).map((m) => m.name),
    unknown,
  };
}
