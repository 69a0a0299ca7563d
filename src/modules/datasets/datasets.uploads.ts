/**
 * Resumable upload sessions (C8): a large file arrives as numbered parts over as many requests
 * (and connections, and server restarts) as it takes, then becomes one version.
 *
 * Guarantees:
 * - The object's data key, header (salt, nonce prefix, key commitment) and part layout are fixed
 *   when the session opens; the key is stored only wrapped, in the `uploading` version row.
 * - A part is sealed with `encryptPart` into its own part object only after the SHA-256 of its
 *   plaintext is recorded. A part sent again must carry the same bytes: different bytes at the
 *   same segment indexes would reuse GCM nonces, so they are refused (PART_CONTENT_CHANGED) and
 *   the client must start a new session (new key, new header). Resending the same bytes is a
 *   no-op once the part is stored.
 * - Part plaintext is held in memory only (bounded by the part size), never on disk.
 * - `complete` concatenates the part objects into the version's object, decrypting every byte on
 *   the way (every tag, the exact size, the key term), checks the stored length and the SHA-256
 *   against the declared one before the version can be committed. Nothing is visible before that.
 * - Only the actor who opened a session may add to it, complete it or cancel it.
 * - Expired or cancelled sessions lose their part objects, the version's object and row.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely, Transaction } from 'kysely';
import type { Actor } from '../../core/actor.ts';
import {
  DEFAULT_SEGMENT_SIZE,
  ObjectDecoder,
  ObjectFormatError,
  ciphertextSize,
  createObjectCipher,
  encryptPart,
  openObjectCipher,
  parseHeader,
} from '../../core/crypto/object-format.ts';
import { AppError } from '../../core/errors.ts';
import type { BlobDriver } from '../../adapters/blob/driver.ts';
import type { Database } from '../../db/schema.ts';
import { driveFailure, type DrivesService } from '../drives/index.ts';
import type { WorkspaceKeys } from '../keys/index.ts';
import { detectTabular, SNIFF_BYTES } from './datasets.detect.ts';
import type { DatasetsService } from './datasets.service.ts';
import { requireDrive, reserve, withDriverOf, type UploadHandle, type UploadResult } from './datasets.upload.ts';
import * as store from './datasets.store.ts';
import { MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE } from '../../contracts/datasets.ts';

/** Default plaintext bytes per part: 128 segments; stored parts are above S3's 5 MiB minimum. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
export { MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE };
if (MIN_PART_SIZE !== DEFAULT_SEGMENT_SIZE) throw new Error('a part is a whole number of segments');
/** Parts received at once by this process; beyond it a part is refused with 429 (clients retry). Bounds part memory to 16 × MAX_PART_SIZE. */
export const MAX_PARTS_IN_FLIGHT = 16;

export interface UploadSessionsDeps {
  db: Kysely<Database>;
  drives: Pick<DrivesService, 'open' | 'get'>;
  workspaceKeys: Pick<WorkspaceKeys, 'encryptorFor'>;
  datasets: Pick<DatasetsService, 'abandon'>;
  maxUploadBytes: number;
  /** How long a session lives after its last stored part. */
  ttlMs: number;
}

export interface OpenSessionInput {
  size: number;
  partSize?: number | undefined;
  sha256?: string | undefined;
  drive: string;
  mediaType: string;
  filename?: string | undefined;
  description?: string | undefined;
  tags?: string[] | undefined;
}

export interface UploadSessionView {
  id: string;
  dataset: string;
  version: number;
  drive: string;
  size: number;
  partSize: number;
  partCount: number;
  /** Part numbers stored so far, ascending. */
  received: number[];
  expiresAt: string;
}

type SessionRow = store.SessionRow;

export const partCountOf = (size: number, partSize: number) => Math.ceil(size / partSize);
/** Plaintext bytes of part `n` (1-based). */
export const partLength = (size: number, partSize: number, n: number) =>
  n < partCountOf(size, partSize) ? partSize : size - (n - 1) * partSize;
