/**
 * Amazon S3 (and S3-compatible) blob driver on the official AWS SDK v3.
 *
 * - Connections go through the agents the caller passes (the egress guard's), with the SDK's
 *   checksum extras set to WHEN_REQUIRED so S3-compatible services that lack them still work.
 * - Streams of unknown length go through lib-storage's Upload (multipart above 8 MiB, bounded
 *   memory: queueSize × partSize); an interrupted multipart put is aborted, so nothing appears.
 * - Errors are mapped to BlobError codes from the service's error name and HTTP status only; the
 *   SDK's message and the remote body never leave this file.
 */
import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketCorsCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NodeHttpHandler } from '@smithy/node-http-handler';
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

export interface S3DriverOptions {
  bucket: string;
  region: string;
  /** For S3-compatible services; omitted = AWS. */
  endpoint?: string;
  forcePathStyle?: boolean;
  prefix?: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Whether the service enforces If-None-Match on PUT (AWS does since 2024). Default: true for AWS, false for a custom endpoint. */
  conditionalCreate?: boolean;
  httpAgent?: HttpAgent;
  httpsAgent?: HttpsAgent;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

const MIN_PART = 5 * 1024 * 1024;
const UPLOAD_PART = 8 * 1024 * 1024;

export function createS3Driver(o: S3DriverOptions): BlobDriver {
  const client = new S3Client({
    region: o.region,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    forcePathStyle: o.forcePathStyle ?? Boolean(o.endpoint),
    credentials: o.credentials,
    maxAttempts: 2,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({
      ...(o.httpAgent ? { httpAgent: o.httpAgent } : {}),
      ...(o.httpsAgent ? { httpsAgent: o.httpsAgent } : {}),
      connectionTimeout: o.connectTimeoutMs ?? 5000,
      requestTimeout: o.requestTimeoutMs ?? 30_000,
    }),
  });
  const Bucket = o.bucket;
  const base = o.prefix ? `${checkBlobKey(o.prefix.replace(/\/+$/, ''))}/` : '';
  const full = (key: string) => base + checkBlobKey(key);
  const strip = (key: string) => key.slice(base.length);
  const conditionalCreate = o.conditionalCreate ?? !o.endpoint;

  return {
    kind: 's3',
    capabilities: { conditionalCreate, minPartSize: MIN_PART, maxParts: 10_000 },

    async put(key: string, body: Readable | Buffer, p: PutOptions = {}): Promise<BlobInfo> {
      const Key = full(key);
      if (p.ifNoneMatch && !conditionalCreate)
        throw new BlobError('UNSUPPORTED', 'this S3 service cannot create objects conditionally');
      const common = {
        Bucket,
        Key,
        ...(p.contentType ? { ContentType: p.contentType } : {}),
        ...(p.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
      };
      try {
        if (Buffer.isBuffer(body)) {
          await client.send(new PutObjectCommand({ ...common, Body: body, ContentLength: body.length }));
        } else {
          const upload = new Upload({
            client,
            params: { ...common, Body: body },
            partSize: UPLOAD_PART,
            queueSize: 2,
            leavePartsOnError: false,
          });
          await upload.done();
        }
      } catch (err) {
        throw mapError(err, 'object', p.ifNoneMatch === true);
      }
      const info = await this.head(key);
      if (!info) throw new BlobError('FAILED', 'the object is not visible after it was written');
      return info;
    },

    async get(key: string, range?: ByteRange): Promise<GetResult> {
      const Key = full(key);
      if (
        range &&
        (!Number.isSafeInteger(range.start) || range.start < 0 || (range.end !== undefined && range.end < range.start))
      ) {
        throw new BlobError('INVALID_RANGE', 'byte range is malformed');
      }
      try {
        const res = await client.send(
          new GetObjectCommand({ Bucket, Key, ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}) }),
        );
        const length = Number(res.ContentLength ?? 0);
        const total = res.ContentRange ? Number(/\/(\d+)$/.exec(res.ContentRange)?.[1]) : length;
        return { body: res.Body as Readable, size: total, length };
      } catch (err) {
        throw mapError(err, 'object');
      }
    },

    async head(key: string): Promise<BlobInfo | null> {
      const Key = full(key);
      try {
        const res = await client.send(new HeadObjectCommand({ Bucket, Key }));
        return {
          key,
          size: Number(res.ContentLength ?? 0),
          ...(res.ETag ? { etag: res.ETag } : {}),
          ...(res.LastModified ? { lastModified: res.LastModified } : {}),
        };
      } catch (err) {
        const e = mapError(err, 'object');
        if (e.code === 'NOT_FOUND') return null;
        throw e;
      }
    },

    async list(prefix: string, l: { cursor?: string; limit?: number } = {}): Promise<ListPage> {
      checkBlobPrefix(prefix);
      try {
        const res = await client.send(
          new ListObjectsV2Command({
            Bucket,
            Prefix: base + prefix,
            MaxKeys: Math.min(Math.max(l.limit ?? 1000, 1), 1000),
            ...(l.cursor ? { ContinuationToken: l.cursor } : {}),
          }),
        );
        const items = (res.Contents ?? []).map((c) => ({
          key: strip(c.Key ?? ''),
          size: Number(c.Size ?? 0),
          ...(c.ETag ? { etag: c.ETag } : {}),
          ...(c.LastModified ? { lastModified: c.LastModified } : {}),
        }));
        return res.IsTruncated && res.NextContinuationToken ? { items, cursor: res.NextContinuationToken } : { items };
      } catch (err) {
        throw mapError(err, 'bucket');
      }
    },

    async delete(key: string): Promise<void> {
      const Key = full(key);
      try {
        await client.send(new DeleteObjectCommand({ Bucket, Key }));
      } catch (err) {
        const e = mapError(err, 'object');
        if (e.code !== 'NOT_FOUND') throw e;
      }
    },

    async createMultipart(key: string): Promise<MultipartUpload> {
      const Key = full(key);
      let UploadId: string;
      try {
        UploadId = (await client.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId ?? '';
      } catch (err) {
        throw mapError(err, 'object');
      }
      const etags = new Map<number, string>();
      const head = this.head.bind(this);
      return {
        async putPart(n: number, body: Readable | Buffer, length: number): Promise<void> {
          try {
            const res = await client.send(
              new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: n, Body: body, ContentLength: length }),
            );
            etags.set(n, res.ETag ?? '');
          } catch (err) {
            throw mapError(err, 'object');
          }
        },
        async complete(): Promise<BlobInfo> {
          const Parts = [...etags].sort(([a], [b]) => a - b).map(([PartNumber, ETag]) => ({ PartNumber, ETag }));
          try {
            await client.send(
              new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }),
            );
          } catch (err) {
            throw mapError(err, 'object');
          }
          const info = await head(key);
          if (!info) throw new BlobError('FAILED', 'the object is not visible after it was completed');
          return info;
        },
        async abort(): Promise<void> {
          try {
            await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
          } catch (err) {
            const e = mapError(err, 'object');
            // Services without AbortMultipartUpload (some S3-compatible ones) keep the parts out of
            // sight; a bucket lifecycle rule (AbortIncompleteMultipartUpload) reclaims them.
            if (e.code !== 'NOT_FOUND' && !UNIMPLEMENTED.has(errorName(err))) throw e;
          }
        },
      };
    },

    async probe(): Promise<void> {
      try {
        // A listing, not HeadBucket: HEAD answers carry no body, so a bad signature and a missing
        // permission would both be a bare 403.
        await client.send(new ListObjectsV2Command({ Bucket, Prefix: base, MaxKeys: 1 }));
      } catch (err) {
        throw mapError(err, 'bucket');
      }
    },

    async inspect(): Promise<StoreFacts> {
      const facts: StoreFacts = {};
      try {
        const cors = await client.send(new GetBucketCorsCommand({ Bucket }));
        facts.cors = (cors.CORSRules ?? []).map((r) => ({
          origins: r.AllowedOrigins ?? [],
          methods: r.AllowedMethods ?? [],
        }));
      } catch (err) {
        if (errorName(err) === 'NoSuchCORSConfiguration') facts.cors = [];
      }
      try {
        const v = await client.send(new GetBucketVersioningCommand({ Bucket }));
        facts.versioning = v.Status === 'Enabled' ? 'enabled' : v.Status === 'Suspended' ? 'suspended' : 'off';
      } catch {
        // unknown
      }
      try {
        const lock = await client.send(new GetObjectLockConfigurationCommand({ Bucket }));
        facts.objectLock = lock.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
      } catch (err) {
        if (errorName(err) === 'ObjectLockConfigurationNotFoundError') facts.objectLock = false;
      }
      return facts;
    },

    async close(): Promise<void> {
      client.destroy();
    },
  };
}

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
}

