/**
 * Google Cloud Storage blob driver over @google-cloud/storage 7.22.
 *
 * - Credentials: a service-account JSON (`credentials`; tokens come from its `token_uri` through
 *   `agent`, see gcs-token.ts) or any google-auth-library `authClient` (tests pass one holding a
 *   fixed bearer token). Nothing is read from the environment.
 * - `put` and every multipart part are sent by gcs-upload.ts: one `uploadType=media` request for a
 *   body within one chunk (8 MiB by default), a resumable session sent chunk by chunk otherwise;
 *   a transient failure (408/429/5xx, a reset) is retried from the chunk held in memory, so one
 *   upload holds at most one chunk. All-or-nothing either way; create-if-absent is
 *   `ifGenerationMatch=0`, enforced by GCS.
 * - Multipart: each part is a temporary object under `<prefix>.strongroom-multipart/<id>/`; complete
 *   composes them (≤ 32 sources per compose, in rounds) into the key in one final compose, so the
 *   object appears at once; temporaries are deleted on complete and abort. GCS caps a composite
 *   at 1024 components, hence `maxParts`.
 * - `agent`: every request (API, uploads, downloads, token fetches) goes through it; see gcs-agent.ts.
 *
 * A caller holding the vault's cloud credential uses `createGcsDriver`.
 */
import type { Agent as HttpAgent } from 'node:http';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { type Bucket, type File, Storage, type StorageOptions } from '@google-cloud/storage';
import type { AuthClient } from 'google-auth-library';
import {
  BlobError,
  type BlobDriver,
  type BlobInfo,
  type ByteRange,
  checkBlobKey,
  checkBlobPrefix,
  type DriverCapabilities,
  type GetResult,
  type ListPage,
  type MultipartUpload,
  type PutOptions,
  resolveRange,
  type StoreFacts,
} from './driver.ts';
import { agentInterceptor, installTeenyAgentHook } from './gcs-agent.ts';
import { type ErrorContext, httpStatusOf, toBlobError } from './gcs-errors.ts';
import { GcsMultipart } from './gcs-multipart.ts';
import { createServiceAccountAuthClient, type ServiceAccountKey } from './gcs-token.ts';
import { DEFAULT_CHUNK_SIZE, RESUMABLE_UNIT, type UploadTarget, uploadObject } from './gcs-upload.ts';

/** A service-account key file's content (`token_uri` is honoured; see gcs-token.ts). */
export interface GcsServiceAccount extends ServiceAccountKey {
  project_id?: string;
}

export interface GcsDriverOptions {
  bucket: string;
  /** Key prefix inside the bucket, e.g. `strongroom/`; must end with `/` when set. */
  prefix?: string;
  /** Service-account key (the JSON file's content). Exactly one of `credentials` / `authClient`. */
  credentials?: GcsServiceAccount;
  authClient?: AuthClient;
  /** Default `https://storage.googleapis.com`; tests point it at the GCS peer. */
  apiEndpoint?: string;
  projectId?: string;
  /**
   * Used for every request, including token fetches (the egress guard); must match the scheme of
   * `apiEndpoint` (and so of the key's `token_uri`).
   */
  agent?: HttpAgent;
  /** Per-request timeout in ms (default 30 000). */
  timeoutMs?: number;
  /**
   * Retries of idempotent calls on 408/429/5xx and of any call that got no response (the SDK's
   * retry-request retries every connection failure, EGRESS_DENIED included); for uploads, retries
   * of each request in a row without progress (gcs-upload.ts). Default 2.
   */
  maxRetries?: number;
  /** GCS has no minimum part size; 5 MiB by default so callers size parts as for S3. Tests lower it. */
  minPartSize?: number;
  /**
   * Bytes an upload holds in memory and sends per request (a multiple of 256 KiB; default 8 MiB):
   * a body within one chunk is one request, a longer one a resumable session (see gcs-upload.ts).
   */
  uploadChunkSize?: number;
}

export const MULTIPART_DIR = '.strongroom-multipart/';
const DEFAULT_API_ENDPOINT = 'https://storage.googleapis.com';

/** What `createGcsDriver` needs: the vault's `cloud-credential` value plus where and how to reach GCS. */
export interface CreateGcsDriverOptions {
  bucket: string;
  prefix?: string;
  /** `serviceAccount` of a `{ provider: 'gcs', kind: 'service-account' }` credential value. */
  serviceAccount: GcsServiceAccount;
  /** Default `https://storage.googleapis.com`. */
  apiEndpoint?: string;
  /** The egress guard's agent for `apiEndpoint`'s scheme; carries API calls and token requests alike. */
  agent?: HttpAgent;
  timeoutMs?: number;
}

