/**
 * A strict GCS JSON API server for tests: the official SDK runs against it unmodified.
 *
 * Routes (everything else is 404/405; unknown query parameters are 400):
 *   GET|POST        /storage/v1/b                       list / create buckets (create needs `admin`)
 *   GET|DELETE      /storage/v1/b/{b}                   bucket metadata / delete an empty bucket
 *   GET             /storage/v1/b/{b}/o                 list (prefix, delimiter, pageToken, maxResults…)
 *   GET|PATCH|DELETE /storage/v1/b/{b}/o/{o}            metadata or `alt=media` / patch / delete
 *   POST            /storage/v1/b/{b}/o/{o}/compose     compose ≤ 32 sources
 *   GET             /download/storage/v1/b/{b}/o/{o}    `alt=media` download
 *   POST|PUT|DELETE /upload/storage/v1/b/{b}/o          uploads (see uploads.ts)
 *   POST            /token                              OAuth 2.0 JWT-bearer grant for service accounts (oauth.ts)
 *
 * Auth: every request but a resumable-session PUT/DELETE needs `Authorization: Bearer <token>`:
 * a configured token or one the token endpoint issued to a registered service account.
 * Missing header → 401 `required`; unknown token → 401 `authError`; known token without the
 * access the operation needs on that bucket → 403 `forbidden` (checked before existence, so a
 * stranger cannot probe bucket names).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { anonymous, badRequest, forbidden, GcsHttpError, invalidCredentials, notFound } from './errors.ts';
import { parseJsonObject, PRECONDITION_PARAMS, Query, readBody, sendError, sendJson } from './http-util.ts';
import { sendMedia } from './media.ts';
import { type PeerServiceAccount, TokenEndpoint } from './oauth.ts';
import { bucketResource, objectResource } from './resources.ts';
import { checkObjectName, GcsStore, listObjects } from './store.ts';
import { Uploads, uploadMetadata } from './uploads.ts';

export type Access = 'none' | 'read' | 'write' | 'admin';

export interface PeerToken {
  token: string;
  /** Shown in 403 messages, like a service-account email. */
  principal?: string;
  /** Access on every bucket unless overridden; `admin` may also create and delete buckets. Default `none`. */
  access?: Access;
  /** Per-bucket overrides, e.g. `{ 'reports': 'read' }` for a read-only token. */
  buckets?: Record<string, Access>;
}

/**
 * Faults for the next matching request: `cut-chunk` drops the connection of the next resumable
 * chunk after N bytes; `status` answers the next request with that status; `corrupt-media` flips
 * one byte of the next media download (headers keep the true hashes).
 */
export type Fault =
  { kind: 'cut-chunk'; afterBytes: number } | { kind: 'status'; status: number } | { kind: 'corrupt-media' };

export interface GcsServerConfig {
  tokens: PeerToken[];
  /** Service accounts the token endpoint knows (`POST /token`). */
  serviceAccounts?: PeerServiceAccount[];
  buckets?: string[];
  projectId?: string;
  /** Largest object the peer keeps in memory (default 64 MiB). */
  maxObjectBytes?: number;
}

const RANK: Record<Access, number> = { none: 0, read: 1, write: 2, admin: 3 };
const PROJECT_NUMBER = '100000000001';

export class GcsServer {
  readonly store = new GcsStore();
  readonly server: http.Server;
  private tokens = new Map<string, PeerToken>();
  private readonly faults: Fault[] = [];
  private readonly uploads: Uploads;
  readonly oauth = new TokenEndpoint(() => this.url);
  private port = 0;