const partKey = (objectId: string, n: number) => `uploads/${objectId}/${String(n).padStart(5, '0')}`;
const newSessionId = () => `up_${randomBytes(16).toString('hex')}`;

/**
 * Reads exactly `length` bytes of `body` into one buffer; fewer or more is a 4xx. On a failure
 * the buffer is wiped and the rest of the body is drained (not destroyed), so the client still
 * gets its problem+json answer.
 */
export function readExactly(body: Readable, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    let settled = false;
    const finish = (err?: AppError) => {
      if (settled) return;
      settled = true;
      body.off('data', onData).off('end', onEnd).off('error', onBroken).off('aborted', onBroken).off('close', onClose);
      if (!err) return resolve(buf);
      buf.fill(0);
      body.resume();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      if (got + chunk.length > length)
        return finish(
          new AppError('VALIDATION_FAILED', { detail: `This part must be exactly ${length} bytes; more arrived.` }),
        );
      chunk.copy(buf, got);
      got += chunk.length;
    };
    const onEnd = () =>
      finish(
        got === length
          ? undefined
          : new AppError('VALIDATION_FAILED', { detail: `This part must be exactly ${length} bytes; ${got} arrived.` }),
      );
    const onBroken = () =>
      finish(
        new AppError('BAD_REQUEST', {
          detail: 'The part was interrupted before all its bytes arrived; send it again.',
        }),
      );
    const onClose = () =>
      setImmediate(() =>
        finish(
          new AppError('BAD_REQUEST', {
            detail: 'The part was interrupted before all its bytes arrived; send it again.',
          }),
        ),
      );
    body.on('data', onData).on('end', onEnd).on('error', onBroken).on('aborted', onBroken).on('close', onClose);
  });
}

