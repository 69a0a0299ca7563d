/** `alt=media` downloads with single byte ranges (206, 416), and the headers the SDK validates. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GcsHttpError } from './errors.ts';
import type { StoredObject } from './store.ts';

/**
 * Parses one `bytes=a-b`, `bytes=a-` or `bytes=-n` range against `size`. Returns undefined when
 * the header is absent or not a single byte range (ignored, as RFC 9110 allows); throws 416 when
 * the range cannot be satisfied.
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const unsatisfiable = (): GcsHttpError =>
    new GcsHttpError(416, 'requestedRangeNotSatisfiable', 'The requested range cannot be satisfied.', {
      headers: { 'content-range': `bytes */${size}` },
    });
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) throw unsatisfiable();
  return { start, end: m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1) };
}

export function sendMedia(req: IncomingMessage, res: ServerResponse, obj: StoredObject, corrupt = false): void {
  const data = corrupt && obj.data.length > 0 ? Buffer.from(obj.data) : obj.data;
  if (data !== obj.data) data[0] = data[0]! ^ 0xff;
  const size = obj.data.length;
  const range = parseRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, size);
  const hash = obj.md5Hash === undefined ? `crc32c=${obj.crc32c}` : `crc32c=${obj.crc32c},md5=${obj.md5Hash}`;
  const headers: Record<string, string | number> = {
    'content-type': obj.contentType,
    'x-goog-hash': hash,
    'x-goog-generation': String(obj.generation),
    'x-goog-metageneration': String(obj.metageneration),
    'x-goog-stored-content-encoding': 'identity',
    'x-goog-stored-content-length': size,
    'accept-ranges': 'bytes',
    'last-modified': obj.updated.toUTCString(),
    etag: `"${obj.md5Hash ?? obj.crc32c}"`,
  };
  if (!range) {
    res.writeHead(200, { ...headers, 'content-length': size });
    res.end(data);
    return;
  }
  res.writeHead(206, {
    ...headers,
    'content-length': range.end - range.start + 1,
    'content-range': `bytes ${range.start}-${range.end}/${size}`,
  });
  res.end(data.subarray(range.start, range.end + 1));
}
