/**
 * A Fetch-compatible function for identity-provider traffic (OIDC discovery, JWKS, token
 * endpoint) that dials only through the egress guard (DESIGN §5.8).
 *
 * Guarantees:
 * - Every socket comes from the guard's https agent: the address is checked (admin allowlist
 *   the only way past), TLS verification stays on; `ca` adds a trusted root for an IdP behind a
 *   private CA, it never turns verification off.
 * - https only; redirects are handed back as they are (never followed).
 * - An answer larger than `maxBytes` is cut off with an error: a hostile IdP cannot fill memory.
 * - Errors carry our own words only, never a remote body.
 */
import https from 'node:https';
import type { EgressGuard } from '../net/egress-guard.ts';

export interface GuardedFetchOptions {
  guard: Pick<EgressGuard, 'httpsAgent' | 'checkUrl'>;
  /** Extra trusted root certificate(s), PEM. */
  ca?: string | undefined;
  maxBytes?: number;
}

export class IdpFetchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IdpFetchError';
  }
}

type FetchInit = { method?: string; headers?: Record<string, string>; body?: unknown; signal?: AbortSignal | null };

export function guardedFetch(options: GuardedFetchOptions) {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const agent = options.guard.httpsAgent(options.ca ? { ca: options.ca, keepAlive: false } : { keepAlive: false });
  return async (input: string | URL, init: FetchInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    if (url.protocol !== 'https:') throw new IdpFetchError('identity providers are reached over https only');
    await options.guard.checkUrl(url);
    const body =
      init.body === undefined || init.body === null
        ? undefined
        : typeof init.body === 'string'
          ? init.body
          : init.body instanceof URLSearchParams
            ? init.body.toString()
            : undefined;
    if (init.body !== undefined && init.body !== null && body === undefined)
      throw new IdpFetchError('unsupported request body for an identity provider');
    return new Promise<Response>((resolve, reject) => {
      const req = https.request(
        url,
        {
          method: init.method ?? 'GET',
          headers: {
            ...init.headers,
            ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
          },
          agent,
          ...(init.signal ? { signal: init.signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxBytes) {
              res.destroy();
              reject(new IdpFetchError('the identity provider answered with too much data'));
              return;
            }
            chunks.push(c);
          });
          res.on('error', (err) =>
            reject(new IdpFetchError('the identity provider connection failed', { cause: err })),
          );
          res.on('end', () => {
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers)) {
              if (Array.isArray(v)) for (const x of v) headers.append(k, x);
              else if (v !== undefined) headers.set(k, v);
            }
            const status = res.statusCode ?? 502;
            const nullBody = status === 204 || status === 304;
            resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers }));
          });
        },
      );
      req.on('error', (err) => reject(err));
      if (body !== undefined) req.write(body);
      req.end();
    });
  };
}
