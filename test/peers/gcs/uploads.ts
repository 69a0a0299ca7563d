/**
 * Object uploads of the GCS peer: `uploadType=media`, `multipart` (multipart/related) and
 * `resumable` (session URI, chunks with Content-Range, 308 + Range, status queries, cancel).
 *
 * Every upload becomes visible only when it is complete and its hashes and preconditions hold;
 * an interrupted request never leaves a partial object. An interrupted resumable chunk keeps only
 * whole 256 KiB units of what arrived (GCS "may persist fewer bytes than sent"), so clients must
 * honour the Range the peer reports.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, GcsHttpError, notFound } from './errors.ts';
import { parseGoogHash, parseJsonObject, type Query, readBody, sendError, sendJson } from './http-util.ts';
import { objectResource } from './resources.ts';
import { checkObjectName, type GcsStore, type NewObject, type Preconditions, type StoredObject } from './store.ts';

export const RESUMABLE_UNIT = 256 * 1024;

export interface UploadDeps {
  store: GcsStore;
  base: () => string;
  maxObjectBytes: number;
  /** Bytes after which the next resumable chunk's connection is dropped (fault injection). */
  takeChunkCut: () => number | undefined;
}

interface Session {
  id: string;
  bucket: string;
  name: string;
  input: Omit<NewObject, 'data'>;
  pre: Preconditions;
  declaredSize?: number;
  chunks: Buffer[];
  received: number;
  result?: StoredObject;
  failed?: GcsHttpError;
  cancelled?: boolean;
}

const METADATA_FIELDS = new Set(['name', 'bucket', 'contentType', 'metadata', 'md5Hash', 'crc32c']);

/** Object metadata sent with an upload; fields the peer would silently ignore are refused. */
export function uploadMetadata(
  meta: Record<string, unknown>,
  bucket: string,
): { name?: string; input: Omit<NewObject, 'data'> } {
  for (const k of Object.keys(meta))
    if (!METADATA_FIELDS.has(k)) throw badRequest(`The peer does not support object field: ${k}`);
  const input: Omit<NewObject, 'data'> = {};
  const str = (k: string): string | undefined => {
    const v = meta[k];
    if (v !== undefined && typeof v !== 'string') throw badRequest(`Invalid value for field ${k}`);
    return v;
  };
  if (str('bucket') !== undefined && meta['bucket'] !== bucket)
    throw badRequest('Bucket in metadata does not match the request.');
  const contentType = str('contentType');
  if (contentType !== undefined) input.contentType = contentType;
  const md5Hash = str('md5Hash');
  if (md5Hash !== undefined) input.md5Hash = md5Hash;
  const crc = str('crc32c');
  if (crc !== undefined) input.crc32c = crc;
  if (meta['metadata'] !== undefined) {
    const m = meta['metadata'];
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw badRequest('Invalid value for field metadata');
    const custom: Record<string, string> = {};
    for (const [k, v] of Object.entries(m)) custom[k] = String(v);
    input.metadata = custom;
  }
  const name = str('name');
  return name === undefined ? { input } : { name, input };
}

function objectName(q: Query, fromMeta?: string): string {
  const fromQuery = q.str('name');
  if (fromQuery !== undefined && fromMeta !== undefined && fromQuery !== fromMeta)
    throw badRequest('Object name in metadata does not match the name parameter.');
  const name = fromQuery ?? fromMeta;
  if (name === undefined) throw badRequest('Required parameter: name', 'required');
  return checkObjectName(name);
}

/** Splits a two-part multipart/related body into JSON metadata and media. */
export function parseMultipart(
  contentType: string | undefined,
  body: Buffer,
): { meta: Buffer; media: Buffer; mediaType?: string } {
  const m = /^multipart\/related\s*;.*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  if (!m) throw badRequest('Multipart upload needs Content-Type multipart/related with a boundary.');
  const boundary = m[1] ?? m[2]!;
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const text = Buffer.concat([Buffer.from('\r\n'), body]);
  const parts: Buffer[] = [];
  let at = text.indexOf(delimiter);
  if (at !== 0) throw badRequest('Multipart body does not start with the boundary.');
  for (;;) {
    const after = at + delimiter.length;
    if (text.subarray(after, after + 2).toString() === '--') break;
    if (text.subarray(after, after + 2).toString() !== '\r\n') throw badRequest('Malformed multipart boundary line.');
    const next = text.indexOf(delimiter, after + 2);
    if (next < 0) throw badRequest('Multipart body is not terminated.');
    parts.push(text.subarray(after + 2, next));
    at = next;
  }
  if (parts.length !== 2) throw badRequest(`Multipart upload needs exactly 2 parts, got ${parts.length}.`);
  const split = parts.map((p) => {
    const end = p.indexOf('\r\n\r\n');
    if (end < 0) throw badRequest('Multipart part has no header block.');
    const headers = new Map<string, string>();
    for (const line of p.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon < 0) throw badRequest('Malformed multipart part header.');
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    return { headers, body: p.subarray(end + 4) };
  });
  const [metaPart, mediaPart] = split as [(typeof split)[0], (typeof split)[0]];
  if (!/^application\/json\b/i.test(metaPart.headers.get('content-type') ?? ''))
    throw badRequest('The first multipart part must be application/json metadata.');
  const mediaType = mediaPart.headers.get('content-type');
  return mediaType === undefined
    ? { meta: metaPart.body, media: mediaPart.body }
    : { meta: metaPart.body, media: mediaPart.body, mediaType };
}

