/**
 * The streamed upload (C8) as one use case of the module: begin → receive → commit → abandon.
 *
 * Guarantees:
 * - Plaintext never touches a disk or a drive: the body goes through the object-format encrypt
 *   stream straight into the drive's writer; the only plaintext kept is the first 64 KiB in
 *   memory, for format detection.
 * - The drive is opened once per upload (an unknown drive is refused before anything is
 *   reserved) and the same driver stores the object and, on failure, removes it.
 * - A version is visible only once every byte is stored and checked (size, SHA-256, the stored
 *   object's length) and its `committed` row is written in the caller's transaction, with its
 *   audit event. Until then its row is `uploading` under this process's lease (renewed while
 *   bytes flow); a failed upload removes its object and row.
 * - One upload per dataset at a time: a second one is CONFLICT unless the first one's lease is
 *   free (expired, or its owner provably dead), in which case it is released first.
 */
import { randomBytes } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely, Transaction } from 'kysely';
import type { BlobDriver } from '../../adapters/blob/driver.ts';
import type { Actor } from '../../core/actor.ts';
import type { JsonValue } from '../../core/audit/event.ts';
import { createDataKey, type WorkspaceEncryptor } from '../../core/crypto/encryptor.ts';
import { createEncryptStream, INPUT_GATHER_SIZE } from '../../core/crypto/object-format.ts';
import { AppError, isAppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import { driveFailure, type DrivesService } from '../drives/index.ts';
import type { WorkspaceKeys } from '../keys/index.ts';
import { detectTabular, SNIFF_BYTES, type Detected } from './datasets.detect.ts';
import { keepLease, leaseFree, leaseLost, type LeaseHolder } from './datasets.leases.ts';
import * as store from './datasets.store.ts';
import { versionView, type VersionView } from './datasets.view.ts';

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

/** What a new version is given besides its bytes. */
export interface VersionMeta {
  drive?: string | undefined;
  size?: number | undefined;
  sha256?: string | undefined;
  filename?: string | undefined;
  mediaType?: string | undefined;
  description?: string | undefined;
  tags?: string[] | undefined;
}

export interface ReserveInput {
  drive: string;
  mediaType: string;
  filename?: string | undefined;
  description?: string | undefined;
  tags?: string[] | undefined;
}

/** How the caller (the route's pipeline) takes part: the event's details, and the commit with the event. */
export interface UploadSteps {
  note(details: Record<string, JsonValue>): void;
  commit<R>(work: (trx: Transaction<Database>) => Promise<R>): Promise<R>;
}

export interface StreamedUploadsDeps {
  db: Kysely<Database>;
  drives: Pick<DrivesService, 'open' | 'list' | 'get'>;
  workspaceKeys: Pick<WorkspaceKeys, 'encryptorFor'>;
  maxUploadBytes: number;
  leases: LeaseHolder;
  /** Told once a version is committed (after its transaction): profiling starts its job. */
  committed?: (ws: string, name: string, v: VersionView) => void;
}

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
    if (this.bytes > this.max)
      return cb(new AppError('BODY_TOO_LARGE', { detail: `Uploads are limited to ${this.max} bytes.` }));
    if (this.keepHead && this.#headBytes < SNIFF_BYTES) {
      const take = chunk.subarray(0, SNIFF_BYTES - this.#headBytes);
      this.head.push(Buffer.from(take));
      this.#headBytes += take.length;
    }
    cb(null, chunk);
  }
}

const noSuchDrive = (drive: string) =>
  new AppError('VALIDATION_FAILED', { detail: `There is no drive "${drive}" in this workspace.` });

/** 422 unless the workspace has a drive of this name. */
export async function requireDrive(
  drives: Pick<DrivesService, 'get'>,
  workspaceId: string,
  drive: string,
): Promise<void> {
  await drives.get(workspaceId, drive).catch(() => {
    throw noSuchDrive(drive);
  });
}

/** Runs `work` with a driver for the workspace's drive, and closes it whatever happens. */
export async function withDriverOf<T>(
  drives: Pick<DrivesService, 'open'>,
  workspaceId: string,
  drive: string,
  work: (d: BlobDriver) => Promise<T>,
): Promise<T> {
  const driver = await drives.open(workspaceId, drive);
  try {
    return await work(driver);
  } finally {
    await driver.close().catch(() => undefined);
  }
}

