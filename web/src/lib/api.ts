/**
 * The console's side of the shared API client (`src/client/api.ts`): a `fetch` transport that
 * sends the session cookie (same origin only) and, on state changes, the session's CSRF token.
 * A 401 on anything but the sign-in steps means the session ended: listeners are told so the
 * console can ask for a new sign-in and come back to the same page.
 */
import { ApiError, createApi, problemError, type JsonTransport } from '../../../src/client/api.ts';

export { ApiError };

let csrfToken: string | undefined;
/** Remember the CSRF token from sign-in, MFA steps and /auth/me. */
export function setCsrfToken(token: string | undefined): void {
  if (token) csrfToken = token;
}
export const csrfHeader = (): Record<string, string> => (csrfToken ? { 'x-csrf-token': csrfToken } : {});

const expiredListeners = new Set<() => void>();
export function onSessionExpired(listener: () => void): () => void {
  expiredListeners.add(listener);
  return () => expiredListeners.delete(listener);
}
/** Sign-in steps answer 401 for a wrong password or code: that is not an ended session. */
const SIGN_IN_PATHS = ['/api/v1/auth/login', '/api/v1/auth/mfa', '/api/v1/auth/reauth'];

export function reportUnauthenticated(path: string, err: unknown): void {
  if (err instanceof ApiError && err.status === 401 && !SIGN_IN_PATHS.includes(path.split('?')[0] ?? '')) {
    for (const l of expiredListeners) l();
  }
}

async function parse(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const transport: JsonTransport = {
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD') Object.assign(headers, csrfHeader());
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        cache: 'no-store',
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch {
      throw new ApiError(
        0,
        'NETWORK',
        'The server could not be reached',
        'Check your connection; the request was not completed.',
      );
    }
    const parsed = await parse(res);
    if (res.status >= 400) {
      const err = problemError(res.status, parsed);
      reportUnauthenticated(path, err);
      throw err;
    }
    const maybe = parsed as { csrfToken?: string } | undefined;
    if (maybe && typeof maybe === 'object' && typeof maybe.csrfToken === 'string') setCsrfToken(maybe.csrfToken);
    return parsed as T;
  },
};

export const api = createApi(transport);
