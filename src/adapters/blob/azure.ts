/**
 * Azure Blob Storage driver on the official SDK (@azure/storage-blob 12.32).
 *
 * - Credentials: account name + key, a connection string, or a SAS URL (account- or
 *   container-level). Every request goes through the agent the caller passes (the egress guard's).
 * - Puts are block uploads committed at the end: an interrupted put commits nothing, so readers see
 *   the old object or none. Multipart = staged blocks (ids carry an upload id, so two uploads to one
 *   key never mix) committed in part order; uncommitted blocks are discarded by the service.
 * - Errors are mapped from the service's error code and status only.
 */
import type { Agent } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AnonymousCredential,
  BlobServiceClient,
  ContainerClient,
  StorageSharedKeyCredential,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import type {
  StoreFacts,
  BlobDriver,
  BlobErrorCode,
  BlobInfo,
  ByteRange,
  GetResult,
  ListPage,
  MultipartUpload,
  PutOptions,
} from './driver.ts';
import { BlobError, checkBlobKey, checkBlobPrefix, egressDetail } from './driver.ts';
import { hasEgressDenial } from '../../core/net/egress-error.ts';

export type AzureAuth =
  | {
      kind: 'account-key';
      accountName: string;
      accountKey: string;
      /** default https://<account>.blob.core.windows.net */ endpoint?: string;
    }
  | { kind: 'connection-string'; connectionString: string }
  | { kind: 'sas-url'; url: string };

export interface AzureDriverOptions {
  container: string;
  prefix?: string;
  auth: AzureAuth;
  agent?: Agent;
  requestTimeoutMs?: number;
}

const STREAM_BLOCK = 4 * 1024 * 1024;

function pipelineOptions(o: AzureDriverOptions): StoragePipelineOptions {
  // `agent` and `redirectOptions` reach core-rest-pipeline's agent and redirect policies at run
  // time although the storage typings omit them: every request uses our (egress-guarded) agent,
  // and redirects are never followed.
  return {
    retryOptions: { maxTries: 2, tryTimeoutInMs: o.requestTimeoutMs ?? 30_000 },
    redirectOptions: { maxRetries: 0 },
    ...(o.agent ? { agent: o.agent } : {}),
  } as StoragePipelineOptions;
}

function containerClientFor(o: AzureDriverOptions): ContainerClient {
  const pipeline = pipelineOptions(o);
  const a = o.auth;
  if (a.kind === 'connection-string')
    return BlobServiceClient.fromConnectionString(a.connectionString, pipeline).getContainerClient(o.container);
  if (a.kind === 'account-key') {
    const endpoint = a.endpoint ?? `https://${a.accountName}.blob.core.windows.net`;
    return new BlobServiceClient(
      endpoint,
      new StorageSharedKeyCredential(a.accountName, a.accountKey),
      pipeline,
    ).getContainerClient(o.container);
  }
  // SAS URL: account-level (append the container) or container-level (use as is).
  const url = new URL(a.url);
  const segments = url.pathname.split('/').filter(Boolean);
  if (segments[segments.length - 1] !== o.container) url.pathname = [...segments, o.container].join('/');
  return new ContainerClient(url.toString(), new AnonymousCredential(), pipeline);
}

