/**
 * Operator commands run against a running server when there is one (through its API, with the
 * operator credential from the data directory), and offline on the data directory otherwise.
 * Every command says which it did.
 */
import { readFile } from 'node:fs/promises';
import type { Config } from '../core/config.ts';
import { createApi, type Api } from '../client/api.ts';
import { createClient } from '../client/http-client.ts';
import { readOperatorToken } from '../installation/operator-token.ts';
import { tlsFilesFor } from '../installation/home.ts';
import { CliExit } from './context.ts';
import { EXIT } from './exit-codes.ts';

/** Where the server answers: the public URL, or the bind address (loopback for a wildcard). */
export function serverBaseUrl(config: Config): string {
  const host = ['0.0.0.0', '::'].includes(config.STRONGROOM_BIND) ? '127.0.0.1' : config.STRONGROOM_BIND;
  return (
    config.STRONGROOM_PUBLIC_URL ??
    `https://${host.includes(':') ? `[${host}]` : host}:${config.STRONGROOM_HTTPS_PORT}/`
  );
}

/** The typed API of the running server with the operator credential, or undefined when none answers. */
export async function connectToServer(config: Config): Promise<Api | undefined> {
  const baseUrl = serverBaseUrl(config);
  const files = tlsFilesFor(config);
  const ca = await readFile(files.certFile, 'utf8').catch(() => undefined);
  const token = await readOperatorToken(config.STRONGROOM_HOME).catch(() => undefined);
  const api = createApi(
    createClient({
      baseUrl,
      ca,
      token,
      servername: config.STRONGROOM_PUBLIC_URL ? undefined : 'localhost',
      timeoutMs: 5000,
    }),
  );
  try {
    await api.sys.sealStatus();
    return api;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH') return undefined;
    if (typeof code === 'string' && TLS_MISMATCH.has(code)) {
      throw new CliExit(
        EXIT.FAILED,
        `The server answering at ${baseUrl} is not the one of the data directory ${config.STRONGROOM_HOME} (its TLS certificate is not this installation's: ${code}). ` +
          "Stop that server, or point this command at its own installation (STRONGROOM_HOME) or at this one's server (STRONGROOM_HTTPS_PORT, STRONGROOM_PUBLIC_URL).",
      );
    }
    throw err;
  }
}

/** Certificate errors that mean "another installation's server", not "no server". */
const TLS_MISMATCH = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

export function say(mode: 'online' | 'offline', what: string): void {
  process.stderr.write(
    mode === 'online'
      ? `online: ${what} (through the running server's API)\n`
      : `offline: ${what} (server not running; read the data directory directly)\n`,
  );
}
