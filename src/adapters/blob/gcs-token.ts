/**
 * Service-account access tokens for the GCS driver: the OAuth 2.0 JWT-bearer grant (RFC 7523) as
 * Google documents it, done here rather than by google-auth-library.
 *
 * Why not the SDK's own `credentials` path: google-auth-library 9 (gtoken 7) ignores the key's
 * `token_uri` — it always posts to https://www.googleapis.com/oauth2/v4/token with that as `aud` —
 * so it can be proved only against Google. This client honours `token_uri`, which makes the
 * production path testable against the GCS peer and works where Google hands out a different one.
 *
 * SECURITY: `token_uri` comes from a user-supplied key file, so it is a user-supplied address.
 * The token request goes through the caller's agent (the egress guard) exactly like API calls,
 * follows no redirect, must use the API endpoint's scheme (so one agent serves both and an https
 * API never gets its assertion or bearer sent in clear), and may not carry user:password@. What
 * the token endpoint answers never reaches an error message: a `GcsTokenError` keeps the HTTP
 * status and, at most, the OAuth `error` code when it is one of the registered ones.
 */
import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { OAuth2Client } from 'google-auth-library';
import { BlobError } from './driver.ts';

export const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
/** Objects read/write, no IAM: all the driver needs. */
export const GCS_SCOPE = 'https://www.googleapis.com/auth/devstorage.read_write';
const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
]);
const MAX_RESPONSE_BYTES = 64 * 1024;

/** A failed token request. `status` is 0 when no HTTP answer came (see `cause`, a socket error). */
export class GcsTokenError extends Error {
  constructor(
    readonly status: number,
    readonly oauthError?: string,
    options?: { cause?: unknown },
  ) {
    super(
      status === 0
        ? 'GCS token request failed'
        : `GCS token request refused: HTTP ${status}${oauthError ? ` ${oauthError}` : ''}`,
      options,
    );
    this.name = 'GcsTokenError';
  }
}

export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
  [field: string]: unknown;
}

export interface TokenClientOptions {
  key: ServiceAccountKey;
  /** The API endpoint the token is for; its scheme is the one `token_uri` must use. */
  apiEndpoint: string;
  agent?: http.Agent;
  timeoutMs: number;
}

/** Checks the key and its token address; throws `BlobError('FAILED')` with a plain reason. */
export function checkServiceAccountKey(
  key: ServiceAccountKey,
  apiEndpoint: string,
): { tokenUri: URL; privateKey: KeyObject } {
  if (typeof key?.client_email !== 'string' || key.client_email === '' || typeof key.private_key !== 'string') {
    throw new BlobError('FAILED', 'GCS service-account key needs client_email and private_key');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key.private_key);
  } catch {
    throw new BlobError('FAILED', 'GCS service-account private_key is not a usable PEM key');
  }
  if (privateKey.asymmetricKeyType !== 'rsa')
    throw new BlobError('FAILED', 'GCS service-account private_key must be an RSA key');
  let tokenUri: URL;
  try {
    tokenUri = new URL(key.token_uri ?? DEFAULT_TOKEN_URI);
  } catch {
    throw new BlobError('FAILED', 'GCS service-account token_uri is not a valid URL');
  }
  if (tokenUri.username !== '' || tokenUri.password !== '')
    throw new BlobError('FAILED', 'GCS service-account token_uri may not contain a user name or password');
  if (tokenUri.protocol !== new URL(apiEndpoint).protocol) {
    throw new BlobError(
      'FAILED',
      `GCS service-account token_uri must use ${new URL(apiEndpoint).protocol.slice(0, -1)} like the API endpoint`,
    );
  }
  return { tokenUri, privateKey };
}

const b64url = (v: Buffer | string): string => Buffer.from(v).toString('base64url');

/** The signed assertion: RS256, iss = client_email, aud = token_uri, one hour. */
export function signAssertion(
  key: ServiceAccountKey,
  privateKey: KeyObject,
  tokenUri: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): string {
  const header = {
    alg: 'RS256',
    typ: 'JWT',
    ...(typeof key.private_key_id === 'string' ? { kid: key.private_key_id } : {}),
  };
  const claims = { iss: key.client_email, scope: GCS_SCOPE, aud: tokenUri, iat: nowSeconds, exp: nowSeconds + 3600 };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign('sha256', Buffer.from(input), privateKey))}`;
}

/** One token request; resolves `{ access_token, expiry_date }` for OAuth2Client's refreshHandler. */
function requestToken(
  tokenUri: URL,
  assertion: string,
  agent: http.Agent | undefined,
  timeoutMs: number,
): Promise<{ access_token: string; expiry_date: number }> {
  const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString();
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const send = tokenUri.protocol === 'https:' ? https.request : http.request;
    const req = send(tokenUri, {
      method: 'POST',
      ...(agent ? { agent } : {}),
      timeout: timeoutMs,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(body),
        accept: 'application/json',
      },
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('token request timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => reject(new GcsTokenError(0, undefined, { cause: err })));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('token response too large'));
        else chunks.push(c);
      });
      res.on('error', (err) => reject(new GcsTokenError(0, undefined, { cause: err })));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          // not JSON: only the status is kept
        }
        const token = json['access_token'];
        if (status === 200 && typeof token === 'string' && /^[\x21-\x7e]{1,4096}$/.test(token)) {
          const expiresIn =
            typeof json['expires_in'] === 'number' && json['expires_in'] > 0 ? json['expires_in'] : 3600;
          return resolve({ access_token: token, expiry_date: started + expiresIn * 1000 });
        }
        const oauthError =
          typeof json['error'] === 'string' && OAUTH_ERRORS.has(json['error']) ? json['error'] : undefined;
        reject(new GcsTokenError(status === 200 ? 502 : status, oauthError));
      });
    });
    req.end(body);
  });
}

/**
 * An OAuth2Client whose tokens come from the key's `token_uri` through `agent`. Concurrent
 * refreshes share one request; the SDK refreshes five minutes before expiry.
 */
export function createServiceAccountAuthClient(opts: TokenClientOptions): OAuth2Client {
  const { tokenUri, privateKey } = checkServiceAccountKey(opts.key, opts.apiEndpoint);
  const client = new OAuth2Client();
  let inFlight: Promise<{ access_token: string; expiry_date: number }> | undefined;
  client.refreshHandler = () => {
    inFlight ??= requestToken(
      tokenUri,
      signAssertion(opts.key, privateKey, opts.key.token_uri ?? DEFAULT_TOKEN_URI),
      opts.agent,
      opts.timeoutMs,
    ).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  return client;
}
