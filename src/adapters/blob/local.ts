/**
 * Local-directory blob driver.
 *
 * Objects are files under `root`; a key's `/` segments are directories. Guarantees:
 * - Atomic puts: bytes go to a temp file in the target directory, are fsynced, then renamed (or,
 *   for create-if-absent, hard-linked, which fails if the name exists — exactly one racer wins).
 *   A put killed midway leaves only its temp file, which `delete` of the same key removes.
 * - Keys never leave `root`: `checkBlobKey` refuses `..`, absolute and empty segments, and names
 *   beginning with `.strongroom-` (our temp files and multipart staging) are refused as keys and
 *   hidden from listings.
 * - The root itself must already exist (BUCKET_NOT_FOUND otherwise); it is never created here.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobDriver, BlobInfo, ByteRange, GetResult, ListPage, MultipartUpload, PutOptions } from './driver.ts';
import { BlobError, checkBlobKey, checkBlobPrefix, resolveRange } from './driver.ts';

const RESERVED = '.strongroom-';
const STAGING = `${RESERVED}multipart`;
const MAX_PAGE = 1000;

export interface LocalDriverOptions {
  /** Absolute directory holding the objects. */
  root: string;
}

export function createLocalDriver(opts: LocalDriverOptions): BlobDriver {
  const root = path.resolve(opts.root);

  function fileOf(key: string): string {
    checkBlobKey(key);
    if (key.split('/').some((s) => s.startsWith(RESERVED)))
      throw new BlobError('INVALID_KEY', `object key segments may not begin with ${RESERVED}`);
    return path.join(root, ...key.split('/'));
  }

  async function requireRoot(): Promise<void> {
    try {
      if (!(await stat(root)).isDirectory())
        throw new BlobError('BUCKET_NOT_FOUND', 'the drive directory is not a directory');
    } catch (err) {
      throw normalise(err, 'the drive directory');
    }
  }

  async function writeAtomically(target: string, body: Readable | Buffer, exclusive: boolean): Promise<void> {
    await mkdir(path.dirname(target), { recursive: true });
    // The temp name carries the target's name, so `delete` can also remove what a crashed put left.
    const tmp = path.join(
      path.dirname(target),
      `${RESERVED}tmp-${path.basename(target)}-${randomBytes(9).toString('hex')}`,
    );
    try {
      const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 });
      await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, out);
      const fh = await open(tmp, 'r');
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
      if (exclusive) {
        await link(tmp, target).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'EEXIST') throw new BlobError('ALREADY_EXISTS', 'an object with that key exists');
          throw err;
        });
      } else {
        await rename(tmp, target);
      }
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async function info(key: string): Promise<BlobInfo | null> {
    try {
      const s = await stat(fileOf(key));
      if (!s.isFile()) return null;
      return { key, size: s.size, etag: `${s.mtimeMs.toString(16)}-${s.size.toString(16)}`, lastModified: s.mtime };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        await requireRoot();
        return null;
      }
      throw normalise(err, 'the object');
    }
  }

  /** Every key under `dir` (relative `base`), depth-first, in sorted order. */
  async function* walk(dir: string, base: string): AsyncGenerator<string> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw normalise(err, 'the drive directory');
    }
    // Sort by the key each entry produces so "a/…" and "a-…" interleave the way object stores sort.
    const named = entries
      .filter((e) => !e.name.startsWith(RESERVED))
      .map((e) => ({ e, key: base + e.name + (e.isDirectory() ? '/' : '') }));
    named.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const { e, key } of named) {
      if (e.isDirectory()) yield* walk(path.join(dir, e.name), key);
      else if (e.isFile()) yield key;
    }
  }

  return {
    kind: 'local',
    capabilities: { conditionalCreate: true, minPartSize: 1, maxParts: 10_000 },

    async put(key: string, body: Readable | Buffer, o: PutOptions = {}): Promise<BlobInfo> {
      const target = fileOf(key);
      await requireRoot();
      try {
        await writeAtomically(target, body, o.ifNoneMatch === true);
      } catch (err) {
        throw normalise(err, 'the object');
      }
      const written = await info(key);
      if (!written) throw new BlobError('FAILED', 'the object vanished after it was written');
      return written;
    },

    async get(key: string, range?: ByteRange): Promise<GetResult> {
      const file = fileOf(key);
      const i = await info(key);
      if (!i) throw new BlobError('NOT_FOUND', 'no object with that key');
      const r = resolveRange(range, i.size);
      const length = i.size === 0 ? 0 : r.end - r.start + 1;
      const body =
        length === 0
          ? Readable.from([])
          : createReadStream(file, { start: r.start, end: r.end, highWaterMark: 1 << 20 });
      return { body, size: i.size, length };
    },

    head: info,

    async list(prefix: string, o: { cursor?: string; limit?: number } = {}): Promise<ListPage> {
      checkBlobPrefix(prefix);
      await requireRoot();
      const limit = Math.min(Math.max(o.limit ?? MAX_PAGE, 1), MAX_PAGE);
      // Walk from the deepest directory the prefix names; filter the rest by string prefix.
      const slash = prefix.lastIndexOf('/');
      const dirPart = slash >= 0 ? prefix.slice(0, slash + 1) : '';
      const items: BlobInfo[] = [];
      for await (const key of walk(path.join(root, ...dirPart.split('/').filter(Boolean)), dirPart)) {
        if (!key.startsWith(prefix) || (o.cursor !== undefined && key <= o.cursor)) continue;
        if (items.length === limit) return { items, cursor: items[items.length - 1]!.key };
        const i = await info(key);
        if (i) items.push(i);
      }
      return { items };
    },

    async delete(key: string): Promise<void> {
      const file = fileOf(key);
      const leftovers = `${RESERVED}tmp-${path.basename(file)}-`;
      for (const name of await readdir(path.dirname(file)).catch(() => [] as string[])) {
        if (name.startsWith(leftovers)) await unlink(path.join(path.dirname(file), name)).catch(() => undefined);
      }
      try {
        await unlink(file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return requireRoot();
        throw normalise(err, 'the object');
      }
    },

    async createMultipart(key: string): Promise<MultipartUpload> {
      const target = fileOf(key);
      await requireRoot();
      const staging = path.join(root, STAGING, randomBytes(12).toString('hex'));
      await mkdir(staging, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
        throw normalise(err, 'the upload');
      });
      const partFile = (n: number) => path.join(staging, String(n).padStart(5, '0'));
      const parts = new Set<number>();
      let done = false;
      return {
        async putPart(n: number, body: Readable | Buffer, length: number): Promise<void> {
          if (done) throw new BlobError('PRECONDITION_FAILED', 'the upload is finished');
          if (!Number.isInteger(n) || n < 1 || n > 10_000)
            throw new BlobError('FAILED', 'part numbers run from 1 to 10000');
          // A full or failing disk is the drive's answer (FULL → 507), as for a whole-object put.
          await writeAtomically(partFile(n), body, false).catch((err: unknown) => {
            throw normalise(err, `part ${n}`);
          });
          const written = (await stat(partFile(n))).size;
          if (written !== length)
            throw new BlobError('FAILED', `part ${n} has ${written} bytes, ${length} were declared`);
          parts.add(n);
        },
        async complete(): Promise<BlobInfo> {
          if (done) throw new BlobError('PRECONDITION_FAILED', 'the upload is finished');
          done = true;
          const ordered = [...parts].sort((a, b) => a - b);
          const joined = Readable.from(
            (async function* () {
              for (const n of ordered) yield* createReadStream(partFile(n), { highWaterMark: 1 << 20 });
            })(),
          );
          try {
            await writeAtomically(target, joined, false);
          } catch (err) {
            throw normalise(err, 'the object');
          } finally {
            await rm(staging, { recursive: true, force: true });
          }
          const written = await info(key);
          if (!written) throw new BlobError('FAILED', 'the object vanished after it was written');
          return written;
        },
        async abort(): Promise<void> {
          done = true;
          await rm(staging, { recursive: true, force: true });
        },
      };
    },

    probe: requireRoot,

    async close(): Promise<void> {},
  };
}

function normalise(err: unknown, what: string): BlobError {
  if (err instanceof BlobError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new BlobError('BUCKET_NOT_FOUND', 'the drive directory does not exist', { cause: err });
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
    return new BlobError('PERMISSION_DENIED', `no permission to write ${what}`, { cause: err });
  if (code === 'ENOSPC' || code === 'EDQUOT') return new BlobError('FULL', 'the drive is full', { cause: err });
  if (code === 'EISDIR' || code === 'ENOTDIR' || code === 'EEXIST')
    return new BlobError('PRECONDITION_FAILED', `${what} conflicts with a directory of the same name`, { cause: err });
  return new BlobError('FAILED', `the drive failed to store ${what}`, { cause: err });
}
