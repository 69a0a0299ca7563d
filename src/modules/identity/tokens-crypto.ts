/** Opaque secrets (session ids, API tokens, recovery codes, setup tokens): random, stored as SHA-256. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

export const randomToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');

/** Constant-time equality of two strings (compared as SHA-256 digests, so lengths may differ). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** The per-session CSRF token: derived from the session id, so nobody without the cookie can compute it. */
export function csrfTokenFor(sessionId: string): string {
  return createHash('sha256').update(`strongroom/csrf/v1\0${sessionId}`).digest('base64url');
}
