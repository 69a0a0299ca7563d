/**
 * Encrypted datasets (C8): streaming upload into a drive, versions, ranged download.
 *
 * Guarantees:
 * - Plaintext never touches a disk or a drive: the request body goes through the object-format
 *   encrypt stream straight into the drive's writer; the only plaintext kept is the first 64 KiB
 *   in memory, for format detection.
 * - A version is visible only once every byte is stored and checked (size, SHA-256, the stored
 *   object's length) and its `committed` row is written with its audit event. Until then its row
 *   is `uploading`; a failed upload deletes its object and row; a crashed one is removed by
 *   `cleanup` (object first, then row), so nothing partial is ever listed or served.
 * - Each object has a random name in the bucket, a random data key wrapped by the workspace key
 *   (the manifest row holds only the wrapped key), and a random object id bound into its key
 *   schedule. Destroying the workspace key makes every version unreadable (KEY_DESTROYED).
 * - Downloads release only authenticated segments; a whole download is also checked against the
 *   recorded SHA-256, and any failure mid-stream destroys the response rather than ending it.
 */
import { randomBytes } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely, Transaction } from 'kysely';
import type { Actor } from '../../core/actor.ts';
import { createDataKey, type WorkspaceEncryptor } from '../../core/crypto/encryptor.ts';
import { Sha256Check } from '../../core/crypto/digest-check.ts';
import { ciphertextRangeFor, createDecryptStream, createEncryptStream, createRangeDecryptStream, openObjectCipher } from '../../core/crypto/object-format.ts';
import { AppError } from '../../core/errors.ts';
import { isBlobError, type BlobDriver } from '../../adapters/blob/driver.ts';
import type { Database } from '../../db/schema.ts';
import type { DrivesService } from '../drives/index.ts';
import type { WorkspaceKeys } from '../keys/index.ts';
import { detectTabular, SNIFF_BYTES, type Detected } from './datasets.detect.ts';
import * as store from './datasets.store.ts';
import { createLeaseHolder, keepLease, leaseFree, leaseLost, type LeaseHolder } from './datasets.leases.ts';

export interface DatasetsDeps {
  db: Kysely<Database>;
  drives: Pick<DrivesService, 'open' | 'list' | 'get'>;
  workspaceKeys: Pick<WorkspaceKeys, 'encryptorFor'>;
  /** Largest accepted upload, in bytes. */
  maxUploadBytes: number;
  /** This process's lease on the uploads it streams (default: a random instance, 60 s). */
  leases?: LeaseHolder;
}

export interface UploadHandle {
  ws: string;
  name: string;
  version: number;
  drive: string;
  objectKey: string;
  objectId: string;
  keyTerm: number;
  dataKey: Buffer;
  /** Streamed uploads: the lease owner this process holds the row under (sessions have none). */
  leaseOwner?: string;
}

export interface UploadResult {
  plainSize: number;
  sha256: string;
  storedSize: number;
  header: Buffer;
  detected: Detected;
}

export interface VersionView {
  version: number;
  size: number;
  sha256: string;
  drive: string;
  mediaType: string;
  filename: string | null;
  tabularFormat: string | null;
  schema: unknown;
  createdBy: string;
  createdAt: string;
  committedAt: string;
}

export const versionView = (r: store.VersionRow): VersionView => ({
  version: r.version,
  size: store.num(r.plain_size) ?? 0,
  sha256: r.sha256 ?? '',
  drive: r.drive,
  mediaType: r.media_type,
  filename: r.filename,
  tabularFormat: r.tabular_format,
  schema: r.schema ?? null,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  committedAt: (r.committed_at ?? r.created_at).toISOString(),
});

