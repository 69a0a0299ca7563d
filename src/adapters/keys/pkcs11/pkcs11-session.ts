/**
 * PKCS#11 plumbing: load the module, find the token by label, open a session, log in — and undo
 * every step afterwards, on success and on error.
 *
 * Guarantees:
 * - the token is found by its LABEL among the slots with a token present, never by slot number;
 *   two tokens with the same label are refused as ambiguous;
 * - `withTokenSession` always logs out, closes the session, finalizes the module (when this call
 *   initialized it) and unloads it, even when `fn` throws;
 * - every failure becomes an `AppError` with a distinct reason and a plain message naming the
 *   module/token/step; raw PKCS#11 errors and native stacks never escape.
 * Everything is synchronous on purpose: no other JavaScript can interleave with a session.
 */
import pkcs11js from 'pkcs11js';
import type { PKCS11 } from 'pkcs11js';
import { AppError } from '../../../core/errors.ts';
import { keyError } from '../key-errors.ts';

/** Where the token is and how to log in. */
export interface TokenAccess {
  modulePath: string;
  tokenLabel: string;
  pin: string;
}

/** A logged-in read/write session, valid only inside the `withTokenSession` callback. */
export interface TokenSession {
  p11: PKCS11;
  slot: Buffer;
  session: Buffer;
}

const CKR_NAMES = new Map<number, string>(
  Object.entries(pkcs11js as unknown as Record<string, unknown>)
    .filter((e): e is [string, number] => e[0].startsWith('CKR_') && typeof e[1] === 'number')
    .map(([name, value]) => [value, name]),
);

/** The PKCS#11 return code of an error, if it is one. */
export function pkcs11Code(err: unknown): number | undefined {
  return err instanceof pkcs11js.Pkcs11Error ? err.code : undefined;
}

/**
 * Map a native PKCS#11 failure of `step` to a safe `PKCS11_FAILED` error without its native stack.
 * AppErrors and ordinary JavaScript errors (bugs) pass through unchanged.
 */
export function toKeyError(err: unknown, step: string): unknown {
  if (err instanceof AppError || !(err instanceof pkcs11js.NativeError)) return err;
  const code = pkcs11Code(err);
  const name = code === undefined ? 'a native error' : (CKR_NAMES.get(code) ?? `0x${code.toString(16)}`);
  return keyError('SEALED', 'PKCS11_FAILED', `PKCS#11 ${step} failed with ${name}`);
}

const trimLabel = (label: string): string => label.replace(/[\s\0]+$/, '');

/** Load and initialize the module, run `fn`, then finalize and unload (always). */
export function withModule<T>(modulePath: string, fn: (p11: PKCS11) => T): T {
  const p11 = new pkcs11js.PKCS11();
  try {
    p11.load(modulePath);
  } catch {
    throw keyError(
      'SEALED',
      'PKCS11_MODULE_LOAD',
      `cannot load the PKCS#11 module ${modulePath}: missing, unreadable or not a PKCS#11 library`,
    );
  }
  let ownsInit = true;
  try {
    try {
      p11.C_Initialize();
    } catch (err) {
      if (pkcs11Code(err) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED)
        throw toKeyError(err, `C_Initialize of ${modulePath}`);
      ownsInit = false;
    }
    return fn(p11);
  } finally {
    if (ownsInit) ignore(() => p11.C_Finalize());
    ignore(() => p11.close());
  }
}

/** The slot holding the token labelled `tokenLabel`; TOKEN_NOT_FOUND / TOKEN_AMBIGUOUS otherwise. */
export function findSlotByLabel(p11: PKCS11, tokenLabel: string): Buffer {
  let slots: Buffer[];
  try {
    slots = p11.C_GetSlotList(true);
  } catch (err) {
    throw toKeyError(err, 'C_GetSlotList');
  }
  const seen: string[] = [];
  const matches: Buffer[] = [];
  for (const slot of slots) {
    let label: string;
    try {
      label = trimLabel(p11.C_GetTokenInfo(slot).label);
    } catch {
      continue;
    }
    if (label === tokenLabel) matches.push(slot);
    else if (label !== '') seen.push(JSON.stringify(label));
  }
  if (matches.length > 1) {
    throw keyError(
      'SEALED',
      'PKCS11_TOKEN_AMBIGUOUS',
      `${matches.length} tokens are labelled "${tokenLabel}"; give the token a unique label`,
    );
  }
  const slot = matches[0];
  if (!slot) {
    const others = seen.length > 0 ? ` (tokens present: ${seen.join(', ')})` : ' (no initialized token is present)';
    throw keyError('SEALED', 'PKCS11_TOKEN_NOT_FOUND', `no PKCS#11 token labelled "${tokenLabel}" was found${others}`);
  }
  return slot;
}

/** Open a read/write session on the token and log in as user; undo both afterwards (always). */
export function withTokenSession<T>(access: TokenAccess, fn: (s: TokenSession) => T): T {
  return withModule(access.modulePath, (p11) => {
    const slot = findSlotByLabel(p11, access.tokenLabel);
    let session: Buffer;
    try {
      session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    } catch (err) {
      throw toKeyError(err, `C_OpenSession on token "${access.tokenLabel}"`);
    }
    let loggedIn = false;
    try {
      loggedIn = login(p11, session, access);
      return fn({ p11, slot, session });
    } catch (err) {
      throw toKeyError(err, `operation on token "${access.tokenLabel}"`);
    } finally {
      if (loggedIn) ignore(() => p11.C_Logout(session));
      ignore(() => p11.C_CloseSession(session));
    }
  });
}

/** Log in; returns whether this call logged in (and so must log out). */
function login(p11: PKCS11, session: Buffer, access: TokenAccess): boolean {
  try {
    p11.C_Login(session, pkcs11js.CKU_USER, access.pin);
    return true;
  } catch (err) {
    const code = pkcs11Code(err);
    if (code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN) return false;
    if (code === pkcs11js.CKR_PIN_INCORRECT || code === pkcs11js.CKR_PIN_LEN_RANGE) {
      throw keyError(
        'SEALED',
        'PKCS11_PIN_INCORRECT',
        `login to PKCS#11 token "${access.tokenLabel}" failed: the PIN is wrong`,
      );
    }
    if (code === pkcs11js.CKR_PIN_LOCKED || code === pkcs11js.CKR_PIN_EXPIRED) {
      throw keyError(
        'SEALED',
        'PKCS11_PIN_LOCKED',
        `the user PIN of PKCS#11 token "${access.tokenLabel}" is locked or expired; reset it with the SO PIN`,
      );
    }
    if (code === pkcs11js.CKR_USER_PIN_NOT_INITIALIZED) {
      throw keyError('SEALED', 'PKCS11_PIN_INCORRECT', `PKCS#11 token "${access.tokenLabel}" has no user PIN set`);
    }
    throw toKeyError(err, `C_Login to token "${access.tokenLabel}"`);
  }
}

function ignore(fn: () => void): void {
  try {
    fn();
  } catch {
    // Cleanup must not mask the original outcome.
  }
}
