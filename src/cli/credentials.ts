/**
 * The CLI's stored sign-in: `$XDG_CONFIG_HOME/strongroom/credentials.json` (default
 * `~/.config/…`), mode 0600 in a 0700 directory. It holds the server URL, the session id and its
 * CSRF token from `strongroom login`; `user` and `token` commands send them like a browser would.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApi, type Api } from '../client/api.ts';
import { exchange, streamRequest, type Exchange, type StreamedResponse } from '../client/http-client.ts';
import type { Config } from '../core/config.ts';
import { tlsFilesFor } from '../installation/home.ts';
import { CliExit } from './context.ts';
import { serverBaseUrl } from './server-link.ts';
import { EXIT } from './exit-codes.ts';

export interface Credentials {
  baseUrl: string;
  ca?: string;
  session: string;
  csrf: string;
  email: string;
}

export function credentialsPath(): string {
  const base = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'strongroom', 'credentials.json');
}

export async function saveCredentials(c: Credentials): Promise<string> {
  const file = credentialsPath();
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(c, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}

export async function loadCredentials(): Promise<Credentials> {
  try {
    return JSON.parse(await readFile(credentialsPath(), 'utf8')) as Credentials;
  } catch {
    throw new CliExit(EXIT.FAILED, "Not signed in: run 'strongroom login' first.");
  }
}

export async function serverBase(config: Config): Promise<{ baseUrl: string; ca?: string }> {
  const ca = await readFile(tlsFilesFor(config).certFile, 'utf8').catch(() => undefined);
  return { baseUrl: serverBaseUrl(config), ...(ca ? { ca } : {}) };
}

/** Where and as whom the signed-in commands talk: a server, and (after login) a session. */
export interface SessionTarget {
  baseUrl: string;
  ca?: string;
  session?: string;
  csrf?: string;
}

/**
 * The typed API (`client/api.ts`) over the session: cookie, and the CSRF header on state changes.
 * `onSetCookie` sees the `Set-Cookie` headers of every answer (login keeps the new session).
 */
export function sessionApi(c: SessionTarget, onSetCookie?: (setCookie: string[]) => void): Api {
  return createApi({
    async request<T>(method: string, p: string, body?: unknown, o?: { timeoutMs?: number }): Promise<T> {
      const r = await call<T>(c, method, p, body, o?.timeoutMs);
      onSetCookie?.(r.setCookie);
      return r.body;
    },
  });
}

/** A JSON request with the session (for commands whose routes the shared client does not list). */
export function sessionRequest(c: SessionTarget): <T>(method: string, p: string, body?: unknown) => Promise<T> {
  return async <T>(method: string, p: string, body?: unknown) => (await call<T>(c, method, p, body)).body;
}

/** One HTTPS request with optional session cookie + CSRF header; problem+json → ApiError. */
function call<T>(
  c: SessionTarget,
  method: string,
  p: string,
  body?: unknown,
  timeoutMs?: number,
): Promise<Exchange<T>> {
  const host = new URL(c.baseUrl).hostname;
  return exchange<T>(
    {
      baseUrl: c.baseUrl,
      ...(timeoutMs ? { timeoutMs } : {}),
      ca: c.ca,
      servername: host === '127.0.0.1' || host === '[::1]' ? 'localhost' : undefined,
      headers: {
        ...(c.session ? { cookie: `__Host-sr_session=${c.session}` } : {}),
        ...(c.csrf && method !== 'GET' ? { 'x-csrf-token': c.csrf } : {}),
      },
    },
    method,
    p,
    body,
  );
}

/** Like `sessionApi`, but streams the request body from `upload` and the answer back (datasets); `p` comes from `paths`. */
export function streamCall(
  c: Credentials,
  method: string,
  p: string,
  o: { upload?: NodeJS.ReadableStream; headers?: Record<string, string> } = {},
): Promise<StreamedResponse> {
  const host = new URL(c.baseUrl).hostname;
  return streamRequest(
    {
      baseUrl: c.baseUrl,
      ca: c.ca,
      servername: host === '127.0.0.1' || host === '[::1]' ? 'localhost' : undefined,
      headers: {
        cookie: `__Host-sr_session=${c.session}`,
        ...(method !== 'GET' ? { 'x-csrf-token': c.csrf } : {}),
        ...o.headers,
      },
    },
    method,
    p,
    o.upload,
  );
}

export function sessionFromCookies(setCookie: string[]): string | undefined {
  const c = setCookie.find((x) => x.startsWith('__Host-sr_session='));
  return c?.split(';')[0]!.slice('__Host-sr_session='.length) || undefined;
}

/** Read a secret from a file (first line) or, on a TTY, without echo. */
export async function readSecret(prompt: string, file?: string): Promise<string> {
  if (file) return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  if (!process.stdin.isTTY)
    throw new CliExit(EXIT.USAGE, `${prompt.trim()} needed: give it with a --*-file option or run on a terminal.`);
  return ask(prompt, true);
}

export function ask(prompt: string, hidden = false): Promise<string> {
  return new Promise((resolve) => {
    process.stderr.write(prompt);
    const stdin = process.stdin;
    let value = '';
    if (hidden && stdin.isTTY) stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const onData = (ch: string) => {
      for (const c of ch) {
        if (c === '\r' || c === '\n' || c === '\u0004') {
          stdin.off('data', onData);
          if (hidden && stdin.isTTY) stdin.setRawMode(false);
          stdin.pause();
          process.stderr.write('\n');
          return resolve(value);
        }
        if (c === '\u0003') process.exit(130);
        if (c === '\u007f') value = value.slice(0, -1);
        else value += c;
        if (!hidden) process.stderr.write(c);
      }
    };
    stdin.on('data', onData);
  });
}
