/**
 * The peer's OAuth 2.0 token endpoint (`POST /token`): the JWT-bearer grant Google uses for
 * service-account keys, checked as strictly as Google does.
 *
 * - Body `application/x-www-form-urlencoded`: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
 *   and `assertion` — a compact JWS with header `alg: RS256`, claims `iss` (a registered
 *   service-account email), `aud` (exactly this endpoint's URL), `scope`, `iat` and `exp`
 *   (at most one hour apart, not expired, not from the future beyond a minute of skew).
 * - The signature is verified with node:crypto against the account's registered public key; `kid`,
 *   when both sides have one, must match.
 * - Answers `{"access_token","expires_in","token_type":"Bearer"}`; the token carries the
 *   account's grants, capped by the scope (`devstorage.read_only` → read, `read_write` → write,
 *   `full_control` / `cloud-platform` → admin) and expires with `expires_in`.
 * - Failures are 400 `{"error":"invalid_grant"|"invalid_request"|"unsupported_grant_type"|"invalid_scope","error_description"}`.
 */
import { createPublicKey, type KeyObject, randomBytes, verify } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson } from './http-util.ts';
import type { Access, PeerToken } from './server.ts';

export interface PeerServiceAccount {
  clientEmail: string;
  /** SPKI PEM of the account's RSA key. */
  publicKeyPem: string;
  /** `private_key_id` of the key file; when set, a JWT `kid` must equal it. */
  keyId?: string;
  access?: Access;
  buckets?: Record<string, Access>;
}

/** An issued access token: a `PeerToken` plus its expiry (ms since the epoch). */
export type IssuedToken = PeerToken & { expiresAt: number };

export class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

const GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const LIFETIME_S = 3600;
const SKEW_S = 60;
const SCOPE_CAP: Record<string, Access> = {
  'https://www.googleapis.com/auth/devstorage.read_only': 'read',
  'https://www.googleapis.com/auth/devstorage.read_write': 'write',
  'https://www.googleapis.com/auth/devstorage.full_control': 'admin',
  'https://www.googleapis.com/auth/cloud-platform': 'admin',
};
const RANK: Record<Access, number> = { none: 0, read: 1, write: 2, admin: 3 };
const capped = (a: Access, cap: Access): Access => (RANK[a] <= RANK[cap] ? a : cap);

const grantError = (description: string): OAuthError => new OAuthError('invalid_grant', description);

/** Strict base64url (no padding, no other characters) → bytes. */
function unb64url(part: string): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw grantError('Invalid JWT: not base64url.');
  const bytes = Buffer.from(part, 'base64url');
  if (bytes.toString('base64url') !== part) throw grantError('Invalid JWT: not canonical base64url.');
  return bytes;
}

