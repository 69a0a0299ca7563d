/**
 * Operator commands run against a running server when there is one (through its API, with the
 * operator credential from the data directory), and offline on the data directory otherwise.
 * Every command says which it did.
 */
import { readFile } from 'node:fs/promises';
import type { Config } from '../core/config.ts';
import { createClient, type Client } from '../client/http-client.ts';
import { readOperatorToken } from '../server/operator-token.ts';
import { tlsFilesFor } from '../server/main.ts';

/** Where the server answers: the public URL, or the bind address (loopback for a wildcard). */
export function serverBaseUrl(config: Config): string {
  const host = ['0.0.0.0', '::'].includes(config.STRONGROOM_BIND) ? '127.0.0.1' : config.STRONGROOM_BIND;
  return config.STRONGROOM_PUBLIC_URL ?? `https://${host.includes(':') ? `[${host}]` : host}:${config.STRONGROOM_HTTPS_PORT}/`;
}

export async function connectToServer(config: Config): Promise<Client | undefined> {
  const baseUrl = serverBaseUrl(config);
  const files = tlsFilesFor(config);
  const ca = await readFile(files.certFile, 'utf8').catch(() => undefined);
  const token = await readOperatorToken(config.STRONGROOM_HOME).catch(() => undefined);
  const client = createClient({ baseUrl, ca, token, servername: config.STRONGROOM_PUBLIC_URL ? undefined : 'localhost', timeoutMs: 5000 });
  try {
    await client.request('GET', '/api/v1/sys/seal-status');
    return client;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH') return undefined;
    throw err;
  }
}

export function say(mode: 'online' | 'offline', what: string): void {
  process.stderr.write(mode === 'online' ? `online: ${what} (through the running server's API)\n` : `offline: ${what} (server not running; read the data directory directly)\n`);
}
