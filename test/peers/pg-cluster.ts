/**
 * A second, throwaway PostgreSQL cluster for client-certificate tests: its own data directory
 * and port on 127.0.0.1, `ssl = on` with a server certificate and CA from the test CA, and a
 * pg_hba.conf that accepts TCP only as `hostssl … cert` (the certificate's CN is the user).
 * initdb and pg_ctl run as the `postgres` system user (PostgreSQL refuses root). Stopped by
 * `pg_ctl stop` on its own data directory.
 */
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
  appendFileSync,
  chmodSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = '/usr/lib/postgresql/15/bin';

export function pgClusterMissing(): string | undefined {
  if (!existsSync(`${BIN}/initdb`)) return `${BIN}/initdb is missing (apt-get install -y postgresql-15)`;
  try {
    execFileSync('id', ['postgres'], { stdio: 'ignore' });
  } catch {
    return 'no postgres system user';
  }
  return typeof process.getuid === 'function' && process.getuid() === 0
    ? undefined
    : 'needs root to run initdb as postgres';
}

export interface PgCluster {
  port: number;
  stop(): void;
}

const asPostgres = (cmd: string, args: string[]) =>
  execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });

export function startPgCluster(opts: { port: number; caFile: string; certFile: string; keyFile: string }): PgCluster {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sr-pgc-'));
  const pg = {
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
  };
  chownSync(dir, pg.uid, pg.gid);
  const data = path.join(dir, 'data');
  asPostgres(`${BIN}/initdb`, ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']);
  for (const [from, to] of [
    [opts.caFile, 'ca.pem'],
    [opts.certFile, 'server.pem'],
    [opts.keyFile, 'server.key'],
  ] as const) {
    copyFileSync(from, path.join(data, to));
    chownSync(path.join(data, to), pg.uid, pg.gid);
    chmodSync(path.join(data, to), 0o600);
  }
  appendFileSync(
    path.join(data, 'postgresql.conf'),
    `\nport = ${opts.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nssl = on\nssl_cert_file = 'server.pem'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.pem'\nfsync = off\n`,
  );
  writeFileSync(path.join(data, 'pg_hba.conf'), 'local all all trust\nhostssl all all 127.0.0.1/32 cert\n');
  asPostgres(`${BIN}/pg_ctl`, ['start', '-w', '-D', data, '-l', path.join(dir, 'server.log')]);
  return {
    port: opts.port,
    stop() {
      try {
        asPostgres(`${BIN}/pg_ctl`, ['stop', '-m', 'immediate', '-D', data]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
