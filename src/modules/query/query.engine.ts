/**
 * The DuckDB engine of governed reads: where plaintext may exist while a query runs, and how each
 * DuckDB instance is locked down.
 *
 * Guarantees:
 * - Plaintext exists only in memory and in a private scratch directory (0700) on a tmpfs
 *   (`STRONGROOM_QUERY_SCRATCH_DIR`, default /dev/shm). The directory is checked to be tmpfs or
 *   ramfs; on any other file system every read is refused (NOT_READY), so a misconfiguration can
 *   never put plaintext on persistent disk. DuckDB's spill files go to the same scratch.
 *   (DuckDB 1.5.6 can only READ its own encrypted files without its httpfs extension, which is
 *   never loaded here, so encrypted temp files and an encrypted on-disk query copy are not an
 *   option; see NOTES.md.)
 * - The scratch of a process is named after its pid and removed at stop; a later start removes
 *   the scratch of a process that no longer runs.
 * - Every instance: extension autoinstall/autoload off, a memory limit and thread count per query,
 *   then file access confined to the scratch, external access off and configuration locked
 *   before any user-derived statement runs.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { DuckDBConnection } from '@duckdb/node-api';

/** DuckDB's native module is loaded on the first query or profile, not at server start (~0.5 s). */
let duckdb: Promise<typeof import('@duckdb/node-api')> | undefined;
export const loadDuckDb = () => (duckdb ??= import('@duckdb/node-api'));
import { AppError } from '../../core/errors.ts';

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;
const PREFIX = 'strongroom-query-';

export interface EngineLimits {
  memoryMb: number;
  threads: number;
}

export interface Scratch {
  /** The private directory of this process (0700, on tmpfs). */
  root: string;
  /** A fresh private sub-directory; removed by the returned `wipe`. */
  workDir(): Promise<{ dir: string; wipe: () => Promise<void> }>;
  /** Creates a named pipe (mode 0600). */
  fifo(dir: string, name: string): Promise<string>;
  close(): Promise<void>;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Opens this process's scratch under `base`; refuses (NOT_READY) a base that is not tmpfs. */
export async function openScratch(base: string): Promise<Scratch> {
  const fs = await statfs(base).catch(() => undefined);
  if (!fs || (fs.type !== TMPFS_MAGIC && fs.type !== RAMFS_MAGIC))
    throw new AppError('NOT_READY', {
      detail: 'Queries are off: the query scratch directory is not on a memory file system (tmpfs).',
    });
  for (const e of await readdir(base).catch(() => [] as string[])) {
    const pid = Number(/^strongroom-query-(\d+)-/.exec(e)?.[1]);
    if (pid && pid !== process.pid && !alive(pid))
      await rm(path.join(base, e), { recursive: true, force: true }).catch(() => undefined);
  }
  const root = path.join(base, `${PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
  await mkdir(root, { mode: 0o700 });
  return {
    root,
    async workDir() {
      const dir = path.join(root, randomBytes(8).toString('hex'));
      await mkdir(dir, { mode: 0o700 });
      return { dir, wipe: () => rm(dir, { recursive: true, force: true }) };
    },
    async fifo(dir, name) {
      const p = path.join(dir, name);
      await promisify(execFile)('mkfifo', ['-m', '600', p]);
      return p;
    },
    close: () => rm(root, { recursive: true, force: true }),
  };
}

/** A path DuckDB may be given inside SQL text: ours, plain characters only. */
export function sqlPath(p: string): string {
  if (!/^[A-Za-z0-9/._-]+$/.test(p)) throw new Error(`unexpected scratch path ${p}`);
  return `'${p}'`;
}

/**
 * A fresh in-memory DuckDB instance for one piece of work, able to read and write only under
 * `dirs`, with `limits`. The caller closes it.
 */
export async function openInstance(
  limits: EngineLimits,
  tempDir: string,
  dirs: readonly string[],
): Promise<{ conn: DuckDBConnection; close: () => void }> {
  const { DuckDBInstance } = await loadDuckDb();
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    allow_community_extensions: 'false',
    allow_unsigned_extensions: 'false',
    threads: String(limits.threads),
    memory_limit: `${limits.memoryMb}MB`,
    temp_directory: tempDir,
    enable_http_metadata_cache: 'false',
  });
  const conn = await instance.connect();
  const close = () => {
    try {
      conn.closeSync();
    } finally {
      instance.closeSync();
    }
  };
  try {
    const list = dirs.map((d) => sqlPath(d.endsWith('/') ? d : `${d}/`)).join(', ');
    await conn.run(`SET allowed_directories = [${list}]`);
    await conn.run('SET enable_external_access = false');
    await conn.run('SET lock_configuration = true');
  } catch (err) {
    close();
    throw err;
  }
  return { conn, close };
}

/** A parser-only instance: turns SQL into DuckDB's parse tree and back, reads nothing. */
export interface SqlParser {
  serialize(sql: string): Promise<string>;
  deserialize(json: string): Promise<string>;
  close(): void;
}

/**
 * {@link SqlParser} whose DuckDB instance is opened on first use (so a server start does not load
 * DuckDB unless a data policy or query needs it); a failed open is retried on the next call.
 */
export async function openParser(): Promise<SqlParser> {
  let opened: Promise<{ one: (sql: string, arg: string) => Promise<string>; close: () => void }> | undefined;
  let closed = false;
  const open = () =>
    (opened ??= (async () => {
      const { DuckDBInstance } = await loadDuckDb();
      const instance = await DuckDBInstance.create(':memory:', {
        autoinstall_known_extensions: 'false',
        autoload_known_extensions: 'false',
        enable_external_access: 'false',
        threads: '1',
        memory_limit: '64MB',
      });
      const conn = await instance.connect();
      await conn.run('SET lock_configuration = true');
      return {
        one: async (sql: string, arg: string) => String((await conn.runAndReadAll(sql, [arg])).getRows()[0]?.[0] ?? ''),
        close: () => {
          conn.closeSync();
          instance.closeSync();
        },
      };
    })().catch((err: unknown) => {
      opened = undefined;
      throw err;
    }));
  const one = async (sql: string, arg: string) => {
    if (closed) throw new Error('the SQL parser is closed');
    return (await open()).one(sql, arg);
  };
  return {
    serialize: (sql) => one('SELECT json_serialize_sql($1::VARCHAR)', sql),
    deserialize: (json) => one('SELECT json_deserialize_sql($1::JSON)', json),
    close: () => {
      closed = true;
      void opened?.then(
        (p) => p.close(),
        () => undefined,
      );
    },
  };
}