const AUTH = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AuthorizationHeaderMalformed',
  'CredentialsProviderError',
]);
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'TimeoutError',
  'RequestTimeout',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'SELF_SIGNED_CERT_IN_CHAIN',
]);

const UNIMPLEMENTED = new Set(['MethodNotAllowed', 'NotImplemented']);
const errorName = (err: unknown) => String((err as SdkError | undefined)?.name ?? '');

/** Maps an SDK failure to a BlobError from its name and status alone. */
function mapError(err: unknown, what: 'object' | 'bucket', conditional = false): BlobError {
  if (err instanceof BlobError) return err;
  const e = (err ?? {}) as SdkError;
  if (hasEgressDenial(err)) return new BlobError('EGRESS_DENIED', egressDetail(err), { cause: err });
  const name = e.name ?? e.Code ?? '';
  const status = e.$metadata?.httpStatusCode;
  const code = e.code ?? '';
  const out = (c: BlobErrorCode, msg: string) => new BlobError(c, msg, { cause: err });
  if (name === 'NoSuchBucket') return out('BUCKET_NOT_FOUND', 'the bucket does not exist');
  if (name === 'NoSuchKey' || name === 'NoSuchUpload') return out('NOT_FOUND', 'no object with that key');
  if (name === 'NotFound' || status === 404)
    return what === 'bucket'
      ? out('BUCKET_NOT_FOUND', 'the bucket does not exist')
      : out('NOT_FOUND', 'no object with that key');
  if (AUTH.has(name)) return out('AUTH_FAILED', 'the service rejected the access key or its signature');
  if (name === 'AccessDenied' || name === 'AllAccessDisabled' || name === 'Forbidden' || status === 403) {
    return out('PERMISSION_DENIED', `the credentials may not do this on the ${what}`);
  }
  if (status === 401) return out('AUTH_FAILED', 'the service rejected the credentials');
  if (name === 'PreconditionFailed' || status === 412 || (conditional && status === 409)) {
    return conditional
      ? out('ALREADY_EXISTS', 'an object with that key exists')
      : out('PRECONDITION_FAILED', 'a precondition failed');
  }
  if (name === 'InvalidRange' || status === 416)
    return out('INVALID_RANGE', 'byte range starts beyond the end of the object');
  if (NETWORK.has(name) || NETWORK.has(code) || (status === undefined && e.$fault === undefined)) {
    return out('UNREACHABLE', 'the storage service could not be reached');
  }
  // Only a plain error name is shown: a non-AWS service could put anything in it.
  const shown = /^[A-Za-z]{1,64}$/.test(name) ? name : `HTTP ${String(status ?? '?')}`;
  return out('FAILED', `the storage service refused the request (${shown})`);
}
