/**
 * Fresh databases for tests, on both backends.
 * - PGlite: initdb costs seconds, so the migrated database is dumped once (cached in the temp
 *   directory, keyed by the migrations' source) and every test loads that dump into memory.
 * - PostgreSQL: a throwaway database on the server at STRONGROOM_TEST_PG_URL (default: the local
 *   trust-auth server), dropped afterwards.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';

export type Backend = 'pglite' | 'postgres';
export const BACKENDS: Backend[] = ['pglite', 'postgres'];

export const PG_ADMIN_URL = process.env.STRONGROOM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../src/db/migrations/', import.meta.url));

function templatePath(): string {
  const h = createHash('sha256');
  for (const f of readdirSync(MIGRATIONS_DIR).sort()) h.update(f).update(readFileSync(path.join(MIGRATIONS_DIR, f)));
  return path.join(os.tmpdir(), `strongroom-pglite-template-${h.digest('hex').slice(0, 16)}.tar`);
}

/** Build (once) the migrated PGlite dump; safe when several test processes race. */
export async function pgliteTemplate(): Promise<Blob> {
  const file = templatePath();
  if (!existsSync(file)) {
    const handle = await openDatabase({ kind: 'pglite-memory' });
    await migrateToLatest(handle.db as never);
    const dump = await handle.pglite!.dumpDataDir('none');
    await handle.close();
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, Buffer.from(await dump.arrayBuffer()));
    await rename(tmp, file);
  }
  return new Blob([await readFile(file)]);
}

let pgAvailable: Promise<boolean> | undefined;
export function postgresAvailable(): Promise<boolean> {
  pgAvailable ??= (async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.query('select 1');
      return true;
    } catch {
      return false;
    } finally {
      await c.end().catch(() => undefined);
    }
  })();
  return pgAvailable;
}

/** A migrated, empty database of the given backend. `close()` also drops a PostgreSQL database. */
export async function createTestDatabase(
  backend: Backend,
  opts: { poolSize?: number } = {},
): Promise<DatabaseHandle & { url?: string }> {
  if (backend === 'pglite') return openDatabase({ kind: 'pglite-memory', loadDataDir: await pgliteTemplate() });
  const name = `sr_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const handle = await openDatabase({
    kind: 'postgres',
    url: url.toString(),
    allowWeakTls: false,
    poolSize: opts.poolSize ?? 5,
  });
  await migrateToLatest(handle.db as never);
  return {
    ...handle,
    url: url.toString(),
    async close() {
      await handle.close();
      const a = new pg.Client({ connectionString: PG_ADMIN_URL });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}
