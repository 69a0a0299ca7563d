/**
 * The incremental copy of dataset ciphertext objects to a backup target (issue 20), for targets
 * with `copy_objects` on. Run by the backup job (scheduled and on demand) before the snapshot, so
 * the snapshot's `backup_object_copies` rows name every copy the backup can rely on.
 *
 * - Ciphertext only: an object's bytes go from its drive to `<prefix>/objects/<ws>/<object id>.sro`
 *   on the target unchanged. Its data key stays wrapped by the workspace key in the database (and
 *   so in the backup); destroying the workspace key leaves the copy as unreadable as the original.
 * - Streaming: one object at a time, drive to target through a hashing pass-through; memory is
 *   bounded by the stream buffers, never by an object's size.
 * - Verified: the SHA-256 of the ciphertext is measured while copying, then the copy is read back
 *   from the target and must give the same size and SHA-256 before its row is recorded.
 * - Incremental: a version with a row whose source (drive, key, object id, size, the driver's
 *   version tag) still matches is not read again. A changed source is copied again.
 * - Restore (`restoreCopies`): a version whose object is missing from its drive (or, with `deep`,
 *   whose ciphertext no longer hashes as recorded) is put back from the target: the copy is hashed
 *   first, streamed to the version's drive and key, and read back there; all three must give the
 *   recorded SHA-256. The database (a restored backup's, too) says which versions and keys.
 * - Versions no longer committed are marked gone and removed by prune once no kept backup is older
 *   than their deletion; copies of a shredded workspace are removed at once.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import type { BlobDriver } from '../../adapters/blob/driver.ts';
import { isBlobError } from '../../adapters/blob/driver.ts';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import * as store from './backups.objects.store.ts';

/** Where a run reports its progress (a task log; counts and ids only). */
export interface ProgressLog {
  write(entry: Record<string, unknown>): Promise<void>;
  progress?(p: Record<string, number>): void;
}

export interface ObjectCopyCounts {
  /** Committed versions of live workspaces considered. */
  total: number;
  /** Copied in this run (new or changed). */
  copied: number;
  /** Ciphertext bytes copied in this run. */
  bytes: number;
  /** Already on the target and unchanged: not read. */
  unchanged: number;
  /** Sources missing or not the size the database records: not copied (listed in the task log). */
  skipped: number;
  /** Copies marked gone (their version was deleted) in this run. */
  gone: number;
  /** Copies removed in this run (shredded workspaces). */
  removed: number;
}

export interface CopyTarget {
  name: string;
  prefix: string;
}

/** Counts and hashes the bytes that pass. */
export class HashMeter extends Transform {
  size = 0;
  readonly hash = createHash('sha256');
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void) {
    this.size += chunk.length;
    this.hash.update(chunk);
    cb(null, chunk);
  }
}

/** Size and SHA-256 of an object as the driver reads it back (streamed, nothing kept). */
export async function measure(driver: BlobDriver, key: string): Promise<{ size: number; sha256: string }> {
  const got = await driver.get(key);
  const meter = new HashMeter();
  meter.resume();
  await pipeline(got.body, meter);
  return { size: meter.size, sha256: meter.hash.digest('hex') };
}

/** The source drives one run opens, each once (by workspace and drive name), closed together. */
function sourceDrives(open: (workspaceId: string, drive: string) => Promise<BlobDriver>) {
  const drives = new Map<string, BlobDriver>();
  return {
    async source(workspaceId: string, drive: string): Promise<BlobDriver> {
      const k = `${workspaceId}\u0000${drive}`;
      let d = drives.get(k);
      if (!d) drives.set(k, (d = await open(workspaceId, drive)));
      return d;
    },
    async closeAll(): Promise<void> {
      for (const d of drives.values()) await d.close().catch(() => undefined);
    },
  };
}

const copyKeyOf = (prefix: string, workspaceId: string, objectId: string) =>
  `${prefix}/objects/${workspaceId}/${objectId}.sro`;
const label = (v: store.VersionRef) => `${v.workspace_id}/${v.dataset} v${v.version}`;

