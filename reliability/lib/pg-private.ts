/**
 * A private PostgreSQL 15 cluster for the db-faults suite, so the suite may restart a real
 * postmaster (WAL replay after an immediate shutdown) without touching the shared cluster on 5432:
 * its own data directory under the system's temporary directory, its own port on 127.0.0.1, its
 * own socket directory, trust authentication from 127.0.0.1 only. initdb and pg_ctl run as the
 * `postgres` system user (PostgreSQL refuses root), so it needs root; `privateClusterMissing()`
 * says why when it cannot start, and the suite then falls back to the shared cluster without the
 * restart fault. `stop()` stops this cluster by its data directory and removes it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { appendFileSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/helpers/cli.ts';

const BIN = '/usr/lib/postgresql/15/bin';

export function privateClusterMissing(): string | undefined {
  if (!existsSync(`${BIN}/initdb`) || !existsSync(`${BIN}/pg_ctl`)) return `${BIN}/initdb or pg_ctl is missing`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root to run initdb as postgres';
  try {
    execFileSync('id', ['postgres'], { stdio: 'ignore' });
  } catch {
    return 'no postgres system user';
  }
  return undefined;
}

export interface PrivateCluster {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  adminUrl: string;
  /** `pg_ctl restart -m immediate`: the postmaster dies at once and the new one replays the WAL. */
  restart(): Promise<void>;
  stop(): void;
}

const asPostgres = (args: string[]) =>
  execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sr-rel-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  chownSync(dir, uid, gid);
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  const pgctl = (...args: string[]) => asPostgres([`${BIN}/pg_ctl`, ...args, '-D', data, '-l', log]);
  try {
    asPostgres([`${BIN}/initdb`, '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']);
    appendFileSync(
      path.join(data, 'postgresql.conf'),
      `\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nfsync = off\nmax_connections = 50\n`,
    );
    writeFileSync(path.join(data, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
    pgctl('start', '-w');
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    // Not synchronous: the suite's proxy and clients in this process go on meanwhile.
    restart: async () =>
      void (await promisify(execFile)('runuser', [
        '-u',
        'postgres',
        '--',
        `${BIN}/pg_ctl`,
        'restart',
        '-w',
        '-m',
        'immediate',
        '-D',
        data,
        '-l',
        log,
      ])),
    stop() {
      try {
        pgctl('stop', '-m', 'immediate');
      } catch {
        // already stopped
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
