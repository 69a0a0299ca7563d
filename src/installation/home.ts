/**
 * The installation on disk, shared by the server and the CLI (neither imports the other): the
 * data directory, where the database lives, which TLS files are served.
 */
import { chmod, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../core/config.ts';
import type { DatabaseSpec } from '../db/database.ts';
import { selfSignedPaths, type TlsFiles } from './tls.ts';

/** Create the data directory 0700, or tighten it. */
export async function prepareHome(home: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  const s = await stat(home);
  if ((s.mode & 0o077) !== 0) await chmod(home, 0o700);
}

export function databaseSpec(config: Config): DatabaseSpec {
  return config.DATABASE_URL
    ? {
        kind: 'postgres',
        url: config.DATABASE_URL,
        caFile: config.STRONGROOM_DATABASE_CA_FILE,
        allowWeakTls: config.STRONGROOM_DATABASE_ALLOW_WEAK_TLS,
        clientCertFile: config.STRONGROOM_DATABASE_CLIENT_CERT_FILE,
        clientKeyFile: config.STRONGROOM_DATABASE_CLIENT_KEY_FILE,
      }
    : { kind: 'pglite', dataDir: path.join(config.STRONGROOM_HOME, 'db') };
}

export function tlsFilesFor(config: Config): TlsFiles {
  return config.STRONGROOM_TLS_CERT_FILE && config.STRONGROOM_TLS_KEY_FILE
    ? { certFile: config.STRONGROOM_TLS_CERT_FILE, keyFile: config.STRONGROOM_TLS_KEY_FILE, selfSigned: false }
    : selfSignedPaths(config.STRONGROOM_HOME);
}