export async function copyObjects(input: {
  db: Kysely<Database>;
  target: CopyTarget;
  /** The target's driver (open for the whole run). */
  targetDriver: BlobDriver;
  openDrive: (workspaceId: string, drive: string) => Promise<BlobDriver>;
  log?: ProgressLog | undefined;
  now: () => Date;
}): Promise<ObjectCopyCounts> {
  const { db, target, targetDriver, log } = input;
  const counts: ObjectCopyCounts = { total: 0, copied: 0, bytes: 0, unchanged: 0, skipped: 0, gone: 0, removed: 0 };
  const { source, closeAll } = sourceDrives(input.openDrive);
  const report = () => log?.progress?.({ ...counts });
  try {
    let after: store.VersionRef | null = null;
    for (;;) {
      const page = await store.candidatesPage(db, target.name, after);
      if (page.length === 0) break;
      for (const v of page) {
        counts.total++;
        const storedSize = Number(v.stored_size);
        const src = await source(v.workspace_id, v.drive);
        const head = await src.head(v.object_key);
        if (!head || head.size !== storedSize) {
          counts.skipped++;
          await log?.write({
            event: 'skipped',
            version: label(v),
            reason: head
              ? `the object is ${head.size} bytes, the database records ${storedSize}`
              : 'missing on its drive',
          });
          continue;
        }
        const etag = head.etag ?? null;
        const sameSource =
          v.copy_object_id === v.object_id &&
          v.copy_drive === v.drive &&
          v.copy_source_key === v.object_key &&
          Number(v.copy_size) === storedSize &&
          v.copy_gone_at === null;
        if (sameSource && v.copy_etag === etag) {
          counts.unchanged++;
          continue;
        }
        const copyKey = copyKeyOf(target.prefix, v.workspace_id, v.object_id);
        const copied = await copyOne(src, v.object_key, targetDriver, copyKey);
        await store.recordCopy(db, {
          target: target.name,
          workspace_id: v.workspace_id,
          dataset: v.dataset,
          version: v.version,
          object_id: v.object_id,
          source_drive: v.drive,
          source_key: v.object_key,
          source_etag: etag,
          size: copied.size,
          sha256: copied.sha256,
          copy_key: copyKey,
          copied_at: input.now(),
        });
        counts.copied++;
        counts.bytes += copied.size;
        await log?.write({
          event: sameSource ? 'recopied' : 'copied',
          version: label(v),
          size: copied.size,
          sha256: copied.sha256,
        });
        report();
      }
      const last = page[page.length - 1]!;
      after = { workspace_id: last.workspace_id, dataset: last.dataset, version: last.version };
    }
    counts.gone = await store.markGone(db, target.name, input.now());
    for (const c of await store.shreddedCopies(db, target.name)) {
      await targetDriver.delete(c.copy_key);
      await store.deleteCopy(db, target.name, c);
      counts.removed++;
      await log?.write({ event: 'removed', version: label(c), reason: 'workspace key destroyed' });
    }
    report();
    return counts;
  } finally {
    await closeAll();
  }
}

/** Streams one object from `src` to `dst`, hashing it; then reads it back from `dst` and compares. */
async function copyOne(src: BlobDriver, key: string, dst: BlobDriver, copyKey: string) {
  const got = await src.get(key);
  const meter = new HashMeter();
  const upload = dst
    .put(copyKey, meter, { contentLength: got.size, contentType: 'application/octet-stream' })
    .catch((err: unknown) => {
      meter.destroy(err as Error);
      throw err;
    });
  await Promise.all([pipeline(got.body, meter), upload]);
  const sha256 = meter.hash.digest('hex');
  const back = await measure(dst, copyKey);
  if (back.size !== meter.size || back.sha256 !== sha256)
    throw new AppError('BACKUP_INVALID', {
      detail: `The copy of ${key} reads back as ${back.size} bytes with another SHA-256 than the ${meter.size} bytes sent.`,
    });
  return { size: meter.size, sha256 };
}

/**
 * Reads every copy a target records and compares its size and SHA-256 with the record. Returns
 * the counts; the first 20 mismatches are named. A mismatched copy is deleted with its record,
 * so the next backup copies that version again.
 */