function jsonPart(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(unb64url(part).toString('utf8'));
  } catch (err) {
    if (err instanceof OAuthError) throw err;
    throw grantError('Invalid JWT: a segment is not JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw grantError('Invalid JWT: a segment is not a JSON object.');
  return value as Record<string, unknown>;
}

export class TokenEndpoint {
  private accounts = new Map<string, { sa: PeerServiceAccount; key: KeyObject }>();
  private readonly issued = new Map<string, IssuedToken>();

  constructor(private readonly url: () => string) {}

  /** Registers (or replaces) a service account. */
  addServiceAccount(sa: PeerServiceAccount): void {
    const key = createPublicKey(sa.publicKeyPem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error('service accounts need an RSA public key');
    this.accounts.set(sa.clientEmail, { sa, key });
  }

  /** An issued, unexpired token (expired ones are forgotten). */
  token(value: string): PeerToken | undefined {
    const t = this.issued.get(value);
    if (t && t.expiresAt <= Date.now()) this.issued.delete(value);
    return t && t.expiresAt > Date.now() ? t : undefined;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (req.method !== 'POST') throw new OAuthError('invalid_request', 'The token endpoint takes POST only.');
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/x-www-form-urlencoded')
        throw new OAuthError('invalid_request', 'Content-Type must be application/x-www-form-urlencoded.');
      const { data } = await readBody(req, 64 * 1024);
      const form = new URLSearchParams(data.toString('utf8'));
      const grant = form.getAll('grant_type');
      if (grant.length !== 1) throw new OAuthError('invalid_request', 'Missing or repeated grant_type.');
      if (grant[0] !== GRANT) throw new OAuthError('unsupported_grant_type', `Invalid grant_type: ${grant[0]}`);
      const assertion = form.getAll('assertion');
      if (assertion.length !== 1) throw new OAuthError('invalid_request', 'Missing or repeated assertion.');
      const { sa, scope } = this.check(assertion[0]!);
      const cap = scope.reduce<Access>(
        (best, s) => (SCOPE_CAP[s] && RANK[SCOPE_CAP[s]] > RANK[best] ? SCOPE_CAP[s] : best),
        'none',
      );
      const accessToken = `ya29.peer-${randomBytes(24).toString('base64url')}`;
      const buckets = Object.fromEntries(Object.entries(sa.buckets ?? {}).map(([b, a]) => [b, capped(a, cap)]));
      this.issued.set(accessToken, {
        token: accessToken,
        principal: sa.clientEmail,
        access: capped(sa.access ?? 'none', cap),
        buckets,
        expiresAt: Date.now() + LIFETIME_S * 1000,
      });
      sendJson(
        res,
        200,
        { access_token: accessToken, expires_in: LIFETIME_S - 1, token_type: 'Bearer' },
        { 'cache-control': 'no-store' },
      );
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      sendJson(res, 400, { error: err.error, error_description: err.description }, { 'cache-control': 'no-store' });
    }
  }

  /** Parses and verifies an assertion; returns the account and the requested scopes. */
  private check(assertion: string): { sa: PeerServiceAccount; scope: string[] } {
    const parts = assertion.split('.');
    if (parts.length !== 3) throw grantError('Invalid JWT: expected three segments.');
    const [h, p, s] = parts as [string, string, string];
    const header = jsonPart(h);
    const claims = jsonPart(p);
    const signature = unb64url(s);
    if (header['alg'] !== 'RS256') throw grantError('Invalid JWT: only RS256 is accepted.');
    if (header['crit'] !== undefined) throw grantError('Invalid JWT: crit is not supported.');
    const iss = claims['iss'];
    const account = typeof iss === 'string' ? this.accounts.get(iss) : undefined;
    if (!account) throw grantError('Invalid grant: account not found');
    if (header['kid'] !== undefined && account.sa.keyId !== undefined && header['kid'] !== account.sa.keyId)
      throw grantError('Invalid JWT Signature.');
    if (!verify('sha256', Buffer.from(`${h}.${p}`), account.key, signature)) throw grantError('Invalid JWT Signature.');
    if (claims['aud'] !== `${this.url()}/token`) throw grantError('Invalid JWT: Failed audience check.');
    const now = Math.floor(Date.now() / 1000);
    const { iat, exp } = claims;
    if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isInteger(iat) || !Number.isInteger(exp)) {
      throw grantError('Invalid JWT: iat and exp must be integers.');
    }
    if (exp <= iat || exp - iat > LIFETIME_S || iat > now + SKEW_S || exp <= now - SKEW_S) {
      throw grantError(
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    }
    if (claims['sub'] !== undefined && claims['sub'] !== iss)
      throw new OAuthError('unauthorized_client', 'The peer does not do domain-wide delegation.');
    const scope = typeof claims['scope'] === 'string' ? claims['scope'].split(' ').filter((x) => x !== '') : [];
    if (scope.length === 0) throw new OAuthError('invalid_scope', 'Empty or missing scope not allowed.');
    if (!scope.some((x) => SCOPE_CAP[x])) throw new OAuthError('invalid_scope', 'No Cloud Storage scope requested.');
    return { sa: account.sa, scope };
  }
}
