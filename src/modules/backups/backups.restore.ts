/**
 * Restore: a backup into an EMPTY installation (a new data directory with PGlite, or an empty
 * PostgreSQL database), with the old root key file or the recovery key.
 *
 * - `<home>/RESTORE-IN-PROGRESS` is written first and removed last; `strongroom serve` refuses a
 *   data directory that has it. A restore killed at any point is unusable-and-said-so, never
 *   half-restored-and-serving; the rows themselves load in one transaction. Restoring again into
 *   the same (PGlite) directory first removes what the killed one left (only the files a restore
 *   creates), so the outcome is all or nothing: the old state (no installation) or the new one.
 * - With the recovery key, the keyring carried in the manifest is sealed under a NEW root key
 *   (a file in the new data directory); the old root key is not needed.
 * - Before anything can serve, every shred-ledger entry (the target's and the backup's own) is
 *   re-applied: a workspace key destroyed after the backup was taken stays destroyed, and that
 *   workspace's vault values (barrier-sealed, not under its key) are destroyed too. An entry
 *   whose MAC does not verify stops the restore (it could be a forged or damaged ledger).
 * - The restored audit trail is verified (hash chain, signed checkpoints, head) right after the
 *   load: a broken chain refuses the restore (BACKUP_INVALID) and a PGlite data directory loses
 *   everything the restore wrote; a PostgreSQL target keeps the marker (recreate the database).
 * - The restored trail continues with a `system.backup.restored` event naming the backup.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { sql } from 'kysely';
import type { BlobDriver } from '../../adapters/blob/driver.ts';
import { createRootKeyProvider } from '../../adapters/keys/index.ts';
import { createBarrier } from '../../core/crypto/barrier.ts';
import { bindEncryptor } from '../../core/crypto/encryptor.ts';
import { combineShares } from '../../core/crypto/shamir.ts';
import { AppError } from '../../core/errors.ts';
import { openDatabase, type DatabaseSpec } from '../../db/database.ts';
import { createAuditModule } from '../audit/index.ts';
import { createKeysService } from '../keys/index.ts';
import { ledgerMac, macEquals, resealKeyringBlob, unwrapBackupKey } from '../keys/index.ts';
import type { Manifest } from './backups.manifest.ts';
import { checkManifestMac, loadAndVerify, readManifest, type BackupSource } from './backups.reader.ts';
import { restorePhases as phases } from './backups.phases.ts';
import * as store from './backups.store.ts';
import { OWNER_MARKER } from './backups.service.ts';

export const RESTORE_MARKER = 'RESTORE-IN-PROGRESS';

export interface RestoreInput {
  source: BackupSource;
  /** Where the target's shred ledger lives (`<prefix>/shred-ledger`), when reachable. */
  ledger?: { driver: BlobDriver; folder: string } | undefined;
  home: string;
  /** An empty PostgreSQL database; absent: PGlite in `<home>/db`. */
  databaseUrl?: string | undefined;
  /** The old root key file, the recovery key (`srr_…`) or at least a threshold of its Shamir shares. */
  key: { rootKeyFile: string } | { recoveryKey: string } | { recoveryShares: string[] };
  /**
   * The installation this restore is for: a backup whose manifest names another one is refused
   * (BACKUP_FOREIGN) unless `allowForeignInstallation`. Absent: the installation named by the
   * target's owner marker (`<prefix>/installation.json`, next to the ledger), when there is one.
   */
  expectInstallationId?: string | undefined;
  /** Restore a backup made by another installation (`--allow-foreign-installation`); audited. */
  allowForeignInstallation?: boolean | undefined;
  /** Who restores (the audit actor). */
  actor?: string;
}

export interface RestoreReport {
  backupId: string;
  installationId: string;
  /** The backup was made by another installation than the one expected (allowed by the flag). */
  foreignInstallation: boolean;
  createdAt: string;
  tables: number;
  rows: number;
  auditHead: Manifest['auditHead'];
  shredsApplied: string[];
}

const invalid = (detail: string) => new AppError('BACKUP_INVALID', { detail });