/** The workspace's default drive (NOT_FOUND if it has none). */
export async function defaultDriveOf(drives: Pick<DrivesService, 'list'>, workspaceId: string): Promise<string> {
  const found = (await drives.list(workspaceId)).find((x) => x.isDefault);
  if (!found) throw new AppError('NOT_FOUND', { detail: 'This workspace has no default drive.' });
  return found.name;
}

/**
 * Where a version goes when the caller names no drive: the drive of the dataset's newest version
 * (a dataset kept in a customer's bucket stays there), else the workspace's default drive.
 */
export async function driveForNextVersion(
  db: store.Db,
  drives: Pick<DrivesService, 'list'>,
  workspaceId: string,
  name: string,
): Promise<string> {
  return (await store.latestDrive(db, workspaceId, name)) ?? defaultDriveOf(drives, workspaceId);
}

/** Inserts the dataset (if new) and the `uploading` row of its next version, in `trx`. */
export async function reserve(
  trx: Transaction<Database>,
  enc: WorkspaceEncryptor,
  actor: Actor,
  workspaceId: string,
  name: string,
  o: ReserveInput,
  lease?: { owner: string; until: Date; track: (objectId: string) => void },
): Promise<UploadHandle> {
  await store.ensureDataset(trx, {
    workspace_id: workspaceId,
    name,
    created_by: actor.id,
    description: o.description,
    tags: o.tags,
  });
  if ((await store.findDataset(trx, workspaceId, name))?.metadata_only)
    throw new AppError('CONFLICT', {
      detail: `${name} is a metadata-only dataset: it holds profiles published without content (strongroom profile --publish) and takes no uploads. Upload the data under another name.`,
      meta: { metadataOnly: true },
    });
  const version = await store.nextVersion(trx, workspaceId, name);
  const objectId = randomBytes(16).toString('hex');
  const objectKey = `objects/${objectId.slice(0, 2)}/${objectId}`;
  const dataKey = createDataKey();
  try {
    const wrappedDek = enc.wrapDataKey(objectId, dataKey);
    lease?.track(objectId); // before the row exists: it is never seen untracked while its upload runs
    await store.insertUploading(trx, {
      workspaceId,
      name,
      version,
      drive: o.drive,
      objectKey,
      objectId,
      keyTerm: enc.keyVersion,
      wrappedDek,
      mediaType: o.mediaType,
      filename: o.filename ?? null,
      createdBy: actor.id,
      lease: lease && { owner: lease.owner, until: lease.until },
    });
  } catch (err) {
    dataKey.fill(0);
    if (/dataset_versions_one_upload|duplicate key/.test(String((err as Error).message))) {
      throw new AppError('CONFLICT', {
        detail:
          'Another upload to this dataset is in progress (or a resumable upload session is open); try again when it has finished, or cancel that session.',
      });
    }
    throw err;
  }
  return {
    ws: workspaceId,
    name,
    version,
    drive: o.drive,
    objectKey,
    objectId,
    keyTerm: enc.keyVersion,
    dataKey,
    ...(lease ? { leaseOwner: lease.owner } : {}),
  };
}

