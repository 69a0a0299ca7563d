/**
 * The one error type of Strongroom.
 *
 * Every failure that reaches a client is an `AppError` whose `code` is one of a closed union; one
 * table maps each code to its HTTP status and title. `detail` is shown to the caller as is, so it
 * must be safe to show a stranger: never a secret, a stack, a SQL fragment or a remote body.
 * Anything that is not an `AppError` is answered as `INTERNAL` with no detail at all.
 */

export const ERROR_TABLE = {
  BAD_REQUEST: { status: 400, title: 'The request is malformed' },
  MALFORMED_JSON: { status: 400, title: 'The request body is not valid JSON' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication is required' },
  FORBIDDEN: { status: 403, title: 'You are not allowed to do this' },
  MFA_REQUIRED: { status: 403, title: 'Multi-factor authentication is required' },
  REAUTH_REQUIRED: { status: 403, title: 'Confirm your identity again to do this' },
  NETWORK_NOT_ALLOWED: { status: 403, title: 'Requests from this network address are not accepted' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  REQUEST_TIMEOUT: { status: 408, title: 'The request did not arrive in time' },
  CONFLICT: { status: 409, title: 'The request conflicts with the current state' },
  BODY_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  URI_TOO_LONG: { status: 414, title: 'A part of the request path is too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type' },
  RANGE_NOT_SATISFIABLE: { status: 416, title: 'The requested byte range is not satisfiable' },
  VALIDATION_FAILED: { status: 422, title: 'The request did not pass validation' },
  QUERY_REFUSED: { status: 400, title: 'The statement uses something a query may not use' },
  QUERY_INVALID: { status: 400, title: 'The statement is not valid' },
  DATA_MALFORMED: { status: 422, title: 'The stored data could not be parsed' },
  NOT_TABULAR: { status: 422, title: 'This dataset version is not tabular' },
  QUERY_LIMIT: { status: 503, title: 'The query exceeded its time or memory limit and was cancelled' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  HEADERS_TOO_LARGE: { status: 431, title: 'The request headers are too large' },
  INTERNAL: { status: 500, title: 'Internal error' },
  NOT_READY: { status: 503, title: 'The service is not ready' },
  SEALED: { status: 503, title: 'Strongroom is sealed' },
  KEY_DESTROYED: { status: 410, title: 'The key protecting this data was destroyed' },
  DECRYPTION_FAILED: { status: 409, title: 'Stored data failed its integrity check' },
  EGRESS_DENIED: { status: 422, title: 'That address may not be reached from Strongroom' },
  DRIVE_AUTH_FAILED: { status: 422, title: 'The storage service rejected the credentials' },
  DRIVE_BUCKET_NOT_FOUND: { status: 422, title: 'The bucket or container does not exist' },
  DRIVE_PERMISSION_DENIED: { status: 422, title: 'The credentials lack a permission the drive needs' },
  DRIVE_UNREACHABLE: { status: 422, title: 'The storage service could not be reached' },
  DRIVE_ERROR: { status: 502, title: 'The storage service failed' },
  DRIVE_FULL: { status: 507, title: 'The drive has no space left' },
  AUDIT_UNAVAILABLE: { status: 503, title: 'The audit trail cannot record this action' },
  BACKUP_INVALID: { status: 422, title: 'The backup failed its integrity check' },
  BACKUP_FOREIGN: { status: 409, title: 'The backup was made by another installation' },
  SSO_REFUSED: { status: 401, title: 'Single sign-on did not succeed' },
  SSO_PROVIDER_ERROR: { status: 502, title: 'The identity provider could not be used' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export interface AppErrorOptions {
  /** Safe, human-readable explanation for the caller. */
  detail?: string;
  /** Safe, structured extras (e.g. validation issues) included in the problem body. */
  meta?: Record<string, unknown>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly meta: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, opts: AppErrorOptions = {}) {
    super(opts.detail ?? ERROR_TABLE[code].title, { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.detail = opts.detail;
    this.meta = opts.meta;
  }

  get status(): number {
    return ERROR_TABLE[this.code].status;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** RFC 9457 problem details body. `type` is a stable URN per code. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  instance?: string;
  requestId?: string;
  [extra: string]: unknown;
}

export function toProblem(err: AppError, requestId?: string): ProblemBody {
  const { status, title } = ERROR_TABLE[err.code];
  const body: ProblemBody = {
    type: `urn:strongroom:problem:${err.code.toLowerCase().replaceAll('_', '-')}`,
    title,
    status,
    code: err.code,
  };
  if (err.detail !== undefined) body.detail = err.detail;
  if (requestId !== undefined) body.requestId = requestId;
  if (err.meta) for (const [k, v] of Object.entries(err.meta)) if (!(k in body)) body[k] = v;
  return body;
}

/**
 * The connection to the database was lost while a COMMIT was in flight: the database may have
 * committed (only its answer was lost) or not. Answered as a 503 that says so (`outcome:
 * "unknown"`), never as "not performed": the caller reads the state back before retrying. The
 * audit trail stays true either way — the work's own event committed with it, or neither did —
 * so no second event is recorded for such a request.
 */
export function commitOutcomeUnknown(cause: unknown): AppError {
  return new AppError('NOT_READY', {
    detail:
      'The connection to the database was lost while this change was being committed: it may or may not have been made. Read it back before trying again.',
    meta: { outcome: 'unknown' },
    cause,
  });
}

export const isCommitOutcomeUnknown = (err: unknown): boolean =>
  err instanceof AppError && err.meta?.outcome === 'unknown';