function parseRecoveryKey(text: string): Buffer {
  const m = /^srr_([A-Za-z0-9_-]{43})$/.exec(text.trim());
  if (!m) throw new AppError('VALIDATION_FAILED', { detail: 'That is not a Strongroom recovery key (srr_…).' });
  return Buffer.from(m[1]!, 'base64url');
}

interface LedgerEntry {
  workspaceId: string;
  keyVersion: number;
  destroyedAt: string;
  mac: string | null;
}

async function readTargetLedger(ledger: RestoreInput['ledger']): Promise<LedgerEntry[]> {
  if (!ledger) return [];
  const out: LedgerEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await ledger.driver.list(ledger.folder ? `${ledger.folder}/` : '', cursor ? { cursor } : {});
    for (const item of page.items) {
      if (!item.key.endsWith('.json')) continue;
      const got = await ledger.driver.get(item.key);
      const parts: Buffer[] = [];
      for await (const c of got.body) parts.push(c as Buffer);
      try {
        out.push(JSON.parse(Buffer.concat(parts).toString('utf8')) as LedgerEntry);
      } catch {
        throw invalid(`The shred-ledger entry ${item.key} is not valid JSON.`);
      }
    }
    cursor = page.cursor;
  } while (cursor);
  return out;
}

/** The installation named by the target's owner marker next to the ledger folder, if any. */
async function targetOwner(ledger: RestoreInput['ledger']): Promise<string | undefined> {
  if (!ledger) return undefined;
  const base = ledger.folder.split('/').slice(0, -1).join('/');
  const key = base ? `${base}/${OWNER_MARKER}` : OWNER_MARKER;
  if (!(await ledger.driver.head(key))) return undefined;
  const got = await ledger.driver.get(key);
  const parts: Buffer[] = [];
  for await (const c of got.body) parts.push(c as Buffer);
  try {
    const id = (JSON.parse(Buffer.concat(parts).toString('utf8')) as { installationId?: unknown }).installationId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    throw invalid(`The target's owner marker ${key} is not valid JSON.`);
  }
}

