/**
 * Object uploads of the GCS driver, sent over the JSON API by the driver itself (not through the
 * SDK's write stream, which cannot resend a stream it has consumed), so that one transient failure
 * is retried instead of failing the caller's upload:
 *
 * - The body is read a chunk of `chunkSize` bytes (a multiple of 256 KiB) at a time into one
 *   buffer reused for every chunk: that chunk, plus what the HTTP request holds of it while it is
 *   sent, is what an upload holds in memory, whatever the object's size (measured: about two
 *   chunks at the peak, docs/reliability.md).
 * - A body that ends within the first chunk is one `uploadType=media` request, resent whole when it
 *   fails transiently.
 * - A longer body opens a resumable session (`uploadType=resumable`) and sends one chunk per PUT
 *   (`Content-Range: bytes a-b/*`, the last one with its total). After a transient failure the
 *   session is asked what it persisted (`Content-Range: bytes *\/*`) and sending resumes from that
 *   offset out of the chunk still held. The object exists only once the last byte is in, so an
 *   upload that fails leaves no object; its session is cancelled (DELETE, best effort).
 * - Transient: 408, 429 and 5xx answers, and a connection reset, refused or timed out. Each
 *   request is tried at most `1 + maxRetries` times in a row without progress, waiting
 *   random(0, min(8 s, 0.5 s × 2^attempt)) before each retry.
 * - The last request carries `X-Goog-Hash: md5=…` of the whole body: GCS refuses an object whose
 *   bytes differ from what was read.
 * - A session URI on another origin than the API endpoint is refused (the bearer token goes only
 *   where the drive was configured to send it).
 *
 * Errors thrown keep the HTTP status as `code` (a number) or the connection error as it came, so
 * gcs-errors.ts maps them like the SDK's.
 */
import { createHash, type Hash, randomInt } from 'node:crypto';
import type { Agent as HttpAgent } from 'node:http';
import type { Readable } from 'node:stream';
import type { AuthClient } from 'google-auth-library';

export const RESUMABLE_UNIT = 256 * 1024;
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

export interface UploadTarget {
  auth: AuthClient;
  /** `https://storage.googleapis.com` or a test endpoint, without a trailing slash. */
  endpoint: string;
  bucket: string;
  /** The full object name (prefix included). */
  name: string;
  contentType: string;
  /** Create-if-absent (`ifGenerationMatch=0`). */
  ifAbsent?: boolean;
  agent?: HttpAgent;
  /** Timeout of the requests that carry no body (session start, status query, cancel). */
  timeoutMs: number;
  maxRetries: number;
  chunkSize: number;
}

/** The object resource GCS answers when an upload completes. */
export type ObjectResource = { size?: string | number; generation?: string | number; updated?: string };