export function createAzureDriver(o: AzureDriverOptions): BlobDriver {
  const container = containerClientFor(o);
  const base = o.prefix ? `${checkBlobKey(o.prefix.replace(/\/+$/, ''))}/` : '';
  const blob = (key: string) => container.getBlockBlobClient(base + checkBlobKey(key));

  async function head(key: string): Promise<BlobInfo | null> {
    const b = blob(key);
    try {
      const p = await b.getProperties();
      return {
        key,
        size: Number(p.contentLength ?? 0),
        ...(p.etag ? { etag: p.etag } : {}),
        ...(p.lastModified ? { lastModified: p.lastModified } : {}),
      };
    } catch (err) {
      const e = mapError(err);
      if (e.code === 'NOT_FOUND') return null;
      throw e;
    }
  }

  return {
    kind: 'azure',
    capabilities: { conditionalCreate: true, minPartSize: 1, maxParts: 50_000 },

    async put(key: string, body: Readable | Buffer, p: PutOptions = {}): Promise<BlobInfo> {
      const b = blob(key);
      const options = {
        ...(p.ifNoneMatch ? { conditions: { ifNoneMatch: '*' } } : {}),
        ...(p.contentType ? { blobHTTPHeaders: { blobContentType: p.contentType } } : {}),
      };
      try {
        if (Buffer.isBuffer(body)) await b.upload(body, body.length, options);
        else await b.uploadStream(body, STREAM_BLOCK, 2, options);
      } catch (err) {
        throw mapError(err, p.ifNoneMatch === true);
      }
      const info = await head(key);
      if (!info) throw new BlobError('FAILED', 'the object is not visible after it was written');
      return info;
    },

    async get(key: string, range?: ByteRange): Promise<GetResult> {
      const b = blob(key);
      if (
        range &&
        (!Number.isSafeInteger(range.start) || range.start < 0 || (range.end !== undefined && range.end < range.start))
      ) {
        throw new BlobError('INVALID_RANGE', 'byte range is malformed');
      }
      try {
        const res = range
          ? await b.download(range.start, range.end === undefined ? undefined : range.end - range.start + 1)
          : await b.download();
        const length = Number(res.contentLength ?? 0);
        const total = res.contentRange ? Number(/\/(\d+)$/.exec(res.contentRange)?.[1]) : length;
        const stream = (res.readableStreamBody as Readable | undefined) ?? Readable.from([]);
        // Some service versions answer an unsatisfiable range with the whole blob; normalise.
        if (range && range.start >= total && !(total === 0 && range.start === 0)) {
          stream.destroy();
          throw new BlobError('INVALID_RANGE', 'byte range starts beyond the end of the object');
        }
        return { body: stream, size: total, length };
      } catch (err) {
        throw mapError(err);
      }
    },

    head,

    async list(prefix: string, l: { cursor?: string; limit?: number } = {}): Promise<ListPage> {
      checkBlobPrefix(prefix);
      try {
        const page = await container
          .listBlobsFlat({ prefix: base + prefix })
          .byPage({
            maxPageSize: Math.min(Math.max(l.limit ?? 1000, 1), 5000),
            ...(l.cursor ? { continuationToken: l.cursor } : {}),
          })
          .next();
        if (page.done) return { items: [] };
        const items = page.value.segment.blobItems.map((i) => ({
          key: i.name.slice(base.length),
          size: Number(i.properties.contentLength ?? 0),
          ...(i.properties.etag ? { etag: i.properties.etag } : {}),
          lastModified: i.properties.lastModified,
        }));
        return page.value.continuationToken ? { items, cursor: page.value.continuationToken } : { items };
      } catch (err) {
        throw mapError(err);
      }
    },

    async delete(key: string): Promise<void> {
      const b = blob(key);
      try {
        await b.deleteIfExists();
      } catch (err) {
        throw mapError(err);
      }
    },

    async createMultipart(key: string): Promise<MultipartUpload> {
      const b = blob(key);
      const uploadId = randomBytes(12).toString('hex');
      // Equal-length ids (the service requires it), unique per upload.
      const blockId = (n: number) => Buffer.from(`${uploadId}-${String(n).padStart(5, '0')}`).toString('base64');
      const parts = new Set<number>();
      return {
        async putPart(n: number, body: Readable | Buffer, length: number): Promise<void> {
          if (!Number.isInteger(n) || n < 1 || n > 50_000)
            throw new BlobError('FAILED', 'part numbers run from 1 to 50000');
          try {
            await b.stageBlock(blockId(n), body, length);
            parts.add(n);
          } catch (err) {
            throw mapError(err);
          }
        },
        async complete(): Promise<BlobInfo> {
          try {
            await b.commitBlockList([...parts].sort((x, y) => x - y).map(blockId));
          } catch (err) {
            throw mapError(err);
          }
          const info = await head(key);
          if (!info) throw new BlobError('FAILED', 'the object is not visible after it was completed');
          return info;
        },
        // Uncommitted blocks cannot be deleted one by one; the service discards them (within 7 days)
        // and they are never part of the visible object.
        async abort(): Promise<void> {
          parts.clear();
        },
      };
    },

    async probe(): Promise<void> {
      try {
        // A listing rather than getProperties: HEAD answers carry no body, and some proxies strip
        // the error-code header, leaving a bare 403/404.
        await container.listBlobsFlat({ prefix: base }).byPage({ maxPageSize: 1 }).next();
      } catch (err) {
        throw mapError(err);
      }
    },

    async inspect(): Promise<StoreFacts> {
      // CORS is an account (service) property; it needs an account-level credential.
      try {
        const service = new BlobServiceClient(
          container.url.slice(0, container.url.lastIndexOf('/' + o.container)),
          container.credential,
          pipelineOptions(o),
        );
        const props = await service.getProperties();
        return {
          cors: (props.cors ?? []).map((r) => ({
            origins: r.allowedOrigins.split(',').map((x) => x.trim()),
            methods: r.allowedMethods.split(',').map((x) => x.trim()),
          })),
        };
      } catch {
        return {};
      }
    },

    async close(): Promise<void> {},
  };
}