export async function verifyCopies(db: Kysely<Database>, target: CopyTarget, driver: BlobDriver) {
  let checked = 0;
  let bytes = 0;
  let mismatched = 0;
  const bad: { version: string; problem: string }[] = [];
  let after: store.VersionRef | null = null;
  for (;;) {
    const page = await store.copiesPage(db, target.name, after);
    if (page.length === 0) break;
    for (const c of page) {
      checked++;
      let problem: string | undefined;
      try {
        const m = await measure(driver, c.copy_key);
        bytes += m.size;
        if (m.size !== Number(c.size)) problem = `${m.size} bytes, recorded ${Number(c.size)}`;
        else if (m.sha256 !== c.sha256) problem = 'its SHA-256 differs from the one recorded when it was copied';
      } catch (err) {
        if (!isBlobError(err, 'NOT_FOUND')) throw err;
        problem = 'missing on the target';
      }
      if (problem) {
        // The bad copy and its record go: the next backup copies the version again (a version
        // still committed), and a deleted version's copy is not kept damaged.
        await driver.delete(c.copy_key);
        await store.deleteCopy(db, target.name, c);
        mismatched++;
        if (bad.length < 20) bad.push({ version: label(c), problem });
      }
    }
    const last = page[page.length - 1]!;
    after = { workspace_id: last.workspace_id, dataset: last.dataset, version: last.version };
  }
  return { checked, bytes, mismatched, bad };
}

export interface RestoreCounts {
  /** Copies considered (committed versions of live workspaces). */
  checked: number;
  /** Sources present and sound: left alone. */
  present: number;
  /** Put back from the target. */
  restored: number;
  bytes: number;
  /** Copies that did not hash as recorded (named in the task log): not put back. */
  failed: number;
}

export async function restoreCopies(input: {
  db: Kysely<Database>;
  target: CopyTarget;
  targetDriver: BlobDriver;
  openDrive: (workspaceId: string, drive: string) => Promise<BlobDriver>;
  workspace?: string | undefined;
  /** Hash every present source too (reads all of it), not only its size. */
  deep?: boolean | undefined;
  log?: ProgressLog | undefined;
}): Promise<RestoreCounts> {
  const { db, target, targetDriver, log } = input;
  const counts: RestoreCounts = { checked: 0, present: 0, restored: 0, bytes: 0, failed: 0 };
  const { source, closeAll } = sourceDrives(input.openDrive);
  try {
    let after: store.VersionRef | null = null;
    for (;;) {
      const page = await store.restorablePage(db, target.name, after, input.workspace);
      if (page.length === 0) break;
      for (const c of page) {
        counts.checked++;
        const size = Number(c.size);
        const src = await source(c.workspace_id, c.drive);
        const head = await src.head(c.object_key);
        const sound =
          head !== null &&
          head.size === size &&
          (!input.deep || (await measure(src, c.object_key)).sha256 === c.sha256);
        if (sound) {
          counts.present++;
          continue;
        }
        const copy = await measure(targetDriver, c.copy_key).catch((err: unknown) => {
          if (isBlobError(err, 'NOT_FOUND')) return null;
          throw err;
        });
        if (!copy || copy.size !== size || copy.sha256 !== c.sha256) {
          counts.failed++;
          await log?.write({
            event: 'failed',
            version: label(c),
            reason: copy ? 'the copy does not match its recorded SHA-256' : 'the copy is missing on the target',
          });
          continue;
        }
        const put = await copyOne(targetDriver, c.copy_key, src, c.object_key);
        if (put.sha256 !== c.sha256) {
          counts.failed++;
          await log?.write({ event: 'failed', version: label(c), reason: 'the copy changed while it was read' });
          continue;
        }
        counts.restored++;
        counts.bytes += put.size;
        await log?.write({ event: 'restored', version: label(c), size: put.size, sha256: put.sha256 });
        log?.progress?.({ ...counts });
      }
      const last = page[page.length - 1]!;
      after = { workspace_id: last.workspace_id, dataset: last.dataset, version: last.version };
    }
    return counts;
  } finally {
    await closeAll();
  }
}
