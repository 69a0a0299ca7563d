/**
 * A small HTTPS transport for Strongroom's API (`api.ts` has the typed routes), used by the CLI. It
 * verifies the server certificate (a self-signed installation passes its own certificate as
 * extra trust anchor) and turns problem+json answers into `ApiError`s.
 */
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { ApiError, problemError } from './api.ts';

export interface ClientOptions {
  baseUrl: string;
  token?: string;
  /** Extra trust anchor (PEM), e.g. the data directory's self-signed certificate. */
  ca?: string;
  servername?: string;
  timeoutMs?: number;
}

export { ApiError };

export interface Client {
  baseUrl: string;
  request<T>(method: string, path: string, body?: unknown, o?: RequestOptions): Promise<T>;
}

/** Per request: `timeoutMs` = how long the connection may stay idle (long work answers late). */
export interface RequestOptions {
  timeoutMs?: number;
}

export interface Exchange<T> {
  body: T;
  setCookie: string[];
}

/**
 * One JSON request over HTTPS with the given extra headers; a problem+json answer (status ≥ 400)
 * rejects with an `ApiError` carrying its code, title and detail.
 */
export function exchange<T>(
  opts: {
    baseUrl: string;
    ca?: string | undefined;
    servername?: string | undefined;
    timeoutMs?: number;
    agent?: https.Agent;
    headers?: Record<string, string>;
  },
  method: string,
  path: string,
  body?: unknown,
): Promise<Exchange<T>> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const url = new URL(path, opts.baseUrl);
    const req = https.request(
      url,
      {
        method,
        agent: opts.agent,
        ...(opts.agent
          ? {}
          : { ca: opts.ca ? [...rootCertificates, opts.ca] : undefined, servername: opts.servername }),
        timeout: opts.timeoutMs ?? 30_000,
        headers: {
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: any;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 400) reject(problemError(status, parsed));
          else resolve({ body: parsed as T, setCookie: ([] as string[]).concat(res.headers['set-cookie'] ?? []) });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

export function createClient(opts: ClientOptions): Client {
  const agent = new https.Agent({
    keepAlive: true,
    ca: opts.ca ? [...rootCertificates, opts.ca] : undefined,
    servername: opts.servername,
  });
  const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
  return {
    baseUrl: opts.baseUrl,
    async request<T>(method: string, path: string, body?: unknown, o?: RequestOptions): Promise<T> {
      const timeoutMs = o?.timeoutMs ?? opts.timeoutMs;
      return (
        await exchange<T>(
          { baseUrl: opts.baseUrl, agent, headers, ...(timeoutMs ? { timeoutMs } : {}) },
          method,
          path,
          body,
        )
      ).body;
    },
  };
}

/** A streaming answer: status, headers and the body as a stream (read it or `resume()` it). */
export interface StreamedResponse {
  status: number;
  headers: import('node:http').IncomingHttpHeaders;
  body: import('node:http').IncomingMessage;
}

/**
 * One HTTPS request whose body (optional) is streamed from `upload` and whose answer is streamed
 * back, for uploads and downloads that must never sit in memory. A status ≥ 400 rejects with an
 * `ApiError` (the problem+json body is small and read whole). No timeout on a request that is
 * moving data: only an idle socket (`idleMs`, default 60 s) aborts it.
 */
export function streamRequest(
  opts: {
    baseUrl: string;
    ca?: string | undefined;
    servername?: string | undefined;
    headers?: Record<string, string>;
    idleMs?: number;
  },
  method: string,
  path: string,
  upload?: NodeJS.ReadableStream,
): Promise<StreamedResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(path, opts.baseUrl),
      {
        method,
        ca: opts.ca ? [...rootCertificates, opts.ca] : undefined,
        servername: opts.servername,
        timeout: opts.idleMs ?? 60_000,
        headers: { ...opts.headers },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status < 400) return resolve({ status, headers: res.headers, body: res });
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          let parsed: any;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            parsed = undefined;
          }
          reject(problemError(status, parsed));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('the connection was idle for too long')));
    req.on('error', reject);
    if (!upload) return void req.end();
    upload.on('error', (err: Error) => req.destroy(err));
    upload.pipe(req);
  });
}
