import { Migrator, type Kysely, type MigrationProvider } from 'kysely';
import { AppError } from '../core/errors.ts';
import { migrations } from './migrations/index.ts';

const provider: MigrationProvider = { getMigrations: async () => migrations };

function migrator(db: Kysely<unknown>): Migrator {
  return new Migrator({ db, provider });
}

/**
 * Bring the schema to the newest version. Safe with several instances starting at once: the
 * migrator takes a database lock. Throws (and applies nothing further) on the first failure.
 */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
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
