/**
 * Query copies: the plaintext of a tabular version as a Parquet file (zstd) in the private tmpfs
 * scratch, built once and shared by the queries that read that version while it stays cached.
 *
 * - CSV and JSON lines are decrypted into a named pipe that DuckDB reads once, converting as it
 *   goes: memory stays bounded by DuckDB's limit and the copy holds the columnar, compressed
 *   form only (a 10 M-row CSV of 0.6 GB becomes ≈ 0.14 GB). Parquet is decrypted as it is.
 * - Each copy is checked whole: the decrypt stream authenticates every segment and the SHA-256
 *   of the plaintext; a failure discards the copy.
 * - The cache holds at most `budgetBytes` (LRU, copies in use are never removed); eviction and
 *   process stop delete the files. A parse failure is DATA_MALFORMED (422) with the line or byte
 *   where it happened, never a value from the file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, isAppError } from '../../core/errors.ts';
import { openInstance, sqlPath, type EngineLimits, type Scratch } from './query.engine.ts';
import type { RelationPlan } from './query.relation.ts';

/**
 * How masked copies are written. Snappy and Parquet v2 encodings (DELTA_LENGTH_BYTE_ARRAY for
 * strings), not zstd: carried columns are mostly high-entropy text (64 hex digits per keyed hash)
 * that zstd halves at best but that every masked read then decompresses. Measured (bench/policy,
 * 1 M rows, medians of 7): masked ÷ plain 1.52 with zstd, 1.19 with snappy v2; the copy is ~1.6×
 * the size of a zstd one (86 MB vs 53 MB), within the same cache budget.
 */
const MASKED_COPY_OPTIONS = 'FORMAT parquet, COMPRESSION snappy, PARQUET_VERSION V2';

/** The column of a masked copy that holds the masked values of the plan's i-th cacheable column. */
export const carriedName = (i: number): string => `__strongroom_mask_${i}`;

export interface CopySource {
  workspaceId: string;
  dataset: string;
  version: number;
  sha256: string;
  format: 'csv' | 'jsonl' | 'parquet';
}

export interface CopiesDeps {
  scratch: Scratch;
  limits: EngineLimits;
  budgetBytes: number;
  /** The whole plaintext of a version, authenticated as it streams. */
  openPlaintext(ws: string, dataset: string, version: number): Promise<{ stream: Readable }>;
}

interface Entry {
  path: string;
  bytes: number;
  users: number;
  lastUsed: number;
  ready: Promise<void>;
  /** Readers still waiting for the build; when the last one gives up, a cancellable build stops. */
  waiting: number;
  built: boolean;
  /** Stops the build (hashed copies); absent for builds that run to the end. */
  cancel?: () => void;
}

/** The answer to a reader who stopped waiting for a copy (deadline or client gone). */
export const copyWaitCancelled = (): AppError =>
  new AppError('QUERY_LIMIT', { detail: 'The query was cancelled while its copy of the data was being prepared.' });

/** `p`, or a rejection as soon as `signal` aborts (the work behind `p` goes on unless cancelled). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(copyWaitCancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(copyWaitCancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}

/** Maps a DuckDB read failure to a safe 422: where it failed, never what it read. */
export function malformed(err: unknown, format: string): AppError {
  const msg = err instanceof Error ? err.message : String(err);
  const line = /line[: ]+(\d+)/i.exec(msg)?.[1];
  const byte = /byte (\d+)/i.exec(msg)?.[1];
  const where = [line ? `line ${line}` : '', byte ? `byte ${byte}` : ''].filter(Boolean).join(', ');
  return new AppError('DATA_MALFORMED', {
    detail: `The stored ${format} could not be parsed${where ? ` (${where})` : ''}.`,
    meta: { ...(line ? { line: Number(line) } : {}), ...(byte ? { offset: Number(byte) } : {}) },
  });
}

export function scanOf(format: 'csv' | 'jsonl', p: string): string {
  return format === 'csv'
    ? `read_csv(${sqlPath(p)}, encoding = 'utf-8')`
    : `read_json(${sqlPath(p)}, format = 'newline_delimited')`;
}