export function createUploadSessions(deps: UploadSessionsDeps) {
  const { db } = deps;
  let inFlight = 0;

  const withDriver = <T>(workspaceId: string, drive: string, work: (d: BlobDriver) => Promise<T>) =>
    withDriverOf(deps.drives, workspaceId, drive, work);

  /** The session, if it is open, unexpired and the actor's own; anything else is NOT_FOUND. */
  async function session(actor: Actor, workspaceId: string, name: string, id: string): Promise<SessionRow> {
    const row = await store.findSession(db, workspaceId, name, id);
    if (!row || row.state !== 'uploading' || row.session_by !== actor.id || row.expires_at.getTime() <= Date.now()) {
      throw new AppError('NOT_FOUND', {
        detail:
          'No open upload session with this id for this dataset (it may have expired, been completed or been cancelled).',
      });
    }
    return row;
  }

  const received = (exec: store.Db, id: string): Promise<number[]> => store.partNumbers(exec, id, true);

  async function view(exec: store.Db, row: SessionRow): Promise<UploadSessionView> {
    const size = Number(row.size);
    return {
      id: row.id,
      dataset: row.dataset,
      version: row.version,
      drive: row.drive,
      size,
      partSize: row.part_size,
      partCount: partCountOf(size, row.part_size),
      received: await received(exec, row.id),
      expiresAt: row.expires_at.toISOString(),
    };
  }

  const handleOf = (row: SessionRow): Omit<UploadHandle, 'dataKey'> => ({
    ws: row.workspace_id,
    name: row.dataset,
    version: row.version,
    drive: row.drive,
    objectKey: row.object_key,
    objectId: row.object_id,
    keyTerm: row.key_term,
  });

  /** Deletes a session's part objects, with `driver` if the caller has the drive open already. */
  async function deleteParts(
    row: Pick<SessionRow, 'id' | 'workspace_id' | 'drive' | 'object_id'>,
    driver?: BlobDriver,
  ): Promise<void> {
    const parts = await store.partNumbers(db, row.id, false);
    if (parts.length === 0) return;
    const work = async (d: BlobDriver) => {
      for (const part of parts) await d.delete(partKey(row.object_id, part));
    };
    await (driver ? work(driver) : withDriver(row.workspace_id, row.drive, work));
  }

  return {
    /**
     * Opens a session: reserves the next version (CONFLICT while another upload is open) and fixes
     * its key, header and parts. `inTransaction` runs the writes (the route's audited transaction).
     */
    async open(
      actor: Actor,
      ws: string,
      name: string,
      o: OpenSessionInput,
      inTransaction: <T>(work: (trx: Transaction<Database>) => Promise<T>) => Promise<T> = (work) =>
        db.transaction().execute(work),
    ): Promise<UploadSessionView> {
      const partSize = o.partSize ?? DEFAULT_PART_SIZE;
      if (o.size > deps.maxUploadBytes)
        throw new AppError('BODY_TOO_LARGE', { detail: `Uploads are limited to ${deps.maxUploadBytes} bytes.` });
      if (partSize % MIN_PART_SIZE !== 0 || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
        throw new AppError('VALIDATION_FAILED', {
          detail: `partSize must be a multiple of ${MIN_PART_SIZE} bytes between ${MIN_PART_SIZE} and ${MAX_PART_SIZE}.`,
        });
      }
      if (partCountOf(o.size, partSize) > MAX_PARTS)
        throw new AppError('VALIDATION_FAILED', { detail: `At most ${MAX_PARTS} parts: choose a larger partSize.` });
      await requireDrive(deps.drives, ws, o.drive);
      const enc = await deps.workspaceKeys.encryptorFor(ws);
      return inTransaction(async (trx) => {
        const h = await reserve(trx, enc, actor, ws, name, o);
        const cipher = createObjectCipher({
          dataKey: h.dataKey,
          workspaceId: ws,
          objectId: h.objectId,
          keyTerm: h.keyTerm,
        });
        h.dataKey.fill(0);
        cipher.contentKey.fill(0);
        const id = newSessionId();
        await store.insertSession(trx, {
          id,
          ws,
          name,
          version: h.version,
          header: cipher.headerBytes,
          size: o.size,
          partSize,
          sha256: o.sha256 ?? null,
          createdBy: actor.id,
          expiresAt: new Date(Date.now() + deps.ttlMs),
        });
        return view(trx, (await store.findSession(trx, ws, name, id))!);
      });
    },

    /** Parts being received right now (for metrics and tests). */
    partsInFlight: () => inFlight,

    async status(actor: Actor, workspaceId: string, name: string, id: string): Promise<UploadSessionView> {
      return view(db, await session(actor, workspaceId, name, id));
    },

    /**
     * Receives, seals and stores part `n`. Returns a commit step to run in the caller's audited
     * transaction (it marks the part stored); `alreadyStored` when the same bytes were stored before.
     */
    async putPart(
      actor: Actor,
      ws: string,
      name: string,
      id: string,
      n: number,
      body: Readable,
    ): Promise<{ size: number; alreadyStored: boolean; commit: (trx: Transaction<Database>) => Promise<void> }> {
      const row = await session(actor, ws, name, id);
      const size = Number(row.size);
      const count = partCountOf(size, row.part_size);
      if (n > count) {
        body.resume();
        throw new AppError('VALIDATION_FAILED', { detail: `This upload has ${count} parts (1–${count}).` });
      }
      if (inFlight >= MAX_PARTS_IN_FLIGHT) {
        body.resume();
        throw new AppError('RATE_LIMITED', {
          detail: 'Too many parts are being received right now; send this part again in a moment.',
        });
      }
      inFlight += 1;
      let plain: Buffer;
      try {
        plain = await readExactly(body, partLength(size, row.part_size, n));
      } catch (err) {
        inFlight -= 1;
        throw err;
      }
      try {
        const digest = createHash('sha256').update(plain).digest();
        // The digest is on record before any ciphertext of this part exists.
        const recorded = await store.recordPartDigest(db, id, n, digest);
        const previous = Buffer.from(recorded.plain_sha256);
        if (!timingSafeEqual(previous, digest))
          throw new ObjectFormatError(
            'PART_CONTENT_CHANGED',
            (n - 1) * (row.part_size / parseHeader(Buffer.from(row.header!)).segmentSize),
          );
        if (recorded.stored_size !== null)
          return { size: plain.length, alreadyStored: true, commit: async () => undefined };

        const enc = await deps.workspaceKeys.encryptorFor(ws);
        const dataKey = enc.unwrapDataKey(row.object_id, Buffer.from(row.wrapped_dek));
        const cipher = openObjectCipher(
          { dataKey, workspaceId: ws, objectId: row.object_id },
          Buffer.from(row.header!),
        );
        dataKey.fill(0);
        let sealed;
        try {
          sealed = encryptPart(cipher, {
            firstSegment: ((n - 1) * row.part_size) / cipher.segmentSize,
            plaintext: plain,
            final: n === count,
            previousSha256: previous,
          });
        } finally {
          cipher.contentKey.fill(0);
        }
        const key = partKey(row.object_id, n);
        await withDriver(ws, row.drive, async (d) => {
          await d.put(key, sealed.ciphertext, {
            contentLength: sealed.ciphertext.length,
            contentType: 'application/octet-stream',
          });
          const head = await d.head(key);
          if (!head || head.size !== sealed.ciphertext.length)
            throw new AppError('DRIVE_ERROR', { detail: 'The drive did not store the whole part.' });
        }).catch((err: unknown) => {
          throw driveFailure(err);
        });
        const storedSize = sealed.ciphertext.length;
        return {
          size: plain.length,
          alreadyStored: false,
          commit: (trx) => store.markPartStored(trx, id, n, storedSize, new Date(Date.now() + deps.ttlMs)),
        };
      } finally {
        plain.fill(0);
        inFlight -= 1;
      }
    },

    /**
     * Joins the stored parts into the version's object and verifies it end to end. Returns the
     * handle and result for `datasets.commit`; the caller commits, then calls `finish`.
     */
    async assemble(
      actor: Actor,
      ws: string,
      name: string,
      id: string,
    ): Promise<{ handle: UploadHandle; result: UploadResult; finish: () => Promise<void> }> {
      const row = await session(actor, ws, name, id);
      const size = Number(row.size);
      const count = partCountOf(size, row.part_size);
      const have = new Set(await received(db, id));
      const missing: number[] = [];
      for (let n = 1; n <= count && missing.length < 20; n++) if (!have.has(n)) missing.push(n);
      if (missing.length > 0)
        throw new AppError('CONFLICT', {
          detail: `Parts still missing: ${missing.join(', ')}${missing.length === 20 ? ', …' : ''}. Send them, then complete.`,
          meta: { missing },
        });

      // The session's segment size is its header's (fixed when it opened), not the default's.
      const storedSize = ciphertextSize(size, parseHeader(Buffer.from(row.header!)).segmentSize);
      const enc = await deps.workspaceKeys.encryptorFor(ws);
      let sha256 = '';
      let sample = Buffer.alloc(0);
      await withDriver(ws, row.drive, async (d) => {
        const parts = async function* () {
          for (let n = 1; n <= count; n++)
            yield* (await d.get(partKey(row.object_id, n))).body as AsyncIterable<Buffer>;
        };
        // One pass: the joined bytes are authenticated (every segment's tag, the exact size, the
        // key term) and hashed as they go to the drive; a failure aborts the put, which then
        // leaves no object (drives' puts are atomic).
        const dataKey = enc.unwrapDataKey(row.object_id, Buffer.from(row.wrapped_dek));
        const decoder = new ObjectDecoder({
          params: {
            dataKey,
            workspaceId: ws,
            objectId: row.object_id,
            expectedPlainSize: size,
            expectedKeyTerm: row.key_term,
          },
        });
        const hash = createHash('sha256');
        const head64: Buffer[] = [];
        let headBytes = 0;
        const consume = (out: Buffer[]) => {
          for (const chunk of out) {
            hash.update(chunk);
            if (headBytes < SNIFF_BYTES) {
              const take = Buffer.from(chunk.subarray(0, SNIFF_BYTES - headBytes));
              head64.push(take);
              headBytes += take.length;
            }
            chunk.fill(0);
          }
        };
        const verify = new Transform({
          highWaterMark: 4 * 1024 * 1024,
          transform(chunk: Buffer, _e, cb) {
            try {
              const out: Buffer[] = [];
              decoder.write(chunk, out);
              consume(out);
              cb(null, chunk);
            } catch (err) {
              cb(err as Error);
            }
          },
          flush(cb) {
            try {
              const out: Buffer[] = [];
              decoder.end(out);
              consume(out);
              cb();
            } catch (err) {
              cb(err as Error);
            }
          },
        });
        let refused: unknown;
        verify.on('error', (err) => (refused ??= err));
        pipeline(Readable.from(parts(), { highWaterMark: 4 * 1024 * 1024 }), verify).catch(() => undefined);
        try {
          await d.put(row.object_key, verify, { contentLength: storedSize, contentType: 'application/octet-stream' });
          const head = await d.head(row.object_key);
          if (!head || head.size !== storedSize)
            throw new AppError('DRIVE_ERROR', { detail: 'The drive did not store the whole object.' });
        } catch (err) {
          verify.destroy();
          if (refused instanceof ObjectFormatError) {
            throw new AppError('DECRYPTION_FAILED', {
              detail:
                'A stored part failed authentication (the drive returned other bytes than were stored). Cancel this upload and start again.',
              cause: refused,
            });
          }
          throw err;
        } finally {
          decoder.dispose();
          dataKey.fill(0); // the decoder derives its key when the header arrives
        }
        sha256 = hash.digest('hex');
        sample = Buffer.concat(head64);
        for (const b of head64) b.fill(0);
      }).catch((err: unknown) => {
        throw driveFailure(err);
      });
      if (row.expected_sha256 !== null && row.expected_sha256 !== sha256) {
        sample.fill(0);
        throw new AppError('VALIDATION_FAILED', {
          detail:
            'The SHA-256 of the uploaded parts does not match the one given when the upload was opened. Cancel it and upload again.',
        });
      }
      const detected = detectTabular(sample, { whole: size <= SNIFF_BYTES, filename: row.filename ?? undefined });
      sample.fill(0);
      return {
        handle: { ...handleOf(row), dataKey: Buffer.alloc(0) },
        result: { plainSize: size, sha256, storedSize, header: Buffer.from(row.header!), detected },
        finish: async () => {
          await deleteParts(row).catch(() => undefined);
          await store.deleteSession(db, id).catch(() => undefined);
        },
      };
    },

    /** Cancels a session: its part objects, the version's object and row go. */
    async cancel(actor: Actor, workspaceId: string, name: string, id: string): Promise<void> {
      const row = await session(actor, workspaceId, name, id);
      await withDriver(workspaceId, row.drive, async (d) => {
        await deleteParts(row, d);
        await deps.datasets.abandon(handleOf(row), d);
      });
    },

    /** The cleanup job: sessions past their expiry lose their parts, object and row. */
    async cleanup(): Promise<{ removed: number; failed: number }> {
      const rows = await store.endedSessions(db);
      let removed = 0;
      let failed = 0;
      for (const row of rows) {
        try {
          await deleteParts(row);
          if (row.state === 'uploading') await deps.datasets.abandon(handleOf(row));
          else await store.deleteSession(db, row.id);
          removed += 1;
        } catch {
          failed += 1;
        }
      }
      return { removed, failed };
    },
  };
}

export type UploadSessions = ReturnType<typeof createUploadSessions>;
