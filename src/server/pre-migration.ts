/**
 * The backup before a schema migration: a server that starts with pending migrations (on an
 * installation that already has a schema) takes a backup to its first backup target BEFORE it
 * migrates, and does not migrate when that backup fails.
 *
 * - On by default (STRONGROOM_PRE_MIGRATION_BACKUP=on) whenever a backup target exists. Skipped,
 *   with the reason logged, when there is no target (or the backups tables are not there yet), or
 *   when the operator turned it off — the override is logged here and audited once the server is
 *   up (`system.migration.backup`, outcome and reason in the details).
 * - The backup needs the keyring open: a file or HSM root key opens it at start; a Shamir
 *   installation is sealed until its operators unseal it, so its start refuses to migrate and
 *   says how to proceed (back up first, or start once with the override).
 * - It runs this build's code against the OLD schema through the same modules the server uses
 *   (keys, vault, drives, backups), built on a private barrier that is sealed (wiped) afterwards.
 */
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { createEgressGuardFromConfig } from '../adapters/net/egress-guard.ts';
import { createBarrier } from '../core/crypto/barrier.ts';
import { AppError } from '../core/errors.ts';
import type { Config } from '../core/config.ts';
import type { DatabaseHandle } from '../db/database.ts';
import { migrationStatus } from '../db/migrate.ts';
import { rootKeyProviderFor } from '../installation/root-key.ts';
import { createBackupsService } from '../modules/backups/index.ts';
import { createDrivesService } from '../modules/drives/index.ts';
import { createKeysService } from '../modules/keys/index.ts';
import { createVaultService } from '../modules/vault/index.ts';

export type PreMigrationOutcome =
  | { kind: 'none' }
  | { kind: 'taken'; pending: string[]; backupId: string; target: string }
  | { kind: 'skipped'; pending: string[]; reason: string; override: boolean };

const OVERRIDE_HINT = 'start once with STRONGROOM_PRE_MIGRATION_BACKUP=off to migrate without a backup (audited)';

async function hasTarget(db: Kysely<unknown>): Promise<boolean> {
  try {
    const rows = await (db as Kysely<{ backup_targets: { name: string } }>)
      .selectFrom('backup_targets')
      .select('name')
      .limit(1)
      .execute();
    return rows.length > 0;
  } catch {
    return false; // the backups tables are themselves among the pending migrations
  }
}

export async function backupBeforeMigrating(
  config: Readonly<Config>,
  database: DatabaseHandle,
  logger: Logger,
  owner: string,
): Promise<PreMigrationOutcome> {
  const status = await migrationStatus(database.db as Kysely<unknown>);
  if (status.pending.length === 0 || status.applied === 0) return { kind: 'none' };
  const pending = status.pending;
  const skip = (reason: string, override: boolean): PreMigrationOutcome => {
    logger.warn({ pending, reason }, 'pre-migration backup skipped');
    return { kind: 'skipped', pending, reason, override };
  };
  if (config.STRONGROOM_PRE_MIGRATION_BACKUP === 'off')
    return skip('turned off by the operator (STRONGROOM_PRE_MIGRATION_BACKUP=off)', true);
  if (!(await hasTarget(database.db as Kysely<unknown>)))
    return skip('no backup target (add one with strongroom backup target add)', false);

  const barrier = createBarrier();
  const keys = createKeysService({ db: database.db, barrier, provider: rootKeyProviderFor(config), logger });
  try {
    if (!(await keys.autoUnseal()))
      throw new Error(
        `${pending.length} migration(s) pending and the keyring is sealed (root key provider ${keys.provider.kind}), so no backup can be taken before migrating; the database was NOT migrated. Take a backup with the previous version, then ${OVERRIDE_HINT}.`,
      );
    const vault = createVaultService({ db: database.db, barrier });
    const drives = createDrivesService({
      db: database.db,
      vault,
      guard: createEgressGuardFromConfig(config),
      localRoot: config.STRONGROOM_LOCAL_DRIVE_ROOT ?? path.join(config.STRONGROOM_HOME, 'drives'),
    });
    const backups = createBackupsService({
      db: database.db,
      databaseKind: database.kind,
      barrier,
      keys,
      openDrive: (workspaceId, name) => drives.open(workspaceId, name),
      owner,
    });
    logger.info({ pending }, 'pre-migration backup: taking a backup before migrating');
    try {
      const m = await backups.create({ trigger: 'pre-migration' });
      const target = (await backups.listTargets())[0]!.name;
      logger.info({ pending, backupId: m.id, target, size: m.object.size }, 'pre-migration backup complete');
      return { kind: 'taken', pending, backupId: m.id, target };
    } catch (err) {
      const detail = err instanceof AppError ? (err.detail ?? err.code) : (err as Error).message;
      throw new Error(
        `the backup before migrating (${pending.join(', ')}) failed: ${detail} — the database was NOT migrated. Fix the backup target, or ${OVERRIDE_HINT}.`,
        { cause: err },
      );
    }
  } finally {
    keys.seal();
  }
}