// Real Azure answers a bad key or SAS signature with AuthenticationFailed; Azurite (and Azure for
// SAS/network-rule refusals) with AuthorizationFailure. Both mean "these credentials do not get in";
// a missing permission on valid credentials is one of the Authorization*Mismatch codes.
const AUTH = new Set([
  'AuthenticationFailed',
  'AuthorizationFailure',
  'InvalidAuthenticationInfo',
  'NoAuthenticationInformation',
  'InvalidQueryParameterValue',
]);
const DENIED = new Set([
  'AuthorizationPermissionMismatch',
  'AuthorizationSourceIPMismatch',
  'AuthorizationProtocolMismatch',
  'AuthorizationResourceTypeMismatch',
  'AuthorizationServiceMismatch',
  'InsufficientAccountPermissions',
]);

const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function mapError(err: unknown, conditional = false): BlobError {
  if (err instanceof BlobError) return err;
  const e = (err ?? {}) as { code?: string; statusCode?: number; name?: string; details?: { errorCode?: string } };
  const code = e.details?.errorCode ?? e.code ?? '';
  const status = e.statusCode;
  const out = (c: BlobErrorCode, msg: string) => new BlobError(c, msg, { cause: err });
  if (hasEgressDenial(err)) return new BlobError('EGRESS_DENIED', egressDetail(err), { cause: err });
  if (code === 'ContainerNotFound') return out('BUCKET_NOT_FOUND', 'the container does not exist');
  if (code === 'BlobNotFound' || (status === 404 && code === '')) return out('NOT_FOUND', 'no object with that key');
  if (AUTH.has(code)) return out('AUTH_FAILED', 'the service rejected the account key, SAS or its signature');
  if (DENIED.has(code)) return out('PERMISSION_DENIED', 'the credentials may not do this on the container');
  if (code === 'BlobAlreadyExists' || (conditional && (status === 409 || status === 412)))
    return out('ALREADY_EXISTS', 'an object with that key exists');
  if (code === 'ConditionNotMet' || status === 412) return out('PRECONDITION_FAILED', 'a precondition failed');
  if (code === 'InvalidRange' || status === 416)
    return out('INVALID_RANGE', 'byte range starts beyond the end of the object');
  if (status === 403) return out('AUTH_FAILED', 'the service refused the credentials');
  if (status === 404) return out('NOT_FOUND', 'not found');
  if (
    code === 'REQUEST_SEND_ERROR' ||
    NETWORK.has(code) ||
    ((err as Error)?.name === 'RestError' && status === undefined)
  ) {
    return out('UNREACHABLE', 'the storage service could not be reached');
  }
  if (status === undefined) return out('FAILED', 'the upload failed before the service answered');
  const shown = /^[A-Za-z]{1,64}$/.test(code) ? code : `HTTP ${String(status)}`;
  return out('FAILED', `the storage service refused the request (${shown})`);
}
