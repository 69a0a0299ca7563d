/**
 * Backup use cases: targets, create, list (with what rotation keeps and why), verify (the restore
 * drill), prune, the recovery key, the shred ledger and the freshness status.
 *
 * - A backup row is `running` under a lease until its manifest is on the target, then `complete`;
 *   a crash leaves it `running` until the lease ends, then `failed` — never `complete`.
 * - The drill restores into a scratch PGlite in a private temporary directory, checks every
 *   table's count and checksum, verifies the audit chain up to the backup's head and opens the
 *   keyring with this installation's root key; its duration is the measured recovery time.
 * - Prune never deletes the newest verified backup (backups.rotation.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { Kysely } from 'kysely';
import { isBlobError, type BlobDriver } from '../../adapters/blob/driver.ts';
import { createBarrier, type Barrier } from '../../core/crypto/barrier.ts';
import { bindEncryptor } from '../../core/crypto/encryptor.ts';
import { AppError } from '../../core/errors.ts';
import { splitSecret } from '../../core/crypto/shamir.ts';
import { openDatabase } from '../../db/database.ts';
import type { Database } from '../../db/schema.ts';
import { driveFailure } from '../drives/index.ts';
import { createKeysService, type KeysService } from '../keys/index.ts';
import { createBackupSecret, ledgerMac } from '../keys/index.ts';
import { MANIFEST_KEY, OBJECT_KEY, newBackupId, type Manifest } from './backups.manifest.ts';
import { checkManifestMac, loadAndVerify, readManifest } from './backups.reader.ts';
import { planRotation } from './backups.rotation.ts';
import * as store from './backups.store.ts';
import { writeBackup } from './backups.writer.ts';
import { copyObjects, restoreCopies, verifyCopies, type ProgressLog } from './backups.objects.ts';
import * as objectsStore from './backups.objects.store.ts';

export interface BackupsDeps {
  db: Kysely<Database>;
  databaseKind: 'pglite' | 'postgres';
  barrier: Barrier;
  keys: KeysService;
  /** Opens a workspace's drive (the drives module). */
  openDrive: (workspaceId: string, drive: string) => Promise<BlobDriver>;
  /** Who holds leases (the lease holder's owner string: instance id, pid, boot id). */
  owner: string;
  /** True when a lease owner is certainly not running any more (a crashed predecessor). */
  isDeadOwner?: (owner: string | null) => boolean;
  /** Opens a task log (the tasks module's) for the object copy's progress. */
  openTaskLog?: (kind: string) => Promise<ProgressLog & { finish?(status: 'succeeded' | 'failed'): Promise<void> }>;
  now?: () => Date;
}

export const LEDGER_FOLDER = 'shred-ledger';
/** `<prefix>/installation.json`: which installation a target's backups and ledger belong to. */
export const OWNER_MARKER = 'installation.json';
const LEASE_MS = 10 * 60 * 1000;
const settingsKey = (barrier: Barrier, column: 'recovery_key_sealed' | 'ledger_key_sealed') =>
  bindEncryptor(barrier, { table: 'backup_settings', column });

