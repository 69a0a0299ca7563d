/**
 * Errors of the root-key providers. Each is an `AppError` carrying a stable `meta.reason`, so
 * callers (CLI, doctor, unseal route) can tell failures apart without matching message text.
 * `detail` names files, tokens and labels (operator facts) but never key bytes, PINs or native
 * stacks.
 */
import { AppError } from '../../core/errors.ts';
import type { ErrorCode } from '../../core/errors.ts';

export type KeyErrorReason =
  | 'ROOT_KEY_EXISTS'
  | 'ROOT_KEY_MISSING'
  | 'ROOT_KEY_FILE_UNSAFE'
  | 'ROOT_KEY_FILE_INVALID'
  | 'STATE_FILE_INVALID'
  | 'INVALID_CONFIG'
  | 'SHARE_MALFORMED'
  | 'SHARE_CHECKSUM'
  | 'SHARE_DUPLICATE'
  | 'SHARES_MISMATCH'
  | 'ALREADY_UNSEALED'
  | 'PKCS11_MODULE_LOAD'
  | 'PKCS11_TOKEN_NOT_FOUND'
  | 'PKCS11_TOKEN_AMBIGUOUS'
  | 'PKCS11_PIN_INCORRECT'
  | 'PKCS11_PIN_LOCKED'
  | 'PKCS11_KEY_NOT_FOUND'
  | 'PKCS11_KEY_AMBIGUOUS'
  | 'PKCS11_KEY_UNSAFE'
  | 'PKCS11_BLOB_INVALID'
  | 'PKCS11_FAILED';

/** Build a key-provider error with a stable reason. */
export function keyError(code: ErrorCode, reason: KeyErrorReason, detail: string): AppError {
  return new AppError(code, { detail, meta: { reason } });
}

/** The stable reason of a key-provider error, or undefined for any other error. */
export function keyErrorReason(err: unknown): KeyErrorReason | undefined {
  if (!(err instanceof AppError)) return undefined;
  const reason = err.meta?.['reason'];
  return typeof reason === 'string' ? (reason as KeyErrorReason) : undefined;
}

/** Turn any failure into the `{ ok: false, problem }` shape `describe()` reports. */
export function describeProblem(err: unknown): { ok: false; problem: string; reason?: string } {
  if (err instanceof AppError) {
    const reason = keyErrorReason(err);
    return { ok: false, problem: err.detail ?? err.message, ...(reason ? { reason } : {}) };
  }
  return { ok: false, problem: 'unexpected error while inspecting the root key provider' };
}