interface Answer {
  status: number;
  headers: Record<string, string>;
  data: unknown;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const isTransientStatus = (s: number) => s === 408 || s === 429 || s >= 500;

function isTransientError(err: unknown): boolean {
  const e = err as { code?: unknown; type?: unknown; name?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'number') return isTransientStatus(e.code);
  return (
    (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) ||
    e.type === 'request-timeout' ||
    e.name === 'AbortError'
  );
}

/** An answer the upload cannot go on from: its status travels as `code`, as the SDK's errors do. */
function statusError(what: string, status: number): Error {
  return Object.assign(new Error(`${what}: HTTP ${status}`), { code: status });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const backoffMs = (attempt: number) => randomInt(0, Math.min(8000, 500 * 2 ** attempt) + 1);

/**
 * Reads the body a chunk at a time, hashing every byte once. A chunk made of one piece of the
 * source is that piece; one made of several is copied into one buffer of `size` bytes, allocated
 * at the first full chunk and reused for every later one (a body within one chunk never allocates it).
 */
class ChunkReader {
  private buf: Buffer | undefined;
  private readonly source: AsyncIterator<Buffer | string | Uint8Array>;
  private carry: Buffer | undefined;
  private ended = false;
  readonly md5: Hash = createHash('md5');
  /** Bytes read from the source so far (the end of the current chunk). */
  total = 0;

  constructor(
    body: Readable | Buffer,
    private readonly chunkSize: number,
  ) {
    this.source = Buffer.isBuffer(body)
      ? ([body][Symbol.iterator]() as unknown as AsyncIterator<Buffer>)
      : body[Symbol.asyncIterator]();
  }

  /** The next chunk (a view valid until the next call) and whether the body ended with it. */
  async next(): Promise<{ data: Buffer; end: boolean }> {
    const parts: Buffer[] = [];
    let n = 0;
    while (n < this.chunkSize && !this.ended) {
      let piece = this.carry;
      this.carry = undefined;
      if (!piece) {
        const r = await this.source.next();
        if (r.done) {
          this.ended = true;
          break;
        }
        piece = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
      }
      const take = Math.min(piece.length, this.chunkSize - n);
      if (take < piece.length) this.carry = piece.subarray(take);
      parts.push(piece.subarray(0, take));
      n += take;
    }
    const data = this.gather(parts, n);
    this.md5.update(data);
    this.total += n;
    // A full chunk with nothing carried over may still be the last: the next call tells (empty, end).
    return { data, end: this.ended && this.carry === undefined };
  }

  private gather(parts: Buffer[], n: number): Buffer {
    if (parts.length === 1) return parts[0]!;
    if (!this.buf && n < this.chunkSize) return Buffer.concat(parts, n);
    this.buf ??= Buffer.allocUnsafe(this.chunkSize);
    let at = 0;
    for (const p of parts) at += p.copy(this.buf, at);
    return this.buf.subarray(0, n);
  }

  /** Stops reading: the source stream is destroyed (as a failed pipeline would). */
  async close(): Promise<void> {
    await this.source.return?.();
  }
}

/** Uploads `body` to `t.name`; resolves the object resource GCS answered. */
export async function uploadObject(t: UploadTarget, body: Readable | Buffer): Promise<ObjectResource> {
  const reader = new ChunkReader(body, t.chunkSize);
  let done = false;
  try {
    const first = await reader.next();
    const object = first.end
      ? await sendMedia(t, first.data, reader.md5.digest('base64'))
      : await sendResumable(t, reader, first.data);
    done = true;
    return object;
  } finally {
    if (!done) await reader.close().catch(() => undefined);
  }
}

/** One request; 4xx/5xx come back as answers, connection failures as errors. */
async function send(
  t: UploadTarget,
  opts: {
    method: 'POST' | 'PUT' | 'DELETE';
    url: string;
    headers: Record<string, string>;
    data?: Buffer;
    params?: Record<string, string>;
  },
  timeout: boolean,
): Promise<Answer> {
  const res = await t.auth.request({
    ...opts,
    ...(t.agent ? { agent: t.agent } : {}),
    ...(timeout ? { timeout: t.timeoutMs } : {}),
    validateStatus: () => true,
    retry: false,
  });
  const headers: Record<string, string> = {};
  const raw = res.headers as Record<string, unknown>;
  for (const [k, v] of Object.entries(raw ?? {})) if (typeof v === 'string') headers[k.toLowerCase()] = v;
  return { status: res.status, headers, data: res.data };
}

/** Sends until `ok` accepts an answer, retrying transient failures with backoff. */
async function withRetries<T>(
  t: UploadTarget,
  what: string,
  attempt: () => Promise<Answer>,
  ok: (a: Answer) => T | undefined,
): Promise<T> {
  for (let tries = 0; ; tries++) {
    let failure: unknown;
    try {
      const a = await attempt();
      const value = ok(a);
      if (value !== undefined) return value;
      failure = statusError(what, a.status);
    } catch (err) {
      failure = err;
    }
    if (tries >= t.maxRetries || !isTransientError(failure)) throw failure;
    await sleep(backoffMs(tries));
  }
}

function uploadUrl(t: UploadTarget): string {
  return `${t.endpoint}/upload/storage/v1/b/${encodeURIComponent(t.bucket)}/o`;
}

function params(t: UploadTarget, uploadType: string): Record<string, string> {
  return { uploadType, name: t.name, ...(t.ifAbsent ? { ifGenerationMatch: '0' } : {}) };
}

const objectOf = (a: Answer): ObjectResource | undefined =>
  (a.status === 200 || a.status === 201) && typeof a.data === 'object' && a.data !== null
    ? (a.data as ObjectResource)
    : undefined;

async function sendMedia(t: UploadTarget, data: Buffer, md5: string): Promise<ObjectResource> {
  const headers = { 'content-type': t.contentType, 'x-goog-hash': `md5=${md5}` };
  return withRetries(
    t,
    'GCS upload',
    () => send(t, { method: 'POST', url: uploadUrl(t), params: params(t, 'media'), headers, data }, false),
    objectOf,
  );
}

async function startSession(t: UploadTarget): Promise<string> {
  const headers = { 'content-type': 'application/json; charset=UTF-8', 'x-upload-content-type': t.contentType };
  const data = Buffer.from(JSON.stringify({ contentType: t.contentType }));
  const uri = await withRetries(
    t,
    'GCS upload session',
    () => send(t, { method: 'POST', url: uploadUrl(t), params: params(t, 'resumable'), headers, data }, true),
    (a) => (a.status === 200 || a.status === 201 ? (a.headers['location'] ?? '') : undefined),
  );
  if (uri === '' || new URL(uri, t.endpoint).origin !== new URL(t.endpoint).origin)
    throw new Error('GCS upload session: the session URI is missing or on another host');
  return new URL(uri, t.endpoint).href;
}

/** The persisted offset a 308 reports (`Range: bytes=0-N` → N+1; no Range → 0). */
function persisted(a: Answer): number {
  const m = /^bytes=0-(\d+)$/.exec(a.headers['range'] ?? '');
  return m ? Number(m[1]) + 1 : 0;
}

async function sendResumable(t: UploadTarget, reader: ChunkReader, first: Buffer): Promise<ObjectResource> {
  const uri = await startSession(t);
  try {
    let chunk = first;
    let end = false;
    for (;;) {
      const start = reader.total - chunk.length;
      const total = end ? String(reader.total) : '*';
      const extra: Record<string, string> = end ? { 'x-goog-hash': `md5=${reader.md5.digest('base64')}` } : {};
      const object = await sendChunk(t, uri, chunk, start, total, extra);
      if (object) return object;
      if (end) throw new Error('GCS upload: the session did not complete after its last byte');
      ({ data: chunk, end } = await reader.next());
    }
  } catch (err) {
    await cancelSession(t, uri);
    throw err;
  }
}

/**
 * Sends `chunk` (bytes `start…` of the object), resuming from what the session persisted after a
 * transient failure or a partial acceptance. Resolves the object when this was the last chunk.
 */
async function sendChunk(
  t: UploadTarget,
  uri: string,
  chunk: Buffer,
  start: number,
  total: string,
  extra: Record<string, string>,
): Promise<ObjectResource | undefined> {
  const end = start + chunk.length;
  let offset = start;
  let tries = 0;
  for (;;) {
    let failure: unknown;
    let answer: Answer | undefined;
    try {
      const rest = chunk.subarray(offset - start);
      const range = rest.length === 0 ? `bytes */${total}` : `bytes ${offset}-${end - 1}/${total}`;
      const headers = { 'content-range': range, 'content-type': t.contentType, ...extra };
      answer = await send(t, { method: 'PUT', url: uri, headers, data: rest }, rest.length === 0);
      if (answer.status !== 308) failure = statusError('GCS upload chunk', answer.status);
    } catch (err) {
      failure = err;
    }
    if (answer && objectOf(answer)) return objectOf(answer);
    if (failure !== undefined) {
      if (tries >= t.maxRetries || !isTransientError(failure)) throw failure;
      await sleep(backoffMs(tries++));
      answer = await querySession(t, uri);
      if (objectOf(answer)) return objectOf(answer);
    }
    // A 308: GCS may keep fewer bytes than were sent; go on from what it reports.
    const at = persisted(answer!);
    if (at < start || at > end) throw new Error('GCS upload: the session reports bytes outside this chunk');
    if (at === end && total === '*') return undefined;
    if (at > offset) tries = 0;
    else if (failure === undefined && tries++ >= t.maxRetries) throw statusError('GCS upload chunk', 308);
    offset = at;
  }
}

/** What the session holds: a 308 with its Range, or the object when it already completed. */
async function querySession(t: UploadTarget, uri: string): Promise<Answer> {
  return withRetries(
    t,
    'GCS upload status',
    () => send(t, { method: 'PUT', url: uri, headers: { 'content-range': 'bytes */*' } }, true),
    (a) => (a.status === 308 || objectOf(a) ? a : undefined),
  );
}

async function cancelSession(t: UploadTarget, uri: string): Promise<void> {
  try {
    await send(t, { method: 'DELETE', url: uri, headers: {} }, true);
  } catch {
    // Best effort: an abandoned session holds no object, and GCS drops it after a week.
  }
}
