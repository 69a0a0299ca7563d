/**
 * The blob-driver interface: the one way Strongroom reads and writes bytes in a customer's store.
 *
 * Every driver (local, s3, azure, gcs) implements exactly this and passes the one contract suite
 * (test/blob-contract.ts). Guarantees every driver gives:
 * - Bodies are streams end to end; no method buffers a whole object in memory.
 * - Keys are validated by `checkBlobKey` before any I/O: relative, `/`-separated, no `.`/`..`
 *   segments, no control characters, at most 1024 UTF-8 bytes.
 * - Failures are `BlobError`s with a normalised code; "not found" means the same thing for every
 *   driver. A `BlobError` never carries a remote body or a credential: `message` is ours.
 * - `put` is atomic from a reader's point of view: an interrupted put leaves either the old object
 *   or none, never a prefix of the new one.
 */
import type { Readable } from 'node:stream';

export type DriverKind = 'local' | 's3' | 'azure' | 'gcs';

export type BlobErrorCode =
  | 'NOT_FOUND' // the object does not exist
  | 'ALREADY_EXISTS' // create-if-absent found an object
  | 'PRECONDITION_FAILED' // any other failed condition
  | 'INVALID_RANGE' // the byte range starts beyond the end
  | 'INVALID_KEY' // checkBlobKey refused the key
  | 'BUCKET_NOT_FOUND' // bucket / container / directory missing
  | 'AUTH_FAILED' // credentials rejected (wrong key, bad signature, expired token)
  | 'PERMISSION_DENIED' // credentials accepted, operation not allowed
  | 'UNREACHABLE' // DNS, connect, TLS or timeout failure
  | 'EGRESS_DENIED' // the SSRF guard refused the address
  | 'UNSUPPORTED' // the driver or service cannot do this
  | 'FULL' // no space left on the drive's filesystem or quota
  | 'FAILED'; // anything else the service answered

export class BlobError extends Error {
  constructor(
    readonly code: BlobErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BlobError';
  }
}

export function isBlobError(err: unknown, code?: BlobErrorCode): err is BlobError {
  return err instanceof BlobError && (code === undefined || err.code === code);
}

export interface BlobInfo {
  key: string;
  size: number;
  /** Service-defined version tag (ETag, generation, mtime); opaque. */
  etag?: string;
  lastModified?: Date;
}

export interface PutOptions {
  /** Byte length of the body when known; drivers that need it (Azure) buffer nothing without it but may stream slower. */
  contentLength?: number;
  contentType?: string;
  /** Fail with ALREADY_EXISTS if the key exists. Only where `capabilities.conditionalCreate`. */
  ifNoneMatch?: boolean;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive; omitted = to the end. */
  end?: number;
}

export interface GetResult {
  body: Readable;
  /** Size of the whole object. */
  size: number;
  /** Bytes in `body`. */
  length: number;
}

export interface ListPage {
  items: BlobInfo[];
  /** Pass back to get the next page; absent on the last page. */
  cursor?: string;
}

/** A multipart upload: parts may be written in any order and in parallel, then completed. */
export interface MultipartUpload {
  /** Part numbers start at 1. Every part but the last must be at least `capabilities.minPartSize` bytes. */
  putPart(partNumber: number, body: Readable | Buffer, length: number): Promise<void>;
  /** Makes the object visible with the parts in part-number order. */
  complete(): Promise<BlobInfo>;
  /** Discards every part; the key is left as it was. Safe to call twice. */
  abort(): Promise<void>;
}

export interface DriverCapabilities {
  /** put with ifNoneMatch is enforced by the service (or the driver, atomically). */
  conditionalCreate: boolean;
  minPartSize: number;
  maxParts: number;
}

/** What a store says about itself, for the diagnosis; a field is absent when it could not be read. */
export interface StoreFacts {
  cors?: { origins: string[]; methods: string[] }[];
  versioning?: 'enabled' | 'suspended' | 'off';
  objectLock?: boolean;
}

export interface BlobDriver {
  readonly kind: DriverKind;
  readonly capabilities: DriverCapabilities;
  put(key: string, body: Readable | Buffer, opts?: PutOptions): Promise<BlobInfo>;
  get(key: string, range?: ByteRange): Promise<GetResult>;
  /** null when the object does not exist. */
  head(key: string): Promise<BlobInfo | null>;
  list(prefix: string, opts?: { cursor?: string; limit?: number }): Promise<ListPage>;
  /** Deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  createMultipart(key: string): Promise<MultipartUpload>;
  /** Checks that the bucket/container/directory exists and is reachable with these credentials. */
  probe(): Promise<void>;
  /** Store settings that matter to Strongroom (CORS, versioning); best effort, never throws for a missing permission. */
  inspect?(): Promise<StoreFacts>;
  /** Frees sockets and file handles. */
  close(): Promise<void>;
}

const MAX_KEY_BYTES = 1024;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Throws INVALID_KEY unless `key` is a safe relative object key. */
export function checkBlobKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) throw new BlobError('INVALID_KEY', 'object key is empty');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES)
    throw new BlobError('INVALID_KEY', 'object key is longer than 1024 bytes');
  if (CONTROL.test(key)) throw new BlobError('INVALID_KEY', 'object key contains a control character');
  if (key.includes('\\')) throw new BlobError('INVALID_KEY', 'object key contains a backslash');
  if (key.startsWith('/')) throw new BlobError('INVALID_KEY', 'object key must be relative');
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new BlobError('INVALID_KEY', 'object key has an empty, "." or ".." segment');
    }
  }
  if (key !== key.normalize('NFC')) throw new BlobError('INVALID_KEY', 'object key is not in Unicode NFC form');
  return key;
}

/** Checks a list prefix: empty, or a key-like string that may end with `/`. */
export function checkBlobPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  checkBlobKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}

/** Checks a byte range against an object size; throws INVALID_RANGE when it starts past the end. */
export function resolveRange(range: ByteRange | undefined, size: number): { start: number; end: number } {
  if (!range) return { start: 0, end: size - 1 };
  const { start } = range;
  if (
    !Number.isSafeInteger(start) ||
    start < 0 ||
    (range.end !== undefined && (!Number.isSafeInteger(range.end) || range.end < start))
  ) {
    throw new BlobError('INVALID_RANGE', 'byte range is malformed');
  }
  if (start >= size && !(size === 0 && start === 0))
    throw new BlobError('INVALID_RANGE', 'byte range starts beyond the end of the object');
  return { start, end: Math.min(range.end ?? size - 1, size - 1) };
}

/** The guard's own detail when the refusal kept its type, else a plain sentence. */
export function egressDetail(err: unknown): string {
  for (let e: unknown = err, i = 0; e && i < 8; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof Error && e.name === 'EgressDeniedError') return e.message;
  }
  return 'the address of the storage service may not be reached from Strongroom';
}