/**
 * Builds the GCS driver from a stored service-account key.
 *
 * ```ts
 * const value = { provider: 'gcs', kind: 'service-account', serviceAccount: {...} }; // from the vault
 * const drive = createGcsDriver({ bucket: 'backups', prefix: 'sr/', serviceAccount: value.serviceAccount, agent: guard.httpsAgent() });
 * await drive.probe();
 * ```
 *
 * SECURITY: `serviceAccount.token_uri` is user-supplied; the token request goes through `agent`
 * like every API call, so the egress guard judges that address too. Without `agent` nothing is
 * guarded — production callers always pass one.
 */
export function createGcsDriver(o: CreateGcsDriverOptions): BlobDriver {
  return new GcsDriver({
    bucket: o.bucket,
    credentials: o.serviceAccount,
    ...(o.prefix !== undefined ? { prefix: o.prefix } : {}),
    ...(o.apiEndpoint !== undefined ? { apiEndpoint: o.apiEndpoint } : {}),
    ...(o.agent !== undefined ? { agent: o.agent } : {}),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  });
}

export class GcsDriver implements BlobDriver {
  readonly kind = 'gcs' as const;
  readonly capabilities: DriverCapabilities;
  private readonly bucket: Bucket;
  private readonly prefix: string;
  private readonly uploads: Omit<UploadTarget, 'name' | 'contentType'>;