/** Counts bytes, keeps the first SNIFF_BYTES, enforces the size cap. */
class Meter extends Transform {
  bytes = 0;
  readonly head: Buffer[] = [];
  #headBytes = 0;
  constructor(
    private readonly max: number,
    private readonly keepHead = true,
  ) {
    super({ highWaterMark: 4 * 1024 * 1024 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.max) return cb(new AppError('BODY_TOO_LARGE', { detail: `Uploads are limited to ${this.max} bytes.` }));
    if (this.keepHead && this.#headBytes < SNIFF_BYTES) {
      const take = chunk.subarray(0, SNIFF_BYTES - this.#headBytes);
      this.head.push(Buffer.from(take));
      this.#headBytes += take.length;
    }
    cb(null, chunk);
  }
}


/** A drive failure as the AppError the API answers with. */
export function driveFailure(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isBlobError(err)) {
    const code = err.code === 'AUTH_FAILED' ? 'DRIVE_AUTH_FAILED' : err.code === 'PERMISSION_DENIED' ? 'DRIVE_PERMISSION_DENIED' : err.code === 'BUCKET_NOT_FOUND' ? 'DRIVE_BUCKET_NOT_FOUND' : err.code === 'UNREACHABLE' || err.code === 'EGRESS_DENIED' ? 'DRIVE_UNREACHABLE' : 'DRIVE_ERROR';
    return new AppError(code, { detail: `The drive failed: ${err.message}.`, cause: err });
  }
  return new AppError('DRIVE_ERROR', { detail: 'The drive failed to store the data.', cause: err });
}


/** 422 unless the workspace has a drive of this name. */
export async function requireDrive(drives: Pick<DrivesService, 'get'>, ws: string, drive: string): Promise<void> {
  await drives.get(ws, drive).catch(() => {
    throw new AppError('VALIDATION_FAILED', { detail: `There is no drive "${drive}" in this workspace.` });
  });
}

/** Runs `work` with a driver for the workspace's drive, and closes it whatever happens. */
export async function withDriverOf<T>(drives: Pick<DrivesService, 'open'>, ws: string, drive: string, work: (d: BlobDriver) => Promise<T>): Promise<T> {
  const driver = await drives.open(ws, drive);
  try {
    return await work(driver);
  } finally {
    await driver.close().catch(() => undefined);
  }
}

/** Inserts the dataset (if new) and the `uploading` row of its next version. */
export async function reserve(trx: Transaction<Database>, enc: WorkspaceEncryptor, actor: Actor, ws: string, name: string, o: { drive: string; mediaType: string; filename?: string | undefined; description?: string | undefined; tags?: string[] | undefined }, lease?: { owner: string; until: Date }): Promise<UploadHandle> {
      await store.ensureDataset(trx, { workspace_id: ws, name, created_by: actor.id, description: o.description, tags: o.tags });
      const v = await store.nextVersion(trx, ws, name);
      const objectId = randomBytes(16).toString('hex');
      const objectKey = `objects/${objectId.slice(0, 2)}/${objectId}`;
      const dataKey = createDataKey();
      try {
        await trx
          .insertInto('dataset_versions')
          .values({
            workspace_id: ws,
            dataset: name,
            version: v,
            state: 'uploading',
            drive: o.drive,
            object_key: objectKey,
            object_id: objectId,
            key_term: enc.keyVersion,
            wrapped_dek: enc.wrapDataKey(objectId, dataKey),
            media_type: o.mediaType,
            filename: o.filename ?? null,
            created_by: actor.id,
            lease_owner: lease?.owner ?? null,
            lease_expires_at: lease?.until ?? null,
          })
          .execute();
      } catch (err) {
        dataKey.fill(0);
        if (/dataset_versions_one_upload|duplicate key/.test(String((err as Error).message))) {
          throw new AppError('CONFLICT', { detail: 'Another upload to this dataset is in progress (or a resumable upload session is open); try again when it has finished, or cancel that session.' });
        }
        throw err;
      }
      return { ws, name, version: v, drive: o.drive, objectKey, objectId, keyTerm: enc.keyVersion, dataKey, ...(lease ? { leaseOwner: lease.owner } : {}) };
}

export function createDatasetsService(deps: DatasetsDeps) {
  const { db } = deps;
  const leases = deps.leases ?? createLeaseHolder({ instanceId: randomBytes(8).toString('hex'), ttlMs: 60_000 });

  /** Removes an upload row (object first, then the row) only if it is still the one we looked at. */
  async function release(r: store.VersionRow): Promise<void> {
    await withDriver(r.workspace_id, r.drive, (d) => d.delete(r.object_key));
    let q = db.deleteFrom('dataset_versions').where('workspace_id', '=', r.workspace_id).where('dataset', '=', r.dataset).where('version', '=', r.version).where('state', '=', r.state);
    if (r.state === 'uploading') q = r.lease_owner === null ? q.where('lease_owner', 'is', null) : q.where('lease_owner', '=', r.lease_owner);
    await q.execute();
  }

  /**
   * The streamed upload holding `ws/name`, released if its lease is free (expired, or its owner
   * is dead: a crash and restart). Returns whether the dataset is free now; a live upload or an
   * open resumable session keeps it (CONFLICT with when it started).
   */
  async function releaseDeadUpload(ws: string, name: string): Promise<void> {
    const row = await store.inFlight(db, ws, name);
    if (!row) return;
    if (row.session_id === null && leaseFree(leases, row)) {
      await release(row).catch((err: unknown) => {
        throw driveFailure(err);
      });
      return;
    }
    const what = row.session_id !== null ? 'A resumable upload session is open for this dataset (cancel it, or complete it)' : `Another upload to this dataset is in progress (started ${row.created_at.toISOString()}; it is released if no bytes arrive for ${Math.round(leases.ttlMs / 1000)} s)`;
    throw new AppError('CONFLICT', { detail: `${what}; try again when it has finished.` });
  }

  const withDriver = <T>(ws: string, drive: string, work: (d: BlobDriver) => Promise<T>) => withDriverOf(deps.drives, ws, drive, work);

  async function committed(ws: string, name: string, v: number): Promise<store.VersionRow> {
    const row = await store.version(db, ws, name, v);
    if (!row || row.state !== 'committed') throw new AppError('NOT_FOUND', { detail: 'No such version of this dataset.' });
    return row;
  }

  const service = {
    async defaultDrive(ws: string): Promise<string> {
      const all = await deps.drives.list(ws);
      const d = all.find((x) => x.isDefault);
      if (!d) throw new AppError('NOT_FOUND', { detail: 'This workspace has no default drive.' });
      return d.name;
    },

    list: (ws: string, opts: { search?: string | undefined; tag?: string | undefined; limit: number; after?: string | undefined }) => store.listDatasets(db, ws, opts),
    find: (ws: string, name: string) => store.findDataset(db, ws, name),
    async versions(ws: string, name: string): Promise<VersionView[]> {
      return (await store.versions(db, ws, name)).map(versionView);
    },
    async version(ws: string, name: string, v: number): Promise<VersionView> {
      return versionView(await committed(ws, name, v));
    },
    /** Versions (any state) stored on a drive; `exec` may be the caller's transaction. */
    usageOfDrive: (exec: store.Db, ws: string, drive: string) => store.countOnDrive(exec, ws, drive),

    /**
     * Reserves the next version (state `uploading`) and its key. One upload per dataset at a time:
     * a second one gets CONFLICT. Runs in the caller's transaction.
     */
    async begin(actor: Actor, ws: string, name: string, o: { drive: string; mediaType: string; filename?: string | undefined; description?: string | undefined; tags?: string[] | undefined }): Promise<UploadHandle> {
      await requireDrive(deps.drives, ws, o.drive);
      // The key first, outside the transaction (PGlite has one session: no query beside an open transaction).
      const enc = await deps.workspaceKeys.encryptorFor(ws);
      const attempt = () => deps.db.transaction().execute((trx) => reserve(trx, enc, actor, ws, name, o, { owner: leases.owner, until: new Date(Date.now() + leases.ttlMs) }));
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof AppError) || err.code !== 'CONFLICT') throw err;
        // Held by an upload that may be dead (kill -9, restart): release it if its lease is free.
        await releaseDeadUpload(ws, name);
        return attempt();
      }
    },


    /** Streams `body` through encryption into the drive and checks what was stored. */
    async receive(h: UploadHandle, body: Readable, o: { declaredSize?: number | undefined; expectedSha256?: string | undefined; filename?: string | undefined }): Promise<UploadResult> {
      const meter = new Meter(deps.maxUploadBytes);
      const enc = createEncryptStream({ dataKey: h.dataKey, workspaceId: h.ws, objectId: h.objectId, keyTerm: h.keyTerm }, { hashPlaintext: true });
      const counter = new Meter(Number.MAX_SAFE_INTEGER, false);
      let lost = false;
      const renew = async (until: Date) => {
        const r = await db.updateTable('dataset_versions').set({ lease_expires_at: until }).where('workspace_id', '=', h.ws).where('dataset', '=', h.name).where('version', '=', h.version).where('state', '=', 'uploading').where('lease_owner', '=', h.leaseOwner ?? '').executeTakeFirst();
        return Number(r.numUpdatedRows) === 1;
      };
      const stopLease = h.leaseOwner
        ? keepLease(leases, renew, () => meter.bytes + counter.bytes, () => {
            lost = true;
            body.destroy(leaseLost());
          })
        : () => undefined;
      try {
        await withDriver(h.ws, h.drive, async (driver) => {
          const put = driver.put(h.objectKey, counter, { contentType: 'application/octet-stream' });
          // If the drive fails first, stop reading the request.
          put.catch(() => body.destroy());
          await Promise.all([pipeline(body, meter, enc, counter), put]);
          const head = await driver.head(h.objectKey);
          if (!head || head.size !== counter.bytes) throw new AppError('DRIVE_ERROR', { detail: 'The drive did not store the whole object.' });
        });
      } catch (err) {
        // The drive's view of a vanished object is not the story: say the lease was lost.
        if (lost || (h.leaseOwner && !(await renew(new Date(Date.now() + leases.ttlMs)).catch(() => true)))) throw leaseLost();
        if (err instanceof AppError) throw err;
        if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || (err as Error).message === 'aborted' || (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') {
          throw new AppError('BAD_REQUEST', { detail: 'The upload was interrupted before all bytes arrived.' });
        }
        throw driveFailure(err);
      } finally {
        stopLease();
        h.dataKey.fill(0);
      }
      const sha256 = enc.plainSha256!.toString('hex');
      if (o.declaredSize !== undefined && o.declaredSize !== meter.bytes) {
        throw new AppError('VALIDATION_FAILED', { detail: `The declared size is ${o.declaredSize} bytes but ${meter.bytes} arrived.` });
      }
      if (o.expectedSha256 !== undefined && o.expectedSha256 !== sha256) throw new AppError('VALIDATION_FAILED', { detail: 'The SHA-256 of the received data does not match the one given.' });
      const sample = Buffer.concat(meter.head);
      const detected = detectTabular(sample, { whole: meter.bytes <= SNIFF_BYTES, filename: o.filename });
      sample.fill(0);
      for (const b of meter.head) b.fill(0);
      return { plainSize: meter.bytes, sha256, storedSize: counter.bytes, header: enc.headerBytes, detected };
    },

    /** Makes the version visible (in the caller's transaction, with its audit event). */
    async commit(trx: Transaction<Database>, h: UploadHandle, r: UploadResult): Promise<VersionView> {
      let q = trx
        .updateTable('dataset_versions')
        .set({
          state: 'committed',
          header: r.header,
          plain_size: r.plainSize,
          stored_size: r.storedSize,
          sha256: r.sha256,
          tabular_format: r.detected.format,
          schema: r.detected.schema ? JSON.stringify(r.detected.schema) : null,
          committed_at: new Date(),
          lease_owner: null,
          lease_expires_at: null,
        })
        .where('workspace_id', '=', h.ws)
        .where('dataset', '=', h.name)
        .where('version', '=', h.version)
        .where('state', '=', 'uploading');
      if (h.leaseOwner) q = q.where('lease_owner', '=', h.leaseOwner);
      const updated = await q.returningAll().executeTakeFirst();
      if (!updated) throw h.leaseOwner ? leaseLost() : new AppError('CONFLICT', { detail: 'The upload was cancelled or cleaned up before it could be committed.' });
      await trx.updateTable('datasets').set({ updated_at: new Date() }).where('workspace_id', '=', h.ws).where('name', '=', h.name).execute();
      return versionView(updated);
    },

    /** Removes what a failed upload left: its object, then its row. Never throws. */
    async abandon(h: Pick<UploadHandle, 'ws' | 'name' | 'version' | 'drive' | 'objectKey' | 'leaseOwner'>): Promise<void> {
      await withDriver(h.ws, h.drive, (d) => d.delete(h.objectKey)).catch(() => undefined);
      await db
        .deleteFrom('dataset_versions')
        .where('workspace_id', '=', h.ws)
        .where('dataset', '=', h.name)
        .where('version', '=', h.version)
        .where('state', '=', 'uploading')
        .$if(h.leaseOwner !== undefined, (q) => q.where('lease_owner', '=', h.leaseOwner!))
        .execute()
        .catch(() => undefined);
      // A dataset that this failed upload created stays invisible: one statement, so a version
      // another upload added meanwhile keeps it.
      await db
        .deleteFrom('datasets')
        .where('workspace_id', '=', h.ws)
        .where('name', '=', h.name)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('dataset_versions').select('version').where('workspace_id', '=', h.ws).where('dataset', '=', h.name))))
        .execute()
        .catch(() => undefined);
    },

    /**
     * The plaintext of a version, whole or a byte range [start, end] (inclusive). Fetches only the
     * segments the range needs.
     */
    async open(ws: string, name: string, v: number, range?: { start: number; end: number }): Promise<{ stream: Readable; size: number; length: number; row: store.VersionRow }> {
      const row = await committed(ws, name, v);
      const size = store.num(row.plain_size) ?? 0;
      const enc = await deps.workspaceKeys.encryptorFor(ws);
      const dataKey = enc.unwrapDataKey(row.object_id, Buffer.from(row.wrapped_dek));
      const keyParams = { dataKey, workspaceId: ws, objectId: row.object_id };
      const driver = await deps.drives.open(ws, row.drive);
      const close = () => void driver.close().catch(() => undefined);
      try {
        if (range) {
          const cipher = openObjectCipher(keyParams, Buffer.from(row.header!));
          dataKey.fill(0);
          const r = ciphertextRangeFor(range.start, range.end + 1, size);
          const got = await driver.get(row.object_key, { start: r.start, end: r.end - 1 });
          const out = createRangeDecryptStream(cipher, r);
          pipeline(got.body, out).catch(() => undefined).finally(() => {
            cipher.contentKey.fill(0);
            close();
          });
          return { stream: out, size, length: r.length, row };
        }
        const got = await driver.get(row.object_key);
        const dec = createDecryptStream({ ...keyParams, expectedPlainSize: size, expectedKeyTerm: row.key_term });
        const check = new Sha256Check(row.sha256!, () => new AppError('DECRYPTION_FAILED', { detail: 'The downloaded data does not match its recorded SHA-256.' }));
        pipeline(got.body, dec, check).catch(() => undefined).finally(() => {
          dataKey.fill(0);
          close();
        });
        return { stream: check, size, length: size, row };
      } catch (err) {
        dataKey.fill(0);
        close();
        throw driveFailure(err);
      }
    },

    /** Marks versions `deleting` (in the caller's transaction); `purge` removes their objects after. */
    async markDeleted(trx: Transaction<Database>, ws: string, name: string, v?: number): Promise<store.VersionRow[]> {
      let q = trx.updateTable('dataset_versions').set({ state: 'deleting' }).where('workspace_id', '=', ws).where('dataset', '=', name).where('state', '=', 'committed');
      if (v !== undefined) q = q.where('version', '=', v);
      return q.returningAll().execute();
    },

    async deleteDatasetRow(trx: Transaction<Database>, ws: string, name: string): Promise<void> {
      const inFlight = await store.versions(trx, ws, name, ['uploading']);
      if (inFlight.length > 0) throw new AppError('CONFLICT', { detail: 'An upload to this dataset is in progress.' });
      await trx.updateTable('datasets').set({ updated_at: new Date() }).where('workspace_id', '=', ws).where('name', '=', name).execute();
    },

    /** Deletes the objects of `deleting` versions, then their rows; leftovers stay for `cleanup`. */
    async purge(rows: store.VersionRow[], dropDatasetIfEmpty = false): Promise<void> {
      for (const r of rows) {
        try {
          await withDriver(r.workspace_id, r.drive, (d) => d.delete(r.object_key));
          await store.removeVersion(db, r.workspace_id, r.dataset, r.version);
        } catch {
          // left in state `deleting`; the cleanup job retries
        }
      }
      if (dropDatasetIfEmpty && rows[0]) {
        const { workspace_id: ws, dataset } = rows[0];
        const left = await store.versions(db, ws, dataset, ['committed', 'uploading', 'deleting']);
        if (left.length === 0) await db.deleteFrom('datasets').where('workspace_id', '=', ws).where('name', '=', dataset).execute();
      }
    },

    /**
     * The cleanup job: streamed uploads whose lease has been free for `graceMs` (expired, or owned
     * by a process that is provably dead — at start, the uploads our predecessor was streaming
     * when it crashed), and unfinished deletions. A live upload is never touched.
     */
    async cleanup(graceMs = 0): Promise<{ removed: number; failed: number }> {
      const now = Date.now();
      const rows = (await store.stale(db)).filter((r) => r.state === 'deleting' || (r.session_id === null && (leases.isDead(r.lease_owner) || leaseFree(leases, r, now - graceMs))));
      let removed = 0;
      let failed = 0;
      for (const r of rows) {
        try {
          await release(r);
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
