/** Request plumbing for the GCS peer: strict query parsing, bodies, JSON replies, faults. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, GcsHttpError } from './errors.ts';
import type { Preconditions } from './store.ts';

/** Parameters every JSON API route accepts and that change nothing here. */
const HARMLESS = ['alt', 'fields', 'prettyPrint', 'projection', 'userProject', 'quotaUser'];

/** Query parameters of one request; anything outside `allowed` (or repeated) is a 400. */
export class Query {
  private readonly values = new Map<string, string>();

  constructor(params: URLSearchParams, allowed: readonly string[]) {
    const ok = new Set([...HARMLESS, ...allowed]);
    for (const [k, v] of params) {
      if (!ok.has(k)) throw badRequest(`Unsupported parameter: ${k}`, 'invalidParameter');
      if (this.values.has(k)) throw badRequest(`Repeated parameter: ${k}`, 'invalidParameter');
      this.values.set(k, v);
    }
    const alt = this.values.get('alt');
    if (alt !== undefined && alt !== 'json' && alt !== 'media')
      throw badRequest(`Invalid value for alt: ${alt}`, 'invalidParameter');
    const projection = this.values.get('projection');
    if (projection !== undefined && projection !== 'full' && projection !== 'noAcl')
      throw badRequest(`Invalid projection: ${projection}`, 'invalidParameter');
  }

  str(name: string): string | undefined {
    return this.values.get(name);
  }

  /** A non-negative integer parameter (GCS sends int64 as decimal strings). */
  int(name: string): number | undefined {
    const v = this.values.get(name);
    if (v === undefined) return undefined;
    if (!/^\d{1,16}$/.test(v)) throw badRequest(`Invalid value for ${name}: ${v}`, 'invalidParameter');
    return Number(v);
  }

  bool(name: string): boolean | undefined {
    const v = this.values.get(name);
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false') throw badRequest(`Invalid value for ${name}: ${v}`, 'invalidParameter');
    return v === 'true';
  }

  preconditions(): Preconditions {
    const pre: Preconditions = {};
    for (const k of [
      'ifGenerationMatch',
      'ifGenerationNotMatch',
      'ifMetagenerationMatch',
      'ifMetagenerationNotMatch',
    ] as const) {
      const v = this.int(k);
      if (v !== undefined) pre[k] = v;
    }
    return pre;
  }
}

export const PRECONDITION_PARAMS = [
  'ifGenerationMatch',
  'ifGenerationNotMatch',
  'ifMetagenerationMatch',
  'ifMetagenerationNotMatch',
];

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: GcsHttpError): void {
  if (err.status === 304) {
    res.writeHead(304);
    res.end();
    return;
  }
  const text = err.body();
  res.writeHead(err.status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    ...err.extra.headers,
  });
  res.end(text);
}

/** What became of a request body: all of it, or the part that arrived before the connection died. */
export interface BodyResult {
  data: Buffer;
  complete: boolean;
}

/**
 * Reads a request body up to `limit` bytes. With `cutAfter`, the peer drops the connection once
 * that many bytes have arrived (fault injection) and reports the truncated body as incomplete.
 */
export function readBody(req: IncomingMessage, limit: number, cutAfter?: number): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (complete: boolean): void => {
      if (settled) return;
      settled = true;
      resolve({ data: Buffer.concat(chunks), complete });
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      if (cutAfter !== undefined && size + chunk.length >= cutAfter) {
        chunks.push(chunk.subarray(0, cutAfter - size));
        size = cutAfter;
        settle(false);
        req.socket.destroy();
        return;
      }
      size += chunk.length;
      if (size > limit) {
        settled = true;
        req.resume();
        reject(new GcsHttpError(413, 'uploadTooLarge', `The request body exceeds the peer's limit of ${limit} bytes.`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => settle(true));
    req.on('aborted', () => settle(false));
    req.on('close', () => settle(req.complete));
    req.on('error', () => settle(false));
  });
}

/** Parses a JSON object body; anything else is a 400 `parseError`. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('Parse Error', 'parseError');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badRequest('Parse Error', 'parseError');
  return value as Record<string, unknown>;
}

/** `X-Goog-Hash: crc32c=…,md5=…` → the declared hashes. */
export function parseGoogHash(header: string | string[] | undefined): { md5Hash?: string; crc32c?: string } {
  const out: { md5Hash?: string; crc32c?: string } = {};
  if (header === undefined) return out;
  for (const pair of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const at = pair.indexOf('=');
    const algo = pair.slice(0, at).trim();
    const value = pair.slice(at + 1).trim();
    if (at < 0 || value === '') throw badRequest('Malformed X-Goog-Hash header.');
    if (algo === 'md5') out.md5Hash = value;
    else if (algo === 'crc32c') out.crc32c = value;
    else throw badRequest(`Unsupported hash algorithm in X-Goog-Hash: ${algo}`);
  }
  return out;
}