export function createCopies(deps: CopiesDeps) {
  const dir = path.join(deps.scratch.root, 'copies');
  const entries = new Map<string, Entry>();
  let madeDir: Promise<unknown> | undefined;

  const keyOf = (s: CopySource) =>
    createHash('sha256').update(`${s.workspaceId}\0${s.dataset}\0${s.version}\0${s.sha256}`).digest('hex');

  async function evict(): Promise<void> {
    let total = [...entries.values()].reduce((a, e) => a + e.bytes, 0);
    const idle = [...entries.entries()].filter(([, e]) => e.users === 0 && e.bytes > 0);
    idle.sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [k, e] of idle) {
      if (total <= deps.budgetBytes) break;
      entries.delete(k);
      total -= e.bytes;
      await rm(e.path, { force: true });
    }
  }

  async function build(s: CopySource, target: string): Promise<void> {
    const part = `${target}.${randomBytes(4).toString('hex')}.part`;
    const { dir: work, wipe } = await deps.scratch.workDir();
    try {
      const opened = await deps.openPlaintext(s.workspaceId, s.dataset, s.version);
      if (s.format === 'parquet') {
        await pipeline(opened.stream, createWriteStream(part, { mode: 0o600 }));
      } else {
        await convert(s.format, opened.stream, work, part);
      }
      await rename(part, target);
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    } finally {
      await wipe();
    }
  }

  async function convert(format: 'csv' | 'jsonl', source: Readable, work: string, part: string): Promise<void> {
    const fifo = await deps.scratch.fifo(work, 'source');
    const writer = createWriteStream(fifo);
    const feeding = pipeline(source, writer);
    feeding.catch(() => undefined);
    const engine = await openInstance(deps.limits, work, [work, dir]);
    try {
      await engine.conn.run(
        `COPY (SELECT * FROM ${scanOf(format, fifo)}) TO ${sqlPath(part)} (FORMAT parquet, COMPRESSION zstd)`,
      );
    } catch (err) {
      // DuckDB may have failed before opening the pipe: open its read end so the writer is released.
      const h = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
      source.destroy();
      writer.destroy();
      await h?.close();
      throw isAppError(err) ? err : malformed(err, format === 'csv' ? 'CSV' : 'JSON lines');
    } finally {
      engine.close();
    }
    await feeding; // every segment authenticated and the SHA-256 matched, or no copy
  }

  /**
   * The copy of `base` with the plan's cacheable masked columns appended (computed once, in SQL).
   * `stop` aborting (every reader waiting for it gave up) interrupts DuckDB: no copy, no file.
   */
  async function buildHashed(
    base: string,
    plan: RelationPlan,
    columns: string[],
    target: string,
    stop: AbortSignal,
  ): Promise<void> {
    const part = `${target}.${randomBytes(4).toString('hex')}.part`;
    const { dir: work, wipe } = await deps.scratch.workDir();
    const engine = await openInstance(deps.limits, work, [work, dir]).catch(async (err: unknown) => {
      await wipe();
      throw err;
    });
    const interrupt = () => engine.conn.interrupt();
    stop.addEventListener('abort', interrupt, { once: true });
    try {
      if (stop.aborted) throw copyWaitCancelled();
      const exprs = columns.map((c, i) => `${plan.replace.find((r) => r.column === c)!.sql} AS "${carriedName(i)}"`);
      // Exactly the parameters the carried expressions name (`$sr_0_m1` is not `$sr_0_m10`).
      const names = new Set(
        columns.flatMap((c) =>
          [...plan.replace.find((r) => r.column === c)!.sql.matchAll(/\$(\w+)/g)].map((m) => m[1]!),
        ),
      );
      const used = Object.fromEntries(Object.entries(plan.params).filter(([k]) => names.has(k)));
      await engine.conn.run(
        `COPY (SELECT *, ${exprs.join(', ')} FROM read_parquet(${sqlPath(base)})) TO ${sqlPath(part)} (${MASKED_COPY_OPTIONS})`,
        used,
      );
      await rename(part, target);
    } catch (err) {
      await rm(part, { force: true });
      if (stop.aborted) throw copyWaitCancelled();
      // DuckDB's message may name the expression (and so a parameter name), never its value.
      throw isAppError(err)
        ? err
        : new AppError('CONFLICT', {
            detail:
              'A data policy on this dataset (or the statement) names a column the version does not have; the read is refused until the policy is fixed.',
          });
    } finally {
      stop.removeEventListener('abort', interrupt);
      engine.close();
      await wipe();
    }
  }

  /**
   * Holds the copy under `key`, building it with `make` if there is none. A reader whose `signal`
   * aborts stops waiting at once; when no reader waits any more, a build made `cancellable`
   * is stopped and forgotten (the next reader starts it again), so a build never outlives the
   * deadlines of those who asked for it. Other builds run to the end and stay cached.
   */
  async function hold(
    key: string,
    make: (target: string, stop: AbortSignal) => Promise<void>,
    signal?: AbortSignal,
    cancellable = false,
  ): Promise<{ path: string; release: () => void }> {
    let e = entries.get(key);
    if (!e) {
      madeDir ??= mkdir(dir, { mode: 0o700, recursive: true });
      await madeDir;
      const target = path.join(dir, `${key}.parquet`);
      const stop = new AbortController();
      const entry: Entry = {
        path: target,
        bytes: 0,
        users: 0,
        lastUsed: Date.now(),
        ready: Promise.resolve(),
        waiting: 0,
        built: false,
        ...(cancellable
          ? {
              cancel: () => {
                if (entries.get(key) === entry) entries.delete(key);
                stop.abort();
              },
            }
          : {}),
      };
      entry.ready = make(target, stop.signal).then(async () => {
        entry.bytes = (await stat(target)).size;
        entry.built = true;
      });
      entries.set(key, entry);
      e = entry;
      entry.ready.catch(() => {
        if (entries.get(key) === entry) entries.delete(key);
      });
    }
    e.users += 1;
    e.waiting += 1;
    try {
      await untilAborted(e.ready, signal);
    } catch (err) {
      e.users -= 1;
      e.waiting -= 1;
      if (e.waiting === 0 && !e.built) e.cancel?.();
      throw err;
    }
    e.waiting -= 1;
    const held = e;
    let released = false;
    return {
      path: held.path,
      release: () => {
        if (released) return;
        released = true;
        held.users -= 1;
        held.lastUsed = Date.now();
        void evict().catch(() => undefined);
      },
    };
  }

  /**
   * The copy of `s` (built if needed); call `release` when the read is over. `signal`: stop
   * waiting (the build itself goes on: every reader of the version needs it).
   */
  const acquire = (s: CopySource, signal?: AbortSignal) => hold(keyOf(s), (target) => build(s, target), signal);

  return {
    acquire,

    /**
     * The copy `plan` is read from: the plain copy, or — when the plan has cacheable masks (keyed
     * hash, show_first_n/show_last_n, email_domain, custom) — a masked copy that also carries each
     * such column computed once (HMAC-SHA256 costs ~3 µs per value in DuckDB SQL; computed per
     * query it made a masked read ~10× a plain one; the string masks cost a plain read's time
     * again in aggregates). Cached per (version, columns, what each computes) under the same
     * budget; the key itself never reaches the reader's statement. `precomputed`: masked column
     * → carried column.
     *
     * `signal` (the read's deadline or its client gone): the reader stops waiting at once, and a
     * hashed build no reader waits for any more is interrupted — it runs under the deadlines of
     * the reads that asked for it, like the HMAC in their statements did.
     */
    async acquireFor(
      s: CopySource,
      plan: RelationPlan | null,
      signal?: AbortSignal,
    ): Promise<{ path: string; release: () => void; precomputed: Record<string, string> }> {
      const carried = (plan?.replace ?? []).filter((r) => r.cacheable);
      if (!plan || carried.length === 0) return { ...(await acquire(s, signal)), precomputed: {} };
      carried.sort((a, b) => (a.column < b.column ? -1 : a.column > b.column ? 1 : 0));
      const columns = carried.map((r) => r.column);
      const base = await acquire(s, signal);
      try {
        // What the copy carries: each column and what its values are (`carry`; for a keyed hash
        // the key's one-way fingerprint). Never the key, never a reader's attribute.
        const what = carried.map((r) => `${r.column}\0${r.carry ?? `keyed_hash ${plan.cacheId ?? ''}`}`);
        const key = createHash('sha256')
          .update(`${keyOf(s)}\0masked\0${what.join('\0')}`)
          .digest('hex');
        const copy = await hold(
          key,
          (target, stop) => buildHashed(base.path, plan, columns, target, stop),
          signal,
          true,
        );
        return { ...copy, precomputed: Object.fromEntries(columns.map((c, i) => [c, carriedName(i)])) };
      } finally {
        base.release();
      }
    },
    /** Drops every idle copy (tests; a destroyed workspace key). */
    async clear(): Promise<void> {
      for (const [k, e] of entries)
        if (e.users === 0) {
          entries.delete(k);
          await rm(e.path, { force: true });
        }
    },
  };
}

export type Copies = ReturnType<typeof createCopies>;