  constructor(opts: GcsDriverOptions) {
    if ((opts.credentials === undefined) === (opts.authClient === undefined)) {
      throw new BlobError('FAILED', 'GCS driver needs exactly one of credentials or authClient');
    }
    this.capabilities = { conditionalCreate: true, minPartSize: opts.minPartSize ?? 5 * 1024 * 1024, maxParts: 1024 };
    this.prefix = opts.prefix ?? '';
    if (this.prefix !== '' && (!this.prefix.endsWith('/') || checkBlobPrefix(this.prefix) !== this.prefix)) {
      throw new BlobError('INVALID_KEY', 'GCS prefix must be a key-like path ending with "/"');
    }
    const options: StorageOptions = {
      projectId: opts.projectId ?? opts.credentials?.project_id ?? 'strongroom',
      timeout: opts.timeoutMs ?? 30_000,
      retryOptions: {
        autoRetry: (opts.maxRetries ?? 2) > 0,
        maxRetries: opts.maxRetries ?? 2,
        maxRetryDelay: 8,
        totalTimeout: 120,
      },
    };
    if (opts.apiEndpoint !== undefined) {
      options.apiEndpoint = opts.apiEndpoint;
      options.useAuthWithCustomEndpoint = true;
    }
    // The key's token_uri is a user-supplied address: the token client sends to it through
    // opts.agent (the egress guard) only, never through the SDK's own transport.
    options.authClient = opts.credentials
      ? createServiceAccountAuthClient({
          key: opts.credentials,
          apiEndpoint: opts.apiEndpoint ?? DEFAULT_API_ENDPOINT,
          ...(opts.agent ? { agent: opts.agent } : {}),
          timeoutMs: opts.timeoutMs ?? 30_000,
        })
      : opts.authClient!;
    if (opts.agent) {
      installTeenyAgentHook();
      options.interceptors_ = [agentInterceptor(opts.agent)];
    }
    this.bucket = new Storage(options).bucket(opts.bucket);
    const chunkSize = opts.uploadChunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0 || chunkSize % RESUMABLE_UNIT !== 0)
      throw new BlobError('FAILED', 'GCS upload chunk size must be a positive multiple of 256 KiB');
    this.uploads = {
      auth: options.authClient,
      endpoint: (opts.apiEndpoint ?? DEFAULT_API_ENDPOINT).replace(/\/+$/, ''),
      bucket: opts.bucket,
      ...(opts.agent ? { agent: opts.agent } : {}),
      timeoutMs: opts.timeoutMs ?? 30_000,
      maxRetries: opts.maxRetries ?? 2,
      chunkSize,
    };
  }

  /** Uploads `body` to the object `name` (the full name, prefix included); see gcs-upload.ts. */
  private upload(name: string, body: Readable | Buffer, contentType: string, ifAbsent = false) {
    return uploadObject({ ...this.uploads, name, contentType, ...(ifAbsent ? { ifAbsent } : {}) }, body);
  }

  private file(key: string, generation?: number): File {
    const name = this.prefix + checkBlobKey(key);
    if (name.startsWith(this.prefix + MULTIPART_DIR))
      throw new BlobError('INVALID_KEY', 'object key is in the reserved multipart area');
    return generation === undefined ? this.bucket.file(name) : this.bucket.file(name, { generation });
  }

  /** Maps an SDK error; a 404 from an object call is told apart from a missing bucket by one list call. */
  private async fail(err: unknown, ctx: ErrorContext): Promise<never> {
    if (httpStatusOf(err) === 404 && ctx.notFound === 'NOT_FOUND' && !(await this.bucketExists())) {
      throw new BlobError('BUCKET_NOT_FOUND', `${ctx.op} failed: bucket not found`);
    }
    throw toBlobError(err, ctx);
  }

  private async bucketExists(): Promise<boolean> {
    try {
      await this.bucket.getFiles({ maxResults: 1, autoPaginate: false, prefix: this.prefix });
      return true;
    } catch (err) {
      if (httpStatusOf(err) === 404) return false;
      throw toBlobError(err, { op: 'GCS probe', notFound: 'BUCKET_NOT_FOUND' });
    }
  }

  private info(key: string, meta: File['metadata']): BlobInfo {
    const info: BlobInfo = { key, size: Number(meta.size ?? 0) };
    if (meta.generation !== undefined) info.etag = String(meta.generation);
    if (meta.updated) info.lastModified = new Date(meta.updated);
    return info;
  }

  async put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<BlobInfo> {
    const file = this.file(key);
    try {
      const meta = await this.upload(file.name, body, opts.contentType ?? 'application/octet-stream', opts.ifNoneMatch);
      return this.info(key, meta as File['metadata']);
    } catch (err) {
      return this.fail(err, {
        op: 'GCS put',
        notFound: 'BUCKET_NOT_FOUND',
        preconditionFailed: opts.ifNoneMatch ? 'ALREADY_EXISTS' : 'PRECONDITION_FAILED',
      });
    }
  }

  async get(key: string, range?: ByteRange): Promise<GetResult> {
    let meta: File['metadata'];
    try {
      [meta] = await this.file(key).getMetadata();
    } catch (err) {
      return this.fail(err, { op: 'GCS get', notFound: 'NOT_FOUND' });
    }
    const size = Number(meta.size ?? 0);
    const { start, end } = resolveRange(range, size);
    if (end < start) return { body: Readable.from([]), size, length: 0 };
    const whole = start === 0 && end === size - 1;
    const source = this.file(key, Number(meta.generation)).createReadStream(
      whole ? { validation: 'crc32c' } : { start, end, validation: false },
    );
    const body = new PassThrough();
    source.on('error', (err) => body.destroy(toBlobError(err, { op: 'GCS get', notFound: 'NOT_FOUND' })));
    body.on('close', () => source.destroy());
    source.pipe(body);
    return { body, size, length: end - start + 1 };
  }

  async head(key: string): Promise<BlobInfo | null> {
    try {
      const [meta] = await this.file(key).getMetadata();
      return this.info(key, meta);
    } catch (err) {
      if (httpStatusOf(err) === 404 && (await this.bucketExists())) return null;
      return this.fail(err, { op: 'GCS head', notFound: 'BUCKET_NOT_FOUND' });
    }
  }

  async list(prefix: string, opts: { cursor?: string; limit?: number } = {}): Promise<ListPage> {
    const full = this.prefix + checkBlobPrefix(prefix);
    const reserved = this.prefix + MULTIPART_DIR;
    try {
      const [files, next] = (await this.bucket.getFiles({
        prefix: full,
        maxResults: Math.min(Math.max(opts.limit ?? 1000, 1), 1000),
        autoPaginate: false,
        ...(opts.cursor ? { pageToken: opts.cursor } : {}),
      })) as unknown as [File[], { pageToken?: string } | null];
      const items = files
        .filter((f) => !f.name.startsWith(reserved))
        .map((f) => this.info(f.name.slice(this.prefix.length), f.metadata));
      return next?.pageToken ? { items, cursor: next.pageToken } : { items };
    } catch (err) {
      return this.fail(err, { op: 'GCS list', notFound: 'BUCKET_NOT_FOUND' });
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.file(key).delete();
    } catch (err) {
      if (httpStatusOf(err) === 404 && (await this.bucketExists())) return;
      return this.fail(err, { op: 'GCS delete', notFound: 'BUCKET_NOT_FOUND' });
    }
  }

  async createMultipart(key: string): Promise<MultipartUpload> {
    const target = this.file(key);
    const dir = `${this.prefix}${MULTIPART_DIR}${randomBytes(16).toString('hex')}/`;
    return new GcsMultipart(
      this.bucket,
      (name, body) => this.upload(name, body, 'application/octet-stream'),
      target,
      dir,
      this.capabilities,
      (err, op) => this.fail(err, { op, notFound: 'NOT_FOUND' }),
      (meta) => this.info(key, meta),
    );
  }

  async probe(): Promise<void> {
    if (!(await this.bucketExists())) throw new BlobError('BUCKET_NOT_FOUND', 'GCS probe failed: bucket not found');
  }

  /** Bucket CORS and versioning, when the credentials may read the bucket's metadata. */
  async inspect(): Promise<StoreFacts> {
    try {
      const [meta] = await this.bucket.getMetadata();
      return {
        cors: (meta.cors ?? []).map((r) => ({ origins: r.origin ?? [], methods: r.method ?? [] })),
        versioning: meta.versioning?.enabled ? 'enabled' : 'off',
        ...(meta.retentionPolicy ? { objectLock: Boolean(meta.retentionPolicy.isLocked) } : {}),
      };
    } catch {
      return {};
    }
  }

  async close(): Promise<void> {
    // Sockets belong to the agent (the caller's) or to Node's global pool; nothing to free here.
  }
}