const interrupted = (err: unknown) =>
  (err as NodeJS.ErrnoException).code === 'ECONNRESET' ||
  (err as Error).message === 'aborted' ||
  (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE';

export function createStreamedUploads(deps: StreamedUploadsDeps) {
  const { db, leases } = deps;

  /** Removes an upload row (object first, then the row) only if it is still the one we looked at. */
  async function release(r: store.VersionRow): Promise<void> {
    await withDriverOf(deps.drives, r.workspace_id, r.drive, (d) => d.delete(r.object_key));
    await store.removeIfUnchanged(db, r);
  }

  /**
   * Releases the streamed upload holding the dataset if its lease is free (expired, or its owner
   * dead: a crash and restart). A live upload or an open resumable session keeps it: CONFLICT,
   * saying what holds it.
   */
  async function releaseDeadUpload(workspaceId: string, name: string): Promise<void> {
    const row = await store.inFlight(db, workspaceId, name);
    if (!row) return;
    if (row.session_id === null && leaseFree(leases, row)) {
      await release(row).catch((err: unknown) => {
        throw driveFailure(err);
      });
      return;
    }
    const what =
      row.session_id !== null
        ? 'A resumable upload session is open for this dataset (cancel it, or complete it)'
        : `Another upload to this dataset is in progress (started ${row.created_at.toISOString()}; it is released if no bytes arrive for ${Math.round(leases.ttlMs / 1000)} s)`;
    throw new AppError('CONFLICT', { detail: `${what}; try again when it has finished.` });
  }

  /** Reserves the next version under this process's lease (the drive is known to exist). */
  async function reserveStreamed(
    actor: Actor,
    workspaceId: string,
    name: string,
    o: ReserveInput,
  ): Promise<UploadHandle> {
    // The key first, outside the transaction (PGlite has one session: no query beside an open transaction).
    const enc = await deps.workspaceKeys.encryptorFor(workspaceId);
    const attempt = () =>
      db.transaction().execute((trx) =>
        reserve(trx, enc, actor, workspaceId, name, o, {
          owner: leases.owner,
          until: new Date(Date.now() + leases.ttlMs),
          track: (objectId) => {
            tracked = objectId;
            leases.track(objectId);
          },
        }),
      );
    let tracked: string | undefined;
    const attemptOnce = async () => {
      try {
        return await attempt();
      } catch (err) {
        if (tracked !== undefined) leases.untrack(tracked); // its row was never committed
        throw err;
      }
    };
    try {
      return await attemptOnce();
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'CONFLICT') throw err;
      // Held by an upload that may be dead (kill -9, restart) or orphaned (its removal failed
      // while the database was away): release it if its lease is free.
      await releaseDeadUpload(workspaceId, name);
      return attemptOnce();
    }
  }

  /** Streams `body` through encryption into the drive and checks what was stored. */
  async function receive(
    h: UploadHandle,
    driver: BlobDriver,
    body: Readable,
    o: { declaredSize?: number | undefined; expectedSha256?: string | undefined; filename?: string | undefined },
  ): Promise<UploadResult> {
    const meter = new Meter(deps.maxUploadBytes);
    const enc = createEncryptStream(
      { dataKey: h.dataKey, workspaceId: h.ws, objectId: h.objectId, keyTerm: h.keyTerm },
      // A TLS body comes in 16 KiB reads: encrypt (and hash) it a MiB at a time, sealed in place.
      { hashPlaintext: true, inputChunkSize: INPUT_GATHER_SIZE },
    );
    const counter = new Meter(Number.MAX_SAFE_INTEGER, false);
    let lost = false;
    const renew = (until: Date) => store.renewLease(db, h, until);
    const stopLease = h.leaseOwner
      ? keepLease(
          leases,
          renew,
          () => meter.bytes + counter.bytes,
          () => {
            lost = true;
            body.destroy(leaseLost());
          },
        )
      : () => undefined;
    try {
      const put = driver.put(h.objectKey, counter, { contentType: 'application/octet-stream' });
      // If the drive fails first, stop reading the request.
      put.catch(() => body.destroy());
      await Promise.all([pipeline(body, meter, enc, counter), put]);
      const head = await driver.head(h.objectKey);
      if (!head || head.size !== counter.bytes)
        throw new AppError('DRIVE_ERROR', { detail: 'The drive did not store the whole object.' });
    } catch (err) {
      // The drive's view of a vanished object is not the story: say the lease was lost.
      if (lost || (h.leaseOwner && !(await renew(new Date(Date.now() + leases.ttlMs)).catch(() => true))))
        throw leaseLost();
      if (err instanceof AppError) throw err;
      if (interrupted(err))
        throw new AppError('BAD_REQUEST', { detail: 'The upload was interrupted before all bytes arrived.' });
      throw driveFailure(err);
    } finally {
      stopLease();
      h.dataKey.fill(0);
    }
    const sha256 = enc.plainSha256!.toString('hex');
    if (o.declaredSize !== undefined && o.declaredSize !== meter.bytes) {
      throw new AppError('VALIDATION_FAILED', {
        detail: `The declared size is ${o.declaredSize} bytes but ${meter.bytes} arrived.`,
      });
    }
    if (o.expectedSha256 !== undefined && o.expectedSha256 !== sha256)
      throw new AppError('VALIDATION_FAILED', {
        detail: 'The SHA-256 of the received data does not match the one given.',
      });
    const sample = Buffer.concat(meter.head);
    const detected = detectTabular(sample, { whole: meter.bytes <= SNIFF_BYTES, filename: o.filename });
    sample.fill(0);
    for (const b of meter.head) b.fill(0);
    return { plainSize: meter.bytes, sha256, storedSize: counter.bytes, header: enc.headerBytes, detected };
  }

  /** Makes the version visible (in the caller's transaction, with its audit event). */
  async function commit(trx: Transaction<Database>, h: UploadHandle, r: UploadResult): Promise<VersionView> {
    const updated = await store.commitVersion(trx, h, {
      header: r.header,
      plainSize: r.plainSize,
      storedSize: r.storedSize,
      sha256: r.sha256,
      tabularFormat: r.detected.format,
      schema: r.detected.schema,
    });
    if (!updated)
      throw h.leaseOwner
        ? leaseLost()
        : new AppError('CONFLICT', { detail: 'The upload was cancelled or cleaned up before it could be committed.' });
    return versionView(updated);
  }

  /** Removes what a failed upload left: its object, then its row (and a dataset it alone created). Never throws. */
  async function abandon(
    h: Pick<UploadHandle, 'ws' | 'name' | 'version' | 'drive' | 'objectKey' | 'objectId' | 'leaseOwner'>,
    driver?: BlobDriver,
  ): Promise<void> {
    const removeObject = (d: BlobDriver) => d.delete(h.objectKey);
    await (driver ? removeObject(driver) : withDriverOf(deps.drives, h.ws, h.drive, removeObject)).catch(
      () => undefined,
    );
    await store.removeUploading(db, h).catch(() => undefined);
    await store.removeDatasetIfEmpty(db, h.ws, h.name).catch(() => undefined);
    leases.untrack(h.objectId); // a row the removal could not reach is now an orphan, free to release
  }

  /** The drive to upload to, opened once; an unknown drive is a 422. */
  async function openDrive(workspaceId: string, drive: string): Promise<BlobDriver> {
    try {
      return await deps.drives.open(workspaceId, drive);
    } catch (err) {
      throw isAppError(err) && err.code === 'NOT_FOUND' ? noSuchDrive(drive) : driveFailure(err);
    }
  }

  return {
    release,
    commit,
    abandon,

    /** Reserves the next version (state `uploading`) of `name` under this process's lease. */
    async begin(actor: Actor, workspaceId: string, name: string, o: ReserveInput): Promise<UploadHandle> {
      await requireDrive(deps.drives, workspaceId, o.drive);
      return reserveStreamed(actor, workspaceId, name, o);
    },

    /**
     * The whole streamed upload of one request: the drive (given, or the workspace's default)
     * opened once, the version reserved, the bytes received and checked, the version committed
     * through `steps.commit` (with the caller's audit event). Any failure removes what was
     * written and is thrown.
     */
    async upload(
      actor: Actor,
      workspaceId: string,
      name: string,
      body: Readable,
      meta: VersionMeta,
      steps: UploadSteps,
    ): Promise<VersionView> {
      let drive: string;
      let driver: BlobDriver;
      let h: UploadHandle;
      try {
        drive = meta.drive ?? (await driveForNextVersion(db, deps.drives, workspaceId, name));
        steps.note({ drive });
        driver = await openDrive(workspaceId, drive);
      } catch (err) {
        body.resume();
        throw err;
      }
      try {
        try {
          h = await reserveStreamed(actor, workspaceId, name, {
            drive,
            mediaType: meta.mediaType ?? 'application/octet-stream',
            filename: meta.filename,
            description: meta.description,
            tags: meta.tags,
          });
        } catch (err) {
          body.resume();
          throw err;
        }
        steps.note({ version: h.version });
        let result: UploadResult;
        try {
          result = await receive(h, driver, body, {
            declaredSize: meta.size,
            expectedSha256: meta.sha256,
            filename: meta.filename,
          });
          if (result.plainSize === 0) throw new AppError('VALIDATION_FAILED', { detail: 'The upload is empty.' });
        } catch (err) {
          await abandon(h, driver);
          throw err;
        }
        steps.note({ size: result.plainSize, sha256: result.sha256 });
        try {
          const view = await steps.commit((trx) => commit(trx, h, result));
          leases.untrack(h.objectId);
          deps.committed?.(h.ws, h.name, view);
          return view;
        } catch (err) {
          await abandon(h, driver);
          throw err;
        }
      } finally {
        await driver.close().catch(() => undefined);
      }
    },
  };
}

export type StreamedUploads = ReturnType<typeof createStreamedUploads>;
