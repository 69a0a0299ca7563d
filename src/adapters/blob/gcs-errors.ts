/**
 * Maps what @google-cloud/storage throws to `BlobError` codes. The SDK's message and the remote
 * body never leave this file: a `BlobError` message says what failed, with at most the HTTP status
 * or a system error code (`ECONNREFUSED`), and carries no `cause`.
 */
import { BlobError, type BlobErrorCode } from './driver.ts';
import { GcsTokenError } from './gcs-token.ts';

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * The HTTP status of an SDK error (teeny-request errors carry `code`, gaxios ones `response.status`).
 * A token endpoint's status is not the storage API's: undefined for a `GcsTokenError`.
 */
export function httpStatusOf(err: unknown): number | undefined {
  if (err instanceof GcsTokenError) return undefined;
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } } | null;
  if (!e || typeof e !== 'object') return undefined;
  for (const v of [e.code, e.status, e.response?.status]) if (typeof v === 'number' && v >= 100 && v < 600) return v;
  return undefined;
}

/** A BlobError somewhere in the cause chain (the egress guard's EGRESS_DENIED travels this way). */
function innerBlobError(err: unknown): BlobError | undefined {
  for (let e = err, depth = 0; e && depth < 8; depth++) {
    if (e instanceof BlobError) return e;
    const next = (e as { cause?: unknown; reason?: unknown }).cause ?? (e as { reason?: unknown }).reason;
    e = next;
  }
  return undefined;
}

function systemCodeOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 8; depth++) {
    const code = (e as { code?: unknown; errno?: unknown }).code ?? (e as { errno?: unknown }).errno;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{2,40}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export interface ErrorContext {
  /** What was attempted, e.g. "GCS get". */
  op: string;
  /** The code for a 404 (NOT_FOUND for an object, BUCKET_NOT_FOUND for bucket-level calls). */
  notFound: BlobErrorCode;
  /** The code for a 412 (ALREADY_EXISTS for create-if-absent). */
  preconditionFailed?: BlobErrorCode;
}

const OAUTH_REFUSALS = new Set([
  'invalid_grant',
  'invalid_client',
  'unauthorized_client',
  'invalid_scope',
  'invalid_request',
  'unsupported_grant_type',
]);

/**
 * A refused token request: ours (`GcsTokenError`) or google-auth-library's, which is a GaxiosError
 * with the OAuth body (`{"error":"invalid_grant","error_description":…}`) and the description
 * pasted into its message — so only `status` and the registered `error` code are looked at.
 */
function tokenRefusal(err: unknown): { status: number; oauthError?: string } | undefined {
  if (err instanceof GcsTokenError)
    return err.status === 0
      ? undefined
      : { status: err.status, ...(err.oauthError ? { oauthError: err.oauthError } : {}) };
  const res = (err as { response?: { status?: unknown; data?: { error?: unknown } } } | null)?.response;
  const oauthError = res?.data?.error;
  if (typeof res?.status === 'number' && typeof oauthError === 'string' && OAUTH_REFUSALS.has(oauthError))
    return { status: res.status, oauthError };
  return undefined;
}

export function toBlobError(err: unknown, ctx: ErrorContext): BlobError {
  const inner = innerBlobError(err);
  if (inner) return new BlobError(inner.code, inner.message);
  const refusal = tokenRefusal(err);
  if (refusal) {
    const what = `${ctx.op} failed: token request refused (HTTP ${refusal.status}${refusal.oauthError ? ` ${refusal.oauthError}` : ''})`;
    return new BlobError(
      refusal.status >= 400 && refusal.status < 500 && refusal.status !== 429 ? 'AUTH_FAILED' : 'FAILED',
      what,
    );
  }
  const status = httpStatusOf(err);
  if (status !== undefined) {
    const code: BlobErrorCode =
      status === 401
        ? 'AUTH_FAILED'
        : status === 403
          ? 'PERMISSION_DENIED'
          : status === 404
            ? ctx.notFound
            : status === 412
              ? (ctx.preconditionFailed ?? 'PRECONDITION_FAILED')
              : status === 416
                ? 'INVALID_RANGE'
                : 'FAILED';
    return new BlobError(code, `${ctx.op} failed: HTTP ${status}`);
  }
  const sys = systemCodeOf(err);
  // node-fetch keeps only the `code` of a connection error: the egress agent fails with code EGRESS_DENIED.
  if (sys === 'EGRESS_DENIED')
    return new BlobError('EGRESS_DENIED', `${ctx.op} refused: the address may not be reached`);
  if (sys && UNREACHABLE_CODES.has(sys)) return new BlobError('UNREACHABLE', `${ctx.op} failed: ${sys}`);
  if ((err as { type?: unknown })?.type === 'request-timeout' || (err as { name?: unknown })?.name === 'AbortError') {
    return new BlobError('UNREACHABLE', `${ctx.op} failed: timeout`);
  }
  if (sys === 'CONTENT_DOWNLOAD_MISMATCH' || sys === 'FILE_NO_UPLOAD')
    return new BlobError('FAILED', `${ctx.op} failed: integrity check (${sys})`);
  return new BlobError('FAILED', `${ctx.op} failed`);
}