export async function restoreInstallation(input: RestoreInput): Promise<RestoreReport> {
  const { home } = input;
  phases.reset();
  const started = performance.now();
  const manifest = await readManifest(input.source);
  // Another installation's backup: refused before any key is used, unless explicitly allowed.
  const owner = await targetOwner(input.ledger);
  const expected = input.expectInstallationId ?? owner;
  const foreign = expected !== undefined && expected !== manifest.installationId;
  if (foreign && !input.allowForeignInstallation)
    throw new AppError('BACKUP_FOREIGN', {
      detail: `Backup ${manifest.id} was made by installation ${manifest.installationId}, not ${expected}; restore it only if you mean to, with --allow-foreign-installation.`,
      meta: { backupInstallation: manifest.installationId, expectedInstallation: expected },
    });
  // The target's ledger is its owner's: a foreign backup carries its own ledger (in its rows).
  const ledger = owner !== undefined && owner !== manifest.installationId ? undefined : input.ledger;
  let dek: Buffer;
  let rootKey: Buffer | undefined;
  let recovery: Buffer | undefined;
  try {
    if ('rootKeyFile' in input.key) {
      rootKey = await readFile(input.key.rootKeyFile);
      if (rootKey.length !== 32)
        throw new AppError('VALIDATION_FAILED', { detail: 'The root key file must hold 32 bytes.' });
      dek = unwrapBackupKey(rootKey, 'root', manifest.id, Buffer.from(manifest.keys.root, 'base64'));
    } else {
      if ('recoveryShares' in input.key) {
        if (!manifest.keys.recoveryCommitment)
          throw invalid('This backup was taken before the recovery key existed: restore it with the root key.');
        recovery = await combineShares(input.key.recoveryShares, Buffer.from(manifest.keys.recoveryCommitment, 'hex'));
      } else recovery = parseRecoveryKey(input.key.recoveryKey);
      if (!manifest.keys.recovery || !manifest.keys.keyringRecovery)
        throw invalid('This backup was taken before the recovery key existed: restore it with the root key.');
      dek = unwrapBackupKey(recovery, 'recovery', manifest.id, Buffer.from(manifest.keys.recovery, 'base64'));
    }
  } catch (err) {
    if (err instanceof AppError && err.code !== 'DECRYPTION_FAILED') throw err;
    throw invalid('That key does not open this backup (wrong key, or the manifest was altered).');
  }
  checkManifestMac(manifest, dek);

  // A restore that was killed (its marker still there) left only files a restore creates: they
  // go, and this restore starts over. A PostgreSQL target it began to fill must be recreated.
  if (existsSync(path.join(home, RESTORE_MARKER))) {
    if (input.databaseUrl)
      throw new AppError('CONFLICT', {
        detail: `An earlier restore into ${home} did not finish: drop and recreate the PostgreSQL database, remove ${path.join(home, RESTORE_MARKER)}, then restore again.`,
      });
    await discardFailedRestore(home);
  }
  if (existsSync(path.join(home, 'db')) || existsSync(path.join(home, 'root.key')))
    throw new AppError('CONFLICT', {
      detail: `${home} already holds an installation: restore into a new data directory.`,
    });
  await mkdir(home, { recursive: true, mode: 0o700 });
  await writeFile(path.join(home, RESTORE_MARKER), `restore of ${manifest.id} started ${new Date().toISOString()}\n`, {
    mode: 0o600,
  });
  const spec: DatabaseSpec = input.databaseUrl
    ? { kind: 'postgres', url: input.databaseUrl, allowWeakTls: false, poolSize: 2 }
    : { kind: 'pglite', dataDir: path.join(home, 'db') };
  const database = await openDatabase(spec);
  let chainRefused = false;
  try {
    const existing = await sql<{ n: string | number }>`select count(*) as n from information_schema.tables
      where table_schema = current_schema()`.execute(database.db);
    if (Number(existing.rows[0]?.n ?? 0) > 0)
      throw new AppError('CONFLICT', { detail: 'The target database is not empty.' });
    phases.add('open', performance.now() - started);
    // The rows, their checksums and the restored trail (chain, signed checkpoints, head) must all
    // verify before anything else is written: a backup whose audit rows were altered before it
    // was taken is refused.
    let loaded: Awaited<ReturnType<typeof loadAndVerify>>;
    try {
      loaded = await loadAndVerify(input.source, manifest, dek, database.db, path.join(home, 'logs'), () => {
        chainRefused = true;
      });
    } catch (err) {
      if (chainRefused && input.databaseUrl && err instanceof AppError)
        throw new AppError('BACKUP_INVALID', {
          detail: `${err.detail ?? err.message} The PostgreSQL database stays unusable (${RESTORE_MARKER} is kept in ${home}): drop and recreate it before another restore.`,
        });
      throw err;
    }
    const afterChecks = performance.now();

    // The root key of the restored installation.
    const keyFile = path.join(home, 'root.key');
    if (rootKey) {
      await writeFile(keyFile, rootKey, { mode: 0o600, flag: 'wx' });
    } else {
      const { rootKey: fresh } = await createRootKeyProvider({ kind: 'file', dataDir: home }).initialize();
      try {
        const blob = resealKeyringBlob(Buffer.from(manifest.keys.keyringRecovery!, 'base64'), recovery!, fresh);
        await database.db.updateTable('keyring').set({ blob, root_key_id: 'file' }).where('id', '=', 1).execute();
      } finally {
        fresh.fill(0);
      }
    }
    const barrier = createBarrier();
    const keys = createKeysService({
      db: database.db,
      barrier,
      provider: createRootKeyProvider({ kind: 'file', dataDir: home }),
      logger: pino({ level: 'silent' }),
    });
    if (!(await keys.autoUnseal())) throw invalid('The restored keyring did not open.');

    // Re-apply every crypto-shredding the target knows of, before anything can serve.
    const settings = await store.readSettings(database.db);
    const own = (await store.ledgerEntries(database.db)).map((e) => ({
      workspaceId: e.workspace_id,
      keyVersion: e.key_version,
      destroyedAt: new Date(e.destroyed_at).toISOString(),
      mac: e.mac,
    }));
    const entries = [...own, ...(await readTargetLedger(ledger))];
    const shredsApplied: string[] = [];
    if (entries.length > 0) {
      if (!settings.ledger_key_sealed) throw invalid('The backup has no shred-ledger key to check the ledger with.');
      const ledgerKey = bindEncryptor(barrier, { table: 'backup_settings', column: 'ledger_key_sealed' }).open(
        Buffer.from(settings.ledger_key_sealed),
        '1',
      );
      try {
        for (const e of entries) {
          const want = ledgerMac(ledgerKey, {
            workspaceId: e.workspaceId,
            keyVersion: e.keyVersion,
            destroyedAt: e.destroyedAt,
          });
          if (!e.mac || !macEquals(e.mac, want))
            throw invalid(
              `The shred-ledger entry for workspace ${e.workspaceId} does not verify; refusing to restore.`,
            );
          const destroyedAt = new Date(e.destroyedAt);
          const keyShredded = await store.applyShred(database.db, e.workspaceId, destroyedAt);
          const secrets = await store.destroyWorkspaceSecrets(database.db, e.workspaceId, destroyedAt);
          if (keyShredded || secrets > 0) shredsApplied.push(e.workspaceId);
          await store.insertLedgerEntry(database.db, {
            workspace_id: e.workspaceId,
            key_version: e.keyVersion,
            destroyed_at: destroyedAt,
            mac: e.mac,
          });
        }
      } finally {
        ledgerKey.fill(0);
      }
    }
    // Backups that were running when the snapshot was taken did not finish there.
    await database.db
      .updateTable('backups')
      .set({ state: 'failed', error: 'running when this backup was taken' })
      .where('state', '=', 'running')
      .execute();

    const audit = createAuditModule({ db: database.db, barrier, logDir: path.join(home, 'logs') });
    await database.db.transaction().execute((trx) =>
      audit.record(trx, {
        actor: { id: input.actor ?? `os:${os.userInfo().username}`, kind: 'operator', authMethod: 'data-directory' },
        action: 'system.backup.restored',
        resource: { type: 'backup', id: manifest.id },
        outcome: 'success',
        details: {
          backupCreatedAt: manifest.createdAt,
          auditHeadSeq: manifest.auditHead?.seq ?? 0,
          shredsApplied: shredsApplied.length,
          keyUsed: rootKey ? 'root' : 'recovery',
          installationId: manifest.installationId,
          ...(foreign ? { foreignInstallation: true, expectedInstallation: expected! } : {}),
        },
      }),
    );
    await audit.chainPending();
    keys.seal();
    await unlink(path.join(home, RESTORE_MARKER));
    phases.add('keyring+ledger+event', performance.now() - afterChecks);
    phases.add('total', performance.now() - started);
    return {
      backupId: manifest.id,
      installationId: manifest.installationId,
      foreignInstallation: foreign,
      createdAt: manifest.createdAt,
      tables: loaded.tables,
      rows: loaded.rows,
      auditHead: manifest.auditHead,
      shredsApplied,
    };
  } finally {
    rootKey?.fill(0);
    recovery?.fill(0);
    dek.fill(0);
    await database.close();
    // Refused for its audit chain: nothing of it stays usable. A new data directory loses what
    // this restore wrote; a PostgreSQL target keeps the marker (serve refuses it) to be recreated.
    if (chainRefused && !input.databaseUrl) await discardFailedRestore(home);
  }
}

/** Removes what a failed restore left in a new data directory (only files a restore creates). */
export async function discardFailedRestore(home: string): Promise<void> {
  if (!existsSync(path.join(home, RESTORE_MARKER))) return;
  for (const name of await readdir(home)) {
    if (['db', 'root.key', 'logs', RESTORE_MARKER, 'db.lock'].includes(name))
      await rm(path.join(home, name), { recursive: true, force: true });
  }
}