export class Uploads {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly deps: UploadDeps) {}

  /** POST /upload/storage/v1/b/{bucket}/o — caller already authorised for writing. */
  async start(req: IncomingMessage, res: ServerResponse, bucket: string, q: Query): Promise<void> {
    const { store } = this.deps;
    store.bucket(bucket);
    const uploadType = q.str('uploadType');
    const pre = q.preconditions();
    if (uploadType === 'media') {
      const { data, complete } = await readBody(req, this.deps.maxObjectBytes);
      if (!complete) return;
      const input: NewObject = { data, ...parseGoogHash(req.headers['x-goog-hash']) };
      if (req.headers['content-type']) input.contentType = req.headers['content-type'];
      this.reply(res, store.insert(bucket, objectName(q), input, pre));
    } else if (uploadType === 'multipart') {
      const { data, complete } = await readBody(req, this.deps.maxObjectBytes + 64 * 1024);
      if (!complete) return;
      const parts = parseMultipart(req.headers['content-type'], data);
      const meta = uploadMetadata(parseJsonObject(parts.meta), bucket);
      const input: NewObject = { ...meta.input, data: parts.media, ...parseGoogHash(req.headers['x-goog-hash']) };
      if (input.contentType === undefined && parts.mediaType !== undefined) input.contentType = parts.mediaType;
      this.reply(res, store.insert(bucket, objectName(q, meta.name), input, pre));
    } else if (uploadType === 'resumable') {
      const { data, complete } = await readBody(req, 64 * 1024);
      if (!complete) return;
      const meta = uploadMetadata(parseJsonObject(data), bucket);
      const name = objectName(q, meta.name);
      store.checkWrite(store.bucket(bucket).objects.get(name), pre);
      const session: Session = {
        id: randomBytes(24).toString('base64url'),
        bucket,
        name,
        input: meta.input,
        pre,
        chunks: [],
        received: 0,
      };
      const type = req.headers['x-upload-content-type'];
      if (typeof type === 'string' && session.input.contentType === undefined) session.input.contentType = type;
      const declared = req.headers['x-upload-content-length'];
      if (declared !== undefined) {
        if (typeof declared !== 'string' || !/^\d+$/.test(declared))
          throw badRequest('Invalid X-Upload-Content-Length.');
        session.declaredSize = Number(declared);
      }
      this.sessions.set(session.id, session);
      // The session URI names the host the request reached (a client behind a proxy or on a
      // private endpoint sends its chunks the same way); the scheme is the peer's own.
      const host = req.headers.host;
      const base = host ? `${new URL(this.deps.base()).protocol}//${host}` : this.deps.base();
      const location = `${base}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${session.id}`;
      res.writeHead(200, { location, 'x-guploader-uploadid': session.id, 'content-length': 0 });
      res.end();
    } else {
      throw badRequest(`Invalid upload type: ${uploadType ?? '(none)'}`, 'invalidParameter');
    }
  }

  /** PUT to a session URI. The session id is the credential, as on GCS. */
  async put(req: IncomingMessage, res: ServerResponse, bucket: string, q: Query): Promise<void> {
    const s = this.session(bucket, q);
    const range = parseContentRange(req.headers['content-range']);
    const cut = range.kind === 'query' ? undefined : this.deps.takeChunkCut();
    const { data, complete } = await readBody(req, this.deps.maxObjectBytes, cut);
    if (s.cancelled) throw new GcsHttpError(499, 'clientClosedRequest', 'The upload session was cancelled.');
    if (s.failed) throw s.failed;
    if (s.result) return this.reply(res, s.result);
    if (!complete) {
      if (range.kind !== 'query' && range.start === s.received) this.keep(s, data, RESUMABLE_UNIT);
      return;
    }
    if (range.kind === 'query') {
      if (data.length > 0) throw badRequest('A status query must not carry a body.');
      if (range.total !== undefined && range.total === s.received) return this.finish(res, req, s);
      return this.incomplete(res, s);
    }
    if (range.start !== s.received)
      throw badRequest(`Chunk starts at ${range.start} but ${s.received} bytes are persisted.`);
    if (range.end !== undefined && range.end - range.start + 1 !== data.length)
      throw badRequest('Content-Range does not match the body length.');
    const end = range.start + data.length;
    if (range.total !== undefined && end > range.total)
      throw badRequest('Chunk extends beyond the declared total size.');
    if (range.end === undefined || end === range.total) {
      if (range.total !== undefined && end !== range.total)
        throw badRequest('Upload ended before the declared total size.');
      this.keep(s, data, 1);
      return this.finish(res, req, s);
    }
    this.keep(s, data, RESUMABLE_UNIT);
    this.incomplete(res, s);
  }

  /** DELETE to a session URI cancels it; GCS answers 499. */
  cancel(res: ServerResponse, bucket: string, q: Query): void {
    const s = this.session(bucket, q);
    s.cancelled = true;
    s.chunks = [];
    sendError(res, new GcsHttpError(499, 'clientClosedRequest', 'The upload session was cancelled.'));
  }

  private session(bucket: string, q: Query): Session {
    if (q.str('uploadType') !== 'resumable')
      throw badRequest('Session requests need uploadType=resumable.', 'invalidParameter');
    const s = this.sessions.get(q.str('upload_id') ?? '');
    if (!s || s.bucket !== bucket) throw notFound('No such upload session.');
    return s;
  }

  /** Persists `data` (which starts at s.received), keeping only whole multiples of `unit` of the total. */
  private keep(s: Session, data: Buffer, unit: number): void {
    const total = s.received + data.length;
    const kept = unit === 1 ? data.length : Math.floor(total / unit) * unit - s.received;
    if (kept <= 0) return;
    s.chunks.push(Buffer.from(data.subarray(0, kept)));
    s.received += kept;
  }

  private incomplete(res: ServerResponse, s: Session): void {
    const headers: Record<string, string | number> = { 'content-length': 0, 'x-guploader-uploadid': s.id };
    if (s.received > 0) headers['range'] = `bytes=0-${s.received - 1}`;
    res.writeHead(308, headers);
    res.end();
  }

  private finish(res: ServerResponse, req: IncomingMessage, s: Session): void {
    try {
      if (s.declaredSize !== undefined && s.declaredSize !== s.received)
        throw badRequest('Upload size differs from X-Upload-Content-Length.');
      const input: NewObject = {
        ...s.input,
        data: Buffer.concat(s.chunks),
        ...parseGoogHash(req.headers['x-goog-hash']),
      };
      s.result = this.deps.store.insert(s.bucket, s.name, input, s.pre);
      s.chunks = [];
      this.reply(res, s.result);
    } catch (err) {
      if (err instanceof GcsHttpError) s.failed = err;
      throw err;
    }
  }

  private reply(res: ServerResponse, obj: StoredObject): void {
    sendJson(res, 200, objectResource(this.deps.base(), obj));
  }
}

type ContentRange = { kind: 'query'; total?: number } | { kind: 'chunk'; start: number; end?: number; total?: number };

/** `bytes a-b/T`, `bytes a-*\/T` (to the end of this request), `bytes *\/T` (status); T may be `*`. */
export function parseContentRange(header: string | undefined): ContentRange {
  if (header === undefined) return { kind: 'chunk', start: 0 };
  const total = (t: string): number | undefined => (t === '*' ? undefined : Number(t));
  let m = /^bytes \*\/(\*|\d+)$/.exec(header);
  if (m) return { kind: 'query', total: total(m[1]!) } as ContentRange;
  m = /^bytes (\d+)-(\d+|\*)\/(\*|\d+)$/.exec(header);
  if (!m) throw badRequest(`Malformed Content-Range: ${header}`);
  const start = Number(m[1]);
  const end = m[2] === '*' ? undefined : Number(m[2]);
  if (end !== undefined && end < start) throw badRequest(`Malformed Content-Range: ${header}`);
  const r: ContentRange = { kind: 'chunk', start };
  if (end !== undefined) r.end = end;
  const t = total(m[3]!);
  if (t !== undefined) r.total = t;
  return r;
}
