/**
 * Dataset uploads and downloads for the CLI, streamed end to end: a file is never held in memory.
 *
 * Upload makes two passes over the file: the first computes its SHA-256 and size, the second
 * streams it with `?size=&sha256=`, so the server refuses (and removes) a version whose bytes
 * differ from the file on disk — a file changed during the upload cannot become a version.
 *
 * Download writes to a temporary file beside the target, checks the whole download against the
 * `x-content-sha256` header, fsyncs and renames it into place; on any failure the temporary file
 * is deleted and the target is left untouched.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { paths } from '../client/api.ts';
import type { DatasetVersion } from '../contracts/index.ts';
import { streamCall, type Credentials } from './credentials.ts';
import { CliExit } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { startProgress } from './progress.ts';

export type VersionOut = DatasetVersion;

const MEDIA_TYPES: Record<string, string> = {
  '.csv': 'text/csv',
  '.tsv': 'text/tab-separated-values',
  '.json': 'application/json',
  '.jsonl': 'application/x-ndjson',
  '.ndjson': 'application/x-ndjson',
  '.parquet': 'application/vnd.apache.parquet',
  '.txt': 'text/plain',
  '.gz': 'application/gzip',
  '.zip': 'application/zip',
};

/** The media type a file name suggests; the server detects tabular formats itself. */
export const mediaTypeOf = (file: string) =>
  MEDIA_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';

/** SHA-256 (hex) and size of a file, read as a stream. */
export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

export interface UploadOptions {
  workspace: string;
  drive?: string;
  tag?: string[];
  description?: string;
  quiet?: boolean;
}

/** Uploads one file as the next version of `name`; returns the committed version. */
export async function uploadFile(c: Credentials, name: string, file: string, o: UploadOptions): Promise<VersionOut> {
  const { sha256, size } = await hashFile(file);
  if (size === 0) throw new CliExit(EXIT.USAGE, `${file} is empty: there is nothing to upload.`);
  const url = paths.datasetVersions(o.workspace, name, {
    size,
    sha256,
    filename: path.basename(file),
    mediaType: mediaTypeOf(file),
    drive: o.drive || undefined,
    description: o.description,
    tag: o.tag ?? [],
  });
  const progress = startProgress(`upload ${name}`, size, { quiet: o.quiet });
  const source = createReadStream(file, { highWaterMark: 1024 * 1024 });
  source.pipe(progress.meter);
  try {
    const res = await streamCall(c, 'PUT', url, {
      upload: progress.meter,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    });
    const chunks: Buffer[] = [];
    for await (const chunk of res.body) chunks.push(chunk as Buffer);
    progress.done(true);
    return (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { version: VersionOut }).version;
  } catch (err) {
    progress.done(false);
    source.destroy();
    throw err;
  }
}

/** Checks the SHA-256 and length of what passes through, at the end. */
class Verify extends Transform {
  readonly #hash = createHash('sha256');
  #bytes = 0;
  constructor(private readonly expected: { sha256?: string | undefined; length?: number | undefined }) {
    super({ highWaterMark: 4 * 1024 * 1024 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    if (this.expected.length !== undefined && this.#bytes !== this.expected.length)
      return cb(new CliExit(EXIT.FAILED, `the download ended after ${this.#bytes} of ${this.expected.length} bytes`));
    if (this.expected.sha256 && this.#hash.digest('hex') !== this.expected.sha256)
      return cb(new CliExit(EXIT.FAILED, 'the downloaded data does not match its SHA-256'));
    cb();
  }
}

export interface DownloadOptions {
  workspace: string;
  range?: string;
  quiet?: boolean;
}

/** Streams version `v` of `name` (or a byte range) to `out` (a path, or '-' for standard output). */
export async function downloadVersion(
  c: Credentials,
  name: string,
  v: number,
  out: string,
  o: DownloadOptions,
): Promise<{ bytes: number; sha256Checked: boolean }> {
  const range = o.range === undefined ? undefined : parseRangeOption(o.range);
  const res = await streamCall(
    c,
    'GET',
    paths.datasetContent(o.workspace, name, v),
    range ? { headers: { range } } : {},
  );
  const length = Number(res.headers['content-length']);
  const sha =
    !range &&
    typeof res.headers['x-content-sha256'] === 'string' &&
    /^[0-9a-f]{64}$/.test(res.headers['x-content-sha256'])
      ? res.headers['x-content-sha256']
      : undefined;
  const verify = new Verify({ sha256: sha, length: Number.isFinite(length) ? length : undefined });
  const progress = startProgress(`download ${name} v${v}`, Number.isFinite(length) ? length : undefined, {
    quiet: o.quiet,
  });
  if (out === '-') {
    try {
      await pipeline(res.body, verify, progress.meter, process.stdout as unknown as Writable, { end: false });
    } catch (err) {
      progress.done(false);
      throw err;
    }
    progress.done(true);
    return { bytes: length, sha256Checked: sha !== undefined };
  }
  const target = path.resolve(out);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.part`);
  try {
    await pipeline(
      res.body,
      verify,
      progress.meter,
      createWriteStream(tmp, { flags: 'wx', mode: 0o600, highWaterMark: 4 * 1024 * 1024 }),
    );
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (err) {
    progress.done(false);
    res.body.destroy();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  progress.done(true);
  return { bytes: (await stat(target)).size, sha256Checked: sha !== undefined };
}

/** `a-b`, `a-` or `-n` (bytes, inclusive, like HTTP) → a Range header value. */
export function parseRangeOption(s: string): string {
  if (!/^(\d+-\d*|-\d+)$/.test(s))
    throw new CliExit(EXIT.USAGE, `--range must look like 0-1023, 1024- or -512 (bytes, inclusive): got ${s}`);
  return `bytes=${s}`;
}
