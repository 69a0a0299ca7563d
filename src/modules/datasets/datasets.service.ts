/**
 * Encrypted datasets (C8): versions, ranged download, deletion, and the cleanup of what crashed
 * uploads and deletions left. The streamed upload is its own use case (`datasets.upload.ts`);
 * resumable sessions are `datasets.uploads.ts`. All SQL is in `datasets.store.ts`.
 *
 * Guarantees:
 * - Only `committed` versions are listed or served; an `uploading` row is removed by the upload
 *   that failed or, after a crash, by `cleanup` once its lease is free (object first, then row),
 *   so nothing partial is ever visible. A live upload is never swept.
 * - Each object has a random name in the bucket, a random data key wrapped by the workspace key
 *   (the manifest row holds only the wrapped key), and a random object id bound into its key
 *   schedule. Destroying the workspace key makes every version unreadable (KEY_DESTROYED).
 * - Downloads release only authenticated segments, and any failure mid-stream destroys the
 *   response rather than ending it. A whole download is NOT hashed again: the segment
 *   authentication already proves the plaintext is the one encrypted (see "Why a download needs
 *   no whole-file SHA-256" in NOTES.md); the recorded SHA-256 is still sent (`x-content-sha256`)
 *   for the user's own check.
 * - Deletion marks versions `deleting` with its audit event, then removes objects and rows;
 *   leftovers stay for `cleanup`.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely, Transaction } from 'kysely';
import {
  ciphertextRangeFor,
  createDecryptStream,
  createRangeDecryptStream,
  openObjectCipher,
  OUTPUT_CHUNK_SIZE,
  type CodecOutputOptions,
} from '../../core/crypto/object-format.ts';
import type { BlobDriver, DriverKind } from '../../adapters/blob/driver.ts';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import { driveFailure, driveReadable, type DrivesService } from '../drives/index.ts';
import type { WorkspaceKeys } from '../keys/index.ts';
import { createLeaseHolder, leaseFree, type LeaseHolder } from './datasets.leases.ts';
import * as store from './datasets.store.ts';
import { createStreamedUploads, defaultDriveOf, driveForNextVersion, withDriverOf } from './datasets.upload.ts';
import { versionView, type VersionView } from './datasets.view.ts';

export type { UploadHandle, UploadResult, VersionMeta, UploadSteps } from './datasets.upload.ts';
export { versionView, type VersionView } from './datasets.view.ts';

/**
 * How a download's decrypt stream releases plaintext, so the response is written to TLS in
 * MiB-sized pieces rather than one write per 64 KiB segment (issue 22, docs/performance.md
 * "Fourth round"). A local drive reads 1 MiB at a time into fresh buffers that nothing else
 * holds (fs read streams), so the plaintext is written over each read buffer (`overwriteInput`:
 * no new buffer at all). A cloud drive's body comes in network-sized reads through its SDK,
 * whose buffers are not ours to overwrite: the segments are gathered into 1 MiB buffers (a copy).
 */
export function downloadOutput(kind: DriverKind): CodecOutputOptions {
  return kind === 'local' ? { overwriteInput: true } : { outputChunkSize: OUTPUT_CHUNK_SIZE };
}

export interface DatasetsDeps {
  db: Kysely<Database>;
  drives: Pick<DrivesService, 'open' | 'list' | 'get'>;
  workspaceKeys: Pick<WorkspaceKeys, 'encryptorFor'>;
  /** Largest accepted upload, in bytes. */
  maxUploadBytes: number;
  /** This process's lease on the uploads it streams (default: a random instance, 60 s). */
  leases?: LeaseHolder;
}

/**
 * Runs in the transaction that marks versions deleted (and a dataset, `whole`): what other
 * modules keep about them goes in the same commit. A failure fails the deletion.
 */
export type DeletingHook = (
  trx: Transaction<Database>,
  d: { workspaceId: string; dataset: string; versions: number[]; whole: boolean },
) => Promise<void>;