export function createBackupsService(deps: BackupsDeps) {
  const { db, barrier, keys } = deps;
  const now = deps.now ?? (() => new Date());

  async function target(name?: string) {
    const all = await store.listTargets(db);
    const t = name ? all.find((x) => x.name === name) : all[0];
    if (!t)
      throw new AppError(name ? 'NOT_FOUND' : 'CONFLICT', {
        detail: name ? `No backup target ${name}.` : 'No backup target yet: add one (strongroom backup target add).',
      });
    return t;
  }

  async function openTarget(name?: string) {
    const t = await target(name);
    return { target: t, driver: await deps.openDrive(t.workspace_id, t.drive) };
  }

  /** The ledger key (created on first use), opened through the barrier. */
  async function ledgerKey(): Promise<Buffer> {
    const enc = settingsKey(barrier, 'ledger_key_sealed');
    const s = await store.readSettings(db);
    if (s.ledger_key_sealed) return enc.open(Buffer.from(s.ledger_key_sealed), '1');
    const key = createBackupSecret();
    await store.updateSettings(db, { ledger_key_sealed: enc.seal(key, '1') });
    return key;
  }

  async function recoveryKey(): Promise<Buffer | undefined> {
    const s = await store.readSettings(db);
    return s.recovery_key_sealed
      ? settingsKey(barrier, 'recovery_key_sealed').open(Buffer.from(s.recovery_key_sealed), '1')
      : undefined;
  }

  /** The one export of the recovery key: sealed here, handed out once by `give`. */
  async function newRecoveryKey<R>(trx: Kysely<Database>, give: (key: Buffer) => Promise<R>): Promise<R> {
    const s = await store.readSettings(trx);
    if (s.recovery_key_exported_at)
      throw new AppError('CONFLICT', { detail: 'The recovery key was already exported; it is never shown twice.' });
    const key = createBackupSecret();
    try {
      const out = await give(key);
      await store.updateSettings(trx, {
        recovery_key_sealed: settingsKey(barrier, 'recovery_key_sealed').seal(key, '1'),
        recovery_key_exported_at: now(),
      });
      return out;
    } finally {
      key.fill(0);
    }
  }

  const service = {
    listTargets: () => store.listTargets(db),

    async addTarget(t: { name: string; workspace: string; drive: string; prefix: string; copyObjects?: boolean }) {
      const driver = await deps.openDrive(t.workspace, t.drive);
      try {
        await driver.probe();
      } finally {
        await driver.close();
      }
      if (
        !(await store.insertTarget(db, {
          name: t.name,
          workspace_id: t.workspace,
          drive: t.drive,
          prefix: t.prefix,
          ...(t.copyObjects ? { copy_objects: true } : {}),
        }))
      )
        throw new AppError('CONFLICT', { detail: `A backup target named ${t.name} exists.` });
    },

    /** Turns the copy of dataset ciphertext objects to a target on or off. */
    async setCopyObjects(name: string, on: boolean, trx: Kysely<Database> = db) {
      if (!(await objectsStore.setCopyObjects(trx, name, on)))
        throw new AppError('NOT_FOUND', { detail: `No backup target ${name}.` });
    },

    /**
     * Copies the dataset objects a target does not hold yet (or whose source changed), with its
     * progress in a task log (`backup-objects`). Only for targets with `copy_objects` on.
     */
    async copyObjectsTo(t: { name: string; prefix: string }, targetDriver: BlobDriver) {
      const log = await deps.openTaskLog?.('backup-objects');
      await log?.write({ event: 'started', target: t.name });
      try {
        const counts = await copyObjects({ db, target: t, targetDriver, openDrive: deps.openDrive, log, now });
        await log?.write({ event: 'finished', ...counts });
        await log?.finish?.('succeeded');
        return counts;
      } catch (err) {
        await log?.write({ event: 'failed', error: (err as { code?: string }).code ?? 'INTERNAL' });
        await log?.finish?.('failed');
        throw err;
      }
    },

    /**
     * Puts back, from a target's copies, the dataset objects missing from their drives (`deep`:
     * or no longer hashing as copied), each checked against its recorded SHA-256; progress in a
     * task log (`backup-objects-restore`). After a restore, the restored database names the copies.
     */
    async restoreObjects(name: string, opts: { workspace?: string | undefined; deep?: boolean | undefined } = {}) {
      const { target: t, driver } = await openTarget(name);
      const log = await deps.openTaskLog?.('backup-objects-restore');
      await log?.write({ event: 'started', target: t.name, ...(opts.workspace ? { workspace: opts.workspace } : {}) });
      try {
        const counts = await restoreCopies({
          db,
          target: t,
          targetDriver: driver,
          openDrive: deps.openDrive,
          workspace: opts.workspace,
          deep: opts.deep,
          log,
        });
        await log?.write({ event: 'finished', ...counts });
        await log?.finish?.(counts.failed > 0 ? 'failed' : 'succeeded');
        return counts;
      } catch (err) {
        await log?.write({ event: 'failed', error: (err as { code?: string }).code ?? 'INTERNAL' });
        await log?.finish?.('failed');
        throw err;
      } finally {
        await driver.close();
      }
    },

    /** `trx`: the caller's transaction (on PGlite, the one connection it holds). */
    async removeTarget(name: string, trx: Kysely<Database> = db) {
      if (!(await store.deleteTarget(trx, name)))
        throw new AppError('NOT_FOUND', { detail: `No backup target ${name}.` });
    },

    /** Takes one backup now; resolves with the manifest once it is complete on the target. */
    async create(opts: { trigger?: Manifest['trigger']; target?: string } = {}): Promise<Manifest> {
      const { target: t, driver } = await openTarget(opts.target);
      const createdAt = now();
      const id = newBackupId(createdAt, randomBytes(4).toString('hex'));
      const lk = await ledgerKey(); // exists before the snapshot, so every backup carries it
      lk.fill(0);
      const rk = await recoveryKey();
      await store.insertRunning(db, {
        id,
        target: t.name,
        trigger: opts.trigger ?? 'manual',
        createdAt,
        lease: deps.owner,
        leaseUntil: new Date(createdAt.getTime() + LEASE_MS),
      });
      // Renewed while the snapshot streams (on PGlite the renewal waits for the snapshot's connection).
      const renew = setInterval(() => {
        store.renewLease(db, id, deps.owner, new Date(now().getTime() + LEASE_MS)).catch(() => undefined); // a hiccup: the lease still has two thirds of its time
      }, LEASE_MS / 3);
      renew.unref();
      try {
        // The objects first: the snapshot then records every copy this backup can rely on.
        const objects = t.copy_objects === true ? await service.copyObjectsTo(t, driver) : undefined;
        const manifest = await writeBackup({
          db,
          databaseKind: deps.databaseKind,
          keys,
          driver,
          folder: `${t.prefix}/${id}`,
          id,
          createdAt,
          trigger: opts.trigger ?? 'manual',
          recoveryKey: rk,
          ...(objects ? { objects } : {}),
        });
        await store.markComplete(db, id, manifest, manifest.object.size, manifest.object.sha256);
        await service.syncLedger().catch(() => undefined);
        return manifest;
      } catch (err) {
        clearInterval(renew);
        // A drive's failure (full, unreachable, refused) is its problem (507, 502, …), not a 500.
        const failure = isBlobError(err) ? driveFailure(err) : err;
        await store.markFailed(db, id, failure instanceof AppError ? failure.code : 'FAILED');
        await service.cleanup().catch(() => undefined);
        throw failure;
      } finally {
        clearInterval(renew);
        rk?.fill(0);
        await driver.close();
      }
    },

    async list() {
      await store.failExpired(db, now());
      const rows = await store.listBackups(db);
      const s = await store.readSettings(db);
      const complete = rows.filter((r) => r.state === 'complete');
      const keep = planRotation(
        complete.map((r) => ({ id: r.id, createdAt: new Date(r.created_at), verified: r.verify_ok === true })),
        { daily: s.keep_daily, weekly: s.keep_weekly, monthly: s.keep_monthly, maxAgeDays: s.max_age_days },
        now(),
      );
      return rows.map((r) => ({
        id: r.id,
        target: r.target,
        trigger: r.trigger,
        state: r.state,
        createdAt: new Date(r.created_at).toISOString(),
        ...(r.completed_at ? { completedAt: new Date(r.completed_at).toISOString() } : {}),
        ...(r.size !== null ? { size: Number(r.size) } : {}),
        ...(r.sha256 ? { sha256: r.sha256 } : {}),
        ...(r.error ? { error: r.error } : {}),
        ...(objectsOf(r.objects) ? { objects: objectsOf(r.objects) } : {}),
        verification: r.verified_at
          ? {
              at: new Date(r.verified_at).toISOString(),
              ok: r.verify_ok === true,
              ms: r.verify_ms ?? 0,
              ...(r.verify_error ? { error: r.verify_error } : {}),
            }
          : null,
        keptBecause: r.state === 'complete' ? (keep.get(r.id) ?? []) : [],
      }));
    },

    async show(id: string) {
      const row = await store.getBackup(db, id);
      if (!row || row.state === 'deleted') throw new AppError('NOT_FOUND', { detail: `No backup ${id}.` });
      return { id: row.id, state: row.state, manifest: row.manifest as Manifest | null };
    },

    /** The restore drill on one backup (default: the newest complete one). */
    async verify(id?: string) {
      const rows = (await store.listBackups(db)).filter((r) => r.state === 'complete');
      const row = id ? rows.find((r) => r.id === id) : rows[0];
      if (!row)
        throw new AppError('NOT_FOUND', { detail: id ? `No complete backup ${id}.` : 'No complete backup yet.' });
      const started = Date.now();
      const { target: t, driver } = await openTarget(row.target);
      const scratch = await mkdtemp(path.join(os.tmpdir(), 'strongroom-drill-'));
      try {
        const report = await drill({ driver, folder: `${t.prefix}/${row.id}` }, keys, scratch);
        // The recovery time is the database's; reading the object copies back is not part of it.
        const ms = Date.now() - started;
        // The target's copies of dataset objects: every one read back and hashed.
        const copies = await verifyCopies(db, t, driver);
        if (copies.mismatched > 0)
          throw new AppError('BACKUP_INVALID', {
            detail: `${copies.mismatched} of ${copies.checked} copied dataset objects on target ${t.name} do not match their recorded SHA-256: ${copies.bad.map((b) => `${b.version} (${b.problem})`).join('; ')}.`,
          });
        await store.markVerified(db, row.id, true, ms, null);
        return { id: row.id, ok: true, ms, ...report, objects: { checked: copies.checked, bytes: copies.bytes } };
      } catch (err) {
        const ms = Date.now() - started;
        const detail = err instanceof AppError ? (err.detail ?? err.code) : 'the drill failed';
        await store.markVerified(db, row.id, false, ms, detail.slice(0, 500));
        throw err;
      } finally {
        await driver.close();
        await rm(scratch, { recursive: true, force: true });
      }
    },

    /**
     * Deletes what rotation no longer keeps (object and manifest), each one returned for its audit
     * record; then the copies of deleted dataset versions that no kept backup is old enough to name.
     */
    async prune(): Promise<{ deleted: string[]; objectsRemoved: number }> {
      const list = await service.list();
      const deleted: string[] = [];
      for (const b of list) {
        if (b.state !== 'complete' || b.keptBecause.length > 0) continue;
        const { target: t, driver } = await openTarget(b.target);
        try {
          await driver.delete(`${t.prefix}/${b.id}/manifest.json`);
          await driver.delete(`${t.prefix}/${b.id}/data.sro`);
        } finally {
          await driver.close();
        }
        await store.markDeleted(db, b.id);
        deleted.push(b.id);
      }
      const kept = list.filter((b) => b.state === 'complete' && !deleted.includes(b.id));
      let objectsRemoved = 0;
      for (const t of await store.listTargets(db)) {
        const oldest = kept
          .filter((b) => b.target === t.name)
          .reduce<Date | null>((o, b) => (o && o <= new Date(b.createdAt) ? o : new Date(b.createdAt)), null);
        const gone = await objectsStore.goneCopies(db, t.name, oldest);
        if (gone.length === 0) continue;
        const driver = await deps.openDrive(t.workspace_id, t.drive);
        try {
          for (const c of gone) {
            await driver.delete(c.copy_key);
            await objectsStore.deleteCopy(db, t.name, c);
            objectsRemoved++;
          }
        } finally {
          await driver.close();
        }
      }
      return { deleted, objectsRemoved };
    },

    /** Freshness: the newest verified backup against the recovery objective. */
    async status(at: Date = now()) {
      const s = await store.readSettings(db);
      const rows = await store.listBackups(db);
      const targets = (await store.listTargets(db)).length;
      const newest = rows.find((r) => r.state === 'complete');
      const verified = rows.find((r) => r.state === 'complete' && r.verify_ok === true);
      const lastDrill = rows
        .filter((r) => r.verified_at)
        .sort((a, b) => +new Date(b.verified_at!) - +new Date(a.verified_at!))[0];
      const ageHours = verified ? (at.getTime() - new Date(verified.created_at).getTime()) / 3_600_000 : undefined;
      const drillFailed = lastDrill !== undefined && lastDrill.verify_ok === false;
      return {
        objectiveHours: s.objective_hours,
        ...(newest ? { newestBackup: new Date(newest.created_at).toISOString() } : {}),
        ...(verified ? { newestVerified: new Date(verified.created_at).toISOString() } : {}),
        ...(lastDrill
          ? {
              lastDrill: {
                id: lastDrill.id,
                ok: lastDrill.verify_ok === true,
                ms: lastDrill.verify_ms ?? 0,
                at: new Date(lastDrill.verified_at!).toISOString(),
                ...(lastDrill.verify_error ? { error: lastDrill.verify_error } : {}),
              },
            }
          : {}),
        stale: ageHours === undefined || ageHours > s.objective_hours,
        drillFailed,
        recoveryKeyExported: s.recovery_key_exported_at !== null,
        targets,
        scheduleHourUtc: s.schedule_hour_utc,
        drillWeekday: s.drill_weekday,
      };
    },

    /** Creates the recovery key and returns it ONCE; a second export is refused. */
    async exportRecoveryKey(trx: Kysely<Database> = db): Promise<{ recoveryKey: string }> {
      return newRecoveryKey(trx, async (key) => ({ recoveryKey: `srr_${key.toString('base64url')}` }));
    },

    /**
     * Creates the recovery key and returns it ONCE as Shamir shares (core/crypto/shamir.ts, the
     * same scheme as the root key's unseal shares): any `threshold` of them restore a backup.
     * The key itself is never shown; every backup's manifest carries its commitment, which
     * checks the shares' result at restore.
     */
    async exportRecoveryShares(
      trx: Kysely<Database>,
      split: { shares: number; threshold: number },
    ): Promise<{ shares: string[]; threshold: number }> {
      return newRecoveryKey(trx, async (key) => {
        const r = await splitSecret(key, split);
        return { shares: r.shares, threshold: split.threshold };
      });
    },

    /** Copies every destroyed workspace key into the ledger (MAC'd) and the ledger onto every target. */
    async syncLedger(): Promise<{ entries: number; written: number }> {
      const key = await ledgerKey();
      try {
        for (const d of await store.destroyedKeysMissingFromLedger(db)) {
          const destroyedAt = new Date(d.destroyed_at!);
          const mac = ledgerMac(key, {
            workspaceId: d.workspace_id,
            keyVersion: d.key_version,
            destroyedAt: destroyedAt.toISOString(),
          });
          await store.insertLedgerEntry(db, {
            workspace_id: d.workspace_id,
            key_version: d.key_version,
            destroyed_at: destroyedAt,
            mac,
          });
        }
      } finally {
        key.fill(0);
      }
      const entries = await store.ledgerEntries(db);
      const installationId = await store.installationId(db);
      let written = 0;
      for (const t of await store.listTargets(db)) {
        const driver = await deps.openDrive(t.workspace_id, t.drive);
        try {
          // The target's owner, written once: a restore from this prefix expects this installation.
          const marker = `${t.prefix}/${OWNER_MARKER}`;
          if (!(await driver.head(marker)))
            await driver.put(marker, Buffer.from(`${JSON.stringify({ installationId })}\n`), {
              contentType: 'application/json',
            });
          for (const e of entries) {
            const k = `${t.prefix}/${LEDGER_FOLDER}/${e.workspace_id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
            if (await driver.head(k)) continue;
            const body = {
              workspaceId: e.workspace_id,
              keyVersion: e.key_version,
              destroyedAt: new Date(e.destroyed_at).toISOString(),
              mac: e.mac,
            };
            await driver.put(k, Buffer.from(`${JSON.stringify(body)}\n`), { contentType: 'application/json' });
            written++;
          }
        } finally {
          await driver.close();
        }
      }
      return { entries: entries.length, written };
    },

    failExpired: () => store.failExpired(db, now()),

    /**
     * After a crash: a `running` backup whose lease expired or whose process is provably dead is
     * marked `failed`; then the objects of every failed backup (a partial `data.sro`, a driver's
     * temp file, a manifest) are deleted from its target, once (`deleted_at`). A live backup is
     * never touched. Deleting a missing object is not an error, so a retry is harmless.
     */
    async cleanup(): Promise<{ interrupted: number; cleaned: number; failed: number }> {
      let interrupted = 0;
      for (const r of await store.runningBackups(db)) {
        const expired = r.lease_expires_at !== null && new Date(r.lease_expires_at).getTime() < now().getTime();
        if ((expired || deps.isDeadOwner?.(r.lease_owner)) && (await store.failInterrupted(db, r.id, r.lease_owner)))
          interrupted++;
      }
      let cleaned = 0;
      let failed = 0;
      const targets = new Map((await store.listTargets(db)).map((t) => [t.name, t]));
      for (const r of await store.failedNotCleaned(db)) {
        const t = targets.get(r.target);
        if (!t) {
          await store.markCleaned(db, r.id); // its target is gone, and with it anything to remove
          continue;
        }
        try {
          const driver = await deps.openDrive(t.workspace_id, t.drive);
          try {
            await driver.delete(`${t.prefix}/${r.id}/${MANIFEST_KEY}`);
            await driver.delete(`${t.prefix}/${r.id}/${OBJECT_KEY}`);
          } finally {
            await driver.close();
          }
          await store.markCleaned(db, r.id);
          cleaned++;
        } catch {
          failed++; // the target is unreachable: the next run tries again
        }
      }
      return { interrupted, cleaned, failed };
    },
    db,
  };
  return service;
}

/**
 * Restores a backup into a scratch PGlite under `dir` and checks it: manifest MAC, every table's
 * rows and checksum, the audit chain up to the backup's head, the keyring opened with the root key.
 */
async function drill(src: { driver: BlobDriver; folder: string }, keys: KeysService, dir: string) {
  const manifest = await readManifest(src);
  const dek = keys.unwrapBackupKey(manifest.id, Buffer.from(manifest.keys.root, 'base64'));
  try {
    checkManifestMac(manifest, dek);
    const scratch = await openDatabase({ kind: 'pglite', dataDir: path.join(dir, 'db') });
    try {
      const loaded = await loadAndVerify(src, manifest, dek, scratch.db, path.join(dir, 'logs'), () => undefined);
      const scratchKeys = createKeysService({
        db: scratch.db,
        barrier: createBarrier(),
        provider: keys.provider,
        logger: pino({ level: 'silent' }),
      });
      if (!(await scratchKeys.autoUnseal()))
        throw new AppError('BACKUP_INVALID', {
          detail: 'The root key provider gave no key to open the backup keyring.',
        });
      return { tables: loaded.tables, rows: loaded.rows, auditHead: manifest.auditHead };
    } finally {
      await scratch.close();
    }
  } finally {
    dek.fill(0);
  }
}

/** The object-copy counts a backup's manifest carries (jsonb: an object, or text on some drivers). */
function objectsOf(v: unknown): Manifest['objects'] {
  const o = typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
  return o && typeof o === 'object' ? (o as Manifest['objects']) : undefined;
}

export type BackupsService = ReturnType<typeof createBackupsService>;