  constructor(private readonly config: GcsServerConfig) {
    this.setTokens(config.tokens);
    for (const b of config.buckets ?? []) this.store.createBucket(b);
    for (const sa of config.serviceAccounts ?? []) this.oauth.addServiceAccount(sa);
    this.uploads = new Uploads({
      store: this.store,
      base: () => this.url,
      maxObjectBytes: config.maxObjectBytes ?? 64 * 1024 * 1024,
      takeChunkCut: () => this.takeFault('cut-chunk')?.afterBytes,
    });
    this.server = http.createServer((req, res) => void this.handle(req, res));
    // A kept-alive connection idle past Node's 5 s default is closed by the server just as a
    // slow client (a loaded machine) reuses it: "fetch failed". Clients here are loopback tests.
    this.server.keepAliveTimeout = 60_000;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  setTokens(tokens: PeerToken[]): void {
    this.tokens = new Map(tokens.map((t) => [t.token, t]));
  }

  /** Queues a fault for the next matching request (`cut-chunk`: the next resumable chunk PUT). */
  addFault(fault: Fault): void {
    this.faults.push(fault);
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private takeFault<K extends Fault['kind']>(kind: K): Extract<Fault, { kind: K }> | undefined {
    const at = this.faults.findIndex((f) => f.kind === kind);
    return at < 0 ? undefined : (this.faults.splice(at, 1)[0] as Extract<Fault, { kind: K }>);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (process.env['GCS_PEER_LOG'] === '1') {
      res.on('finish', () =>
        process.stderr.write(
          `[gcs-peer] ${req.method} ${req.url} range=${req.headers.range ?? req.headers['content-range'] ?? ''} → ${res.statusCode}\n`,
        ),
      );
    }
    try {
      const status = this.takeFault('status');
      if (status)
        throw new GcsHttpError(
          status.status,
          status.status === 429 ? 'rateLimitExceeded' : 'backendError',
          'Injected fault.',
        );
      await this.route(req, res);
    } catch (err) {
      if (res.headersSent || res.destroyed) return;
      if (err instanceof GcsHttpError) sendError(res, err);
      else sendError(res, new GcsHttpError(500, 'backendError', 'Internal error in the GCS peer.'));
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://peer.invalid');
    if (url.pathname === '/token' && url.search === '') return this.oauth.handle(req, res);
    let segments: string[];
    try {
      segments = url.pathname
        .split('/')
        .slice(1)
        .map((s) => decodeURIComponent(s));
    } catch {
      throw badRequest('Malformed percent-encoding in the path.');
    }
    const method = req.method ?? 'GET';
    const [api, ...rest] = segments;
    const apiPath = api === 'storage' ? segments : rest;
    if (apiPath[0] !== 'storage' || apiPath[1] !== 'v1' || apiPath[2] !== 'b') throw notFound();
    const [bucket, o, object, action, ...extra] = apiPath.slice(3);
    if (extra.length > 0 || (o !== undefined && o !== 'o') || bucket === '') throw notFound();
    if (object === '') throw notFound();
    const p = url.searchParams;

    if (api === 'upload') {
      if (bucket === undefined || o !== 'o' || object !== undefined) throw notFound();
      if ((method === 'PUT' || method === 'DELETE') && p.has('upload_id')) {
        const q = new Query(p, ['uploadType', 'upload_id', 'name']);
        return method === 'PUT' ? this.uploads.put(req, res, bucket, q) : this.uploads.cancel(res, bucket, q);
      }
      if (method !== 'POST') throw methodNotAllowed();
      const q = new Query(p, ['uploadType', 'name', ...PRECONDITION_PARAMS]);
      this.authorize(req, bucket, 'write', 'storage.objects.create');
      return this.uploads.start(req, res, bucket, q);
    }
    if (api === 'download') {
      if (method !== 'GET' || object === undefined || action !== undefined) throw notFound();
      const q = new Query(p, ['generation', ...PRECONDITION_PARAMS]);
      if (q.str('alt') !== 'media') throw badRequest('Downloads need alt=media.', 'invalidParameter');
      return this.getObject(req, res, bucket!, object, q);
    }
    if (api !== 'storage') throw notFound();

    if (bucket === undefined) return this.buckets(req, res, method, p);
    if (o === undefined) return this.bucket(req, res, method, bucket, p);
    if (object === undefined) {
      if (method !== 'GET') throw methodNotAllowed();
      return this.list(req, res, bucket, p);
    }
    if (action !== undefined) {
      if (action !== 'compose') throw notFound();
      if (method !== 'POST') throw methodNotAllowed();
      return this.compose(req, res, bucket, object, new Query(p, PRECONDITION_PARAMS));
    }
    if (method === 'GET')
      return this.getObject(req, res, bucket, object, new Query(p, ['generation', ...PRECONDITION_PARAMS]));
    if (method === 'DELETE') {
      const q = new Query(p, ['generation', ...PRECONDITION_PARAMS]);
      this.authorize(req, bucket, 'write', 'storage.objects.delete');
      this.store.delete(bucket, checkObjectName(object), q.preconditions(), q.int('generation'));
      res.writeHead(204);
      res.end();
      return;
    }
    if (method === 'PATCH') return this.patch(req, res, bucket, object, new Query(p, PRECONDITION_PARAMS));
    throw methodNotAllowed();
  }

  /** 401 without a known bearer token; 403 when the token lacks `need` on the bucket. */
  private authorize(req: IncomingMessage, bucket: string | undefined, need: Access, permission: string): PeerToken {
    const header = req.headers.authorization;
    if (header === undefined) throw anonymous(permission);
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(header);
    const token = m ? (this.tokens.get(m[1]!) ?? this.oauth.token(m[1]!)) : undefined;
    if (!token) throw invalidCredentials();
    const have = (bucket !== undefined ? token.buckets?.[bucket] : undefined) ?? token.access ?? 'none';
    if (RANK[have] < RANK[need]) throw forbidden(token.principal ?? 'test-principal@strongroom.invalid', permission);
    return token;
  }

  private async buckets(req: IncomingMessage, res: ServerResponse, method: string, p: URLSearchParams): Promise<void> {
    const q = new Query(p, method === 'GET' ? ['project', 'maxResults', 'pageToken', 'prefix'] : ['project']);
    if (q.str('project') === undefined) throw badRequest('Required parameter: project', 'required');
    if (method === 'POST') {
      this.authorize(req, undefined, 'admin', 'storage.buckets.create');
      const { data } = await readBody(req, 64 * 1024);
      const body = parseJsonObject(data);
      if (typeof body['name'] !== 'string') throw badRequest('Required field: name', 'required');
      const unsupported = Object.keys(body).filter((k) => k !== 'name' && k !== 'location' && k !== 'storageClass');
      if (unsupported.length > 0) throw badRequest(`The peer does not support bucket field: ${unsupported[0]}`);
      return sendJson(res, 200, bucketResource(this.url, this.store.createBucket(body['name']), PROJECT_NUMBER));
    }
    if (method !== 'GET') throw methodNotAllowed();
    const token = this.authorize(req, undefined, 'none', 'storage.buckets.list');
    const prefix = q.str('prefix') ?? '';
    const items = [...this.store.buckets.values()]
      .filter((b) => b.name.startsWith(prefix) && RANK[token.buckets?.[b.name] ?? token.access ?? 'none'] >= RANK.read)
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((b) => bucketResource(this.url, b, PROJECT_NUMBER));
    sendJson(res, 200, items.length > 0 ? { kind: 'storage#buckets', items } : { kind: 'storage#buckets' });
  }

  private bucket(req: IncomingMessage, res: ServerResponse, method: string, bucket: string, p: URLSearchParams): void {
    const q = new Query(p, ['ifMetagenerationMatch', 'ifMetagenerationNotMatch']);
    if (q.int('ifMetagenerationMatch') !== undefined || q.int('ifMetagenerationNotMatch') !== undefined) {
      throw badRequest('The peer does not support bucket metageneration preconditions.', 'invalidParameter');
    }
    if (method === 'GET') {
      this.authorize(req, bucket, 'read', 'storage.buckets.get');
      return sendJson(res, 200, bucketResource(this.url, this.store.bucket(bucket), PROJECT_NUMBER));
    }
    if (method === 'DELETE') {
      this.authorize(req, bucket, 'admin', 'storage.buckets.delete');
      this.store.deleteBucket(bucket);
      res.writeHead(204);
      res.end();
      return;
    }
    throw methodNotAllowed();
  }

  private list(req: IncomingMessage, res: ServerResponse, bucket: string, p: URLSearchParams): void {
    const q = new Query(p, [
      'prefix',
      'delimiter',
      'pageToken',
      'maxResults',
      'startOffset',
      'endOffset',
      'includeTrailingDelimiter',
      'versions',
    ]);
    this.authorize(req, bucket, 'read', 'storage.objects.list');
    const b = this.store.bucket(bucket);
    if (q.bool('versions') === true) throw badRequest('The peer keeps no object versions.', 'invalidParameter');
    const maxResults = Math.min(q.int('maxResults') ?? 1000, 1000);
    if (maxResults === 0) throw badRequest('maxResults must be positive.', 'invalidParameter');
    const pageToken = q.str('pageToken');
    let after: string | undefined;
    if (pageToken !== undefined) {
      const decoded = Buffer.from(pageToken, 'base64url').toString('utf8');
      if (!decoded.startsWith('v1:') || Buffer.from(decoded, 'utf8').toString('base64url') !== pageToken)
        throw badRequest('Invalid pageToken.');
      after = decoded.slice(3);
    }
    const page = listObjects(b, {
      prefix: q.str('prefix') ?? '',
      delimiter: q.str('delimiter') || undefined,
      maxResults,
      after,
      startOffset: q.str('startOffset'),
      endOffset: q.str('endOffset'),
      includeTrailingDelimiter: q.bool('includeTrailingDelimiter') ?? false,
    });
    const body: Record<string, unknown> = { kind: 'storage#objects' };
    if (page.items.length > 0) body['items'] = page.items.map((o) => objectResource(this.url, o));
    if (page.prefixes.length > 0) body['prefixes'] = page.prefixes;
    if (page.last !== undefined) body['nextPageToken'] = Buffer.from('v1:' + page.last, 'utf8').toString('base64url');
    sendJson(res, 200, body);
  }

  private getObject(req: IncomingMessage, res: ServerResponse, bucket: string, object: string, q: Query): void {
    this.authorize(req, bucket, 'read', 'storage.objects.get');
    const obj = this.store.object(bucket, checkObjectName(object), q.int('generation'));
    this.store.checkRead(obj, q.preconditions());
    if (q.str('alt') === 'media') return sendMedia(req, res, obj, this.takeFault('corrupt-media') !== undefined);
    sendJson(res, 200, objectResource(this.url, obj));
  }

  private async compose(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    object: string,
    q: Query,
  ): Promise<void> {
    this.authorize(req, bucket, 'write', 'storage.objects.create');
    const { data } = await readBody(req, 1024 * 1024);
    const body = parseJsonObject(data);
    for (const k of Object.keys(body))
      if (k !== 'sourceObjects' && k !== 'destination' && k !== 'kind')
        throw badRequest(`Unsupported compose field: ${k}`);
    const sources = body['sourceObjects'];
    if (!Array.isArray(sources)) throw badRequest('Required field: sourceObjects', 'required');
    const parsed = sources.map((s: unknown) => {
      const src = s as { name?: unknown; generation?: unknown; objectPreconditions?: { ifGenerationMatch?: unknown } };
      if (typeof src?.name !== 'string') throw badRequest('Every source object needs a name.', 'required');
      const out: { name: string; generation?: number; ifGenerationMatch?: number } = { name: src.name };
      if (src.generation !== undefined) out.generation = Number(src.generation);
      if (src.objectPreconditions?.ifGenerationMatch !== undefined)
        out.ifGenerationMatch = Number(src.objectPreconditions.ifGenerationMatch);
      return out;
    });
    const dest = uploadMetadata((body['destination'] ?? {}) as Record<string, unknown>, bucket).input;
    if (dest.md5Hash !== undefined || dest.crc32c !== undefined)
      throw badRequest('Compose destinations cannot carry hashes in the peer.');
    const obj = this.store.compose(bucket, checkObjectName(object), parsed, dest, q.preconditions());
    sendJson(res, 200, objectResource(this.url, obj));
  }

  private async patch(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    object: string,
    q: Query,
  ): Promise<void> {
    this.authorize(req, bucket, 'write', 'storage.objects.update');
    const { data } = await readBody(req, 64 * 1024);
    const body = parseJsonObject(data);
    for (const k of Object.keys(body))
      if (k !== 'contentType' && k !== 'metadata') throw badRequest(`The peer does not support patching field: ${k}`);
    const patch: { contentType?: string; metadata?: Record<string, string | null> } = {};
    if (typeof body['contentType'] === 'string') patch.contentType = body['contentType'];
    if (body['metadata'] !== undefined) patch.metadata = body['metadata'] as Record<string, string | null>;
    sendJson(
      res,
      200,
      objectResource(this.url, this.store.patch(bucket, checkObjectName(object), patch, q.preconditions())),
    );
  }
}

function methodNotAllowed(): GcsHttpError {
  return new GcsHttpError(405, 'methodNotAllowed', 'Method not allowed on this resource.');
}