export function createDatasetsService(deps: DatasetsDeps) {
  const { db } = deps;
  const leases = deps.leases ?? createLeaseHolder({ instanceId: randomBytes(8).toString('hex'), ttlMs: 60_000 });
  const listeners = new Set<(ws: string, name: string, v: VersionView) => void>();
  const committedVersion = (workspaceId: string, name: string, v: VersionView) => {
    for (const l of listeners) l(workspaceId, name, v);
  };
  const deletingHooks: DeletingHook[] = [];
  const deleting = async (trx: Transaction<Database>, d: Parameters<DeletingHook>[1]) => {
    for (const h of deletingHooks) await h(trx, d);
  };
  const uploads = createStreamedUploads({
    committed: committedVersion,
    db,
    drives: deps.drives,
    workspaceKeys: deps.workspaceKeys,
    maxUploadBytes: deps.maxUploadBytes,
    leases,
  });
  const withDriver = <T>(workspaceId: string, drive: string, work: (d: BlobDriver) => Promise<T>) =>
    withDriverOf(deps.drives, workspaceId, drive, work);

  async function committed(workspaceId: string, name: string, v: number): Promise<store.VersionRow> {
    const row = await store.version(db, workspaceId, name, v);
    if (!row || row.state !== 'committed')
      throw new AppError('NOT_FOUND', { detail: 'No such version of this dataset.' });
    return row;
  }

  /** Deletes the objects of `deleting` versions, then their rows; leftovers stay for `cleanup`. */
  async function purge(rows: store.VersionRow[]): Promise<void> {
    for (const r of rows) {
      try {
        await withDriver(r.workspace_id, r.drive, (d) => d.delete(r.object_key));
        await store.removeVersion(db, r.workspace_id, r.dataset, r.version);
      } catch {
        // left in state `deleting`; the cleanup job retries
      }
    }
  }

  const service = {
    defaultDrive: (workspaceId: string): Promise<string> => defaultDriveOf(deps.drives, workspaceId),
    /** The drive a new version goes to when none is named: the dataset's current drive, else the default. */
    driveFor: (workspaceId: string, name: string): Promise<string> =>
      driveForNextVersion(db, deps.drives, workspaceId, name),
    /** Sets description and/or tags (in the caller's transaction, with its event). */
    update: (
      trx: Transaction<Database>,
      workspaceId: string,
      name: string,
      patch: { description?: string | undefined; tags?: string[] | undefined },
    ) => store.updateDataset(trx, workspaceId, name, patch),
    /** The committed version before `v` when it holds the same bytes (same SHA-256), else undefined. */
    async identicalPredecessor(
      workspaceId: string,
      name: string,
      v: number,
      sha256: string,
    ): Promise<number | undefined> {
      const earlier = (await store.versions(db, workspaceId, name)).filter((r) => r.version < v).at(-1);
      return earlier && earlier.sha256 === sha256 ? earlier.version : undefined;
    },
    /** Names of the datasets with versions on a drive (what keeps it from being removed); `exec` may be a transaction. */
    datasetsOnDrive: (exec: store.Db, workspaceId: string, drive: string) =>
      store.datasetsOnDrive(exec, workspaceId, drive),
    /** Committed versions and their plaintext bytes on a drive. */
    bytesOnDrive: (workspaceId: string, drive: string) => store.bytesOnDrive(db, workspaceId, drive),

    list: (
      workspaceId: string,
      opts: {
        search?: string | undefined;
        tags?: readonly string[] | undefined;
        limit: number;
        after?: string | undefined;
      },
    ) => store.listDatasets(db, workspaceId, opts),
    /** Suggested/confirmed column tags of these datasets: `{ dataset, column_name, tag }` rows. */
    columnTags: (workspaceId: string, names: readonly string[]) => store.columnTagsOf(db, workspaceId, names),
    find: (workspaceId: string, name: string) => store.findDataset(db, workspaceId, name),
    /** Creates a metadata-only dataset (uploads to it are refused) if it does not exist; true if created. */
    ensureMetadataOnly: (exec: store.Db, workspaceId: string, name: string, createdBy: string, tags: string[]) =>
      store.ensureDataset(exec, { workspace_id: workspaceId, name, created_by: createdBy, tags, metadata_only: true }),
    /** `find` in the caller's transaction (data policies check tags while saving). */
    findIn: (exec: store.Db, workspaceId: string, name: string) => store.findDataset(exec, workspaceId, name),
    async versions(workspaceId: string, name: string): Promise<VersionView[]> {
      return (await store.versions(db, workspaceId, name)).map(versionView);
    },
    async version(workspaceId: string, name: string, v: number): Promise<VersionView> {
      return versionView(await committed(workspaceId, name, v));
    },
    /** Versions (any state) stored on a drive; `exec` may be the caller's transaction. */
    usageOfDrive: (exec: store.Db, workspaceId: string, drive: string) => store.countOnDrive(exec, workspaceId, drive),

    /** The streamed upload of one request (see `datasets.upload.ts`). */
    upload: uploads.upload,
    /** Reserves the next version (state `uploading`) under this process's lease; CONFLICT while another upload holds the dataset. */
    begin: uploads.begin,
    /** Makes a received version visible (in the caller's transaction, with its audit event). */
    commit: uploads.commit,
    /** After a commit's transaction: tells the listeners (profiling) that `v` is visible. */
    committedVersion,
    /** Registers a listener for committed versions (never throws into the upload). */
    onCommitted(listener: (workspaceId: string, name: string, v: VersionView) => void): void {
      listeners.add((workspaceId, name, v) => {
        try {
          listener(workspaceId, name, v);
        } catch {
          // a listener's failure is its own (profiling logs and retries); the upload stands
        }
      });
    },
    /** Registers work for the transaction that marks versions (or a whole dataset) deleted. */
    onDeleting(hook: DeletingHook): void {
      deletingHooks.push(hook);
    },
    /** Removes what a failed upload left: its object, then its row. Never throws. */
    abandon: uploads.abandon,

    /**
     * The plaintext of a version, whole or a byte range [start, end] (inclusive). Fetches only the
     * segments the range needs.
     */
    async open(
      ws: string,
      name: string,
      v: number,
      range?: { start: number; end: number },
    ): Promise<{ stream: Readable; size: number; length: number; row: store.VersionRow }> {
      const row = await committed(ws, name, v);
      const size = store.num(row.plain_size) ?? 0;
      const enc = await deps.workspaceKeys.encryptorFor(ws);
      const dataKey = enc.unwrapDataKey(row.object_id, Buffer.from(row.wrapped_dek));
      const keyParams = { dataKey, workspaceId: ws, objectId: row.object_id };
      const driver = await deps.drives.open(ws, row.drive);
      const close = () => void driver.close().catch(() => undefined);
      const output = downloadOutput(driver.kind);
      try {
        if (range) {
          const cipher = openObjectCipher(keyParams, Buffer.from(row.header!));
          dataKey.fill(0);
          // The object's own segment size (its header's), not this writer's default: an object
          // keeps the segment size it was written with.
          const r = ciphertextRangeFor(range.start, range.end + 1, size, cipher.segmentSize);
          const got = await driver.get(row.object_key, { start: r.start, end: r.end - 1 });
          const out = createRangeDecryptStream(cipher, r, output);
          pipeline(driveReadable(got.body), out)
            .catch(() => undefined)
            .finally(() => {
              cipher.contentKey.fill(0);
              close();
            });
          return { stream: out, size, length: r.length, row };
        }
        const got = await driver.get(row.object_key);
        // Authenticated segment by segment, in order, up to the final one and the expected size:
        // no second pass over the plaintext (NOTES.md, "Why a download needs no whole-file SHA-256").
        const dec = createDecryptStream(
          { ...keyParams, expectedPlainSize: size, expectedKeyTerm: row.key_term },
          output,
        );
        pipeline(driveReadable(got.body), dec)
          .catch(() => undefined)
          .finally(() => {
            dataKey.fill(0);
            close();
          });
        return { stream: dec, size, length: size, row };
      } catch (err) {
        dataKey.fill(0);
        close();
        throw driveFailure(err);
      }
    },

    /** Marks one committed version `deleting` (in the caller's transaction, with its event); NOT_FOUND if there is none. */
    async markVersionDeleted(
      trx: Transaction<Database>,
      workspaceId: string,
      name: string,
      v: number,
    ): Promise<store.VersionRow[]> {
      const marked = await store.markDeleting(trx, workspaceId, name, v);
      if (marked.length === 0) throw new AppError('NOT_FOUND', { detail: 'No such version of this dataset.' });
      await deleting(trx, { workspaceId, dataset: name, versions: marked.map((r) => r.version), whole: false });
      return marked;
    },

    /** Marks every committed version `deleting` (in the caller's transaction); CONFLICT while an upload is in progress. */
    async markDatasetDeleted(
      trx: Transaction<Database>,
      workspaceId: string,
      name: string,
    ): Promise<store.VersionRow[]> {
      const inFlight = await store.versions(trx, workspaceId, name, ['uploading']);
      if (inFlight.length > 0) throw new AppError('CONFLICT', { detail: 'An upload to this dataset is in progress.' });
      await store.touchDataset(trx, workspaceId, name);
      const marked = await store.markDeleting(trx, workspaceId, name);
      await deleting(trx, { workspaceId, dataset: name, versions: marked.map((r) => r.version), whole: true });
      return marked;
    },

    /** After the deletion's commit: removes the marked versions' objects and rows. */
    purgeVersions: (rows: store.VersionRow[]) => purge(rows),

    /** After the dataset deletion's commit: removes the marked versions, then the dataset if nothing is left of it. */
    async purgeDataset(workspaceId: string, name: string, rows: store.VersionRow[]): Promise<void> {
      if (rows.length > 0) {
        await purge(rows);
        const left = await store.versions(db, workspaceId, name, ['committed', 'uploading', 'deleting']);
        if (left.length > 0) return;
      }
      await store.removeDataset(db, workspaceId, name);
    },

    /**
     * The cleanup job: streamed uploads whose lease has been free for `graceMs` (expired, or owned
     * by a process that is provably dead — at start, the uploads our predecessor was streaming
     * when it crashed), and unfinished deletions. A live upload is never touched.
     */
    async cleanup(graceMs = 0): Promise<{ removed: number; failed: number }> {
      const now = Date.now();
      const rows = (await store.stale(db)).filter((r) => r.state === 'deleting' || leaseFree(leases, r, now - graceMs));
      let removed = 0;
      let failed = 0;
      for (const r of rows) {
        try {
          await uploads.release(r);
          removed += 1;
        } catch {
          failed += 1;
        }
      }
      return { removed, failed };
    },
  };
  return service;
}

export type DatasetsService = ReturnType<typeof createDatasetsService>;
