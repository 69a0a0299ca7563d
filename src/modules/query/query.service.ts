/**
 * Governed reads (C9 part 1): preview, SQL query and export of tabular dataset versions.
 *
 * Every read goes the same way: the datasets named are resolved for the caller (a dataset the
 * caller may not read answers exactly like a missing one) → each occurrence is replaced by the
 * reader's relation (`query.relation.ts`, the one seam for data policies) → the statement runs in
 * a fresh, locked-down DuckDB instance over query copies in the private tmpfs scratch, with a
 * deadline, a memory limit, a row cap and a process-wide concurrency cap (429 when full). The
 * caller's abort signal (client gone) interrupts DuckDB. Nothing the statement produced outlives
 * the request but the copies the cache keeps in tmpfs.
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Actor } from '../../core/actor.ts';
import { AppError, isAppError } from '../../core/errors.ts';
import type { ResourceRef } from '../../core/resource.ts';
import { malformed } from './query.copies.ts';
import { loadDuckDb, openInstance, sqlPath } from './query.engine.ts';
import { readerRelation, type ReaderRelation, type ReadWhy } from './query.relation.ts';
import { runPreview } from './query.preview.ts';
import type { QueryDeps } from './query.deps.ts';
import { prepareStatement, resolveVersion } from './query.statement.ts';

export type ResultFormat = 'json' | 'csv' | 'jsonl' | 'parquet';

export type { QueryDeps } from './query.deps.ts';

/** A further decision for the caller on one dataset (the route's `allowed`). */
export type Allowed = (action: string, ref: ResourceRef) => boolean;

export interface ReadNote {
  datasets: string[];
  rows: number;
  truncated: boolean;
  fingerprint?: string;
  statement?: string;
  /** Per dataset read (`name@vN`), the data policies that shaped the answer. */
  why?: Record<string, ReadWhy>;
}

export interface JsonResult extends ReadNote {
  columns: { name: string; type: string }[];
  rows_: unknown[][];
}

/** Safe text of a DuckDB failure at run time: no SQL context, no scratch path, no value. */
export function runFailure(err: unknown, why: { timedOut: boolean; aborted: boolean }, timeoutMs: number): AppError {
  if (isAppError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (why.timedOut)
    return new AppError('QUERY_LIMIT', { detail: `The query ran longer than ${timeoutMs} ms and was cancelled.` });
  if (why.aborted) return new AppError('QUERY_LIMIT', { detail: 'The query was cancelled.' });
  if (/^Out of Memory/i.test(msg))
    return new AppError('QUERY_LIMIT', { detail: 'The query needed more memory than its limit and was cancelled.' });
  if (/CSV Error|Malformed JSON|could not be parsed|Error when sniffing/i.test(msg)) return malformed(err, 'data');
  const first = (msg.split('\n')[0] ?? '').replace(/'[^']*\/strongroom-query-[^']*'/g, '(dataset)');
  if (/in (EXCLUDE|REPLACE) list not found/i.test(first))
    return new AppError('CONFLICT', {
      detail:
        'A data policy on this dataset (or the statement) names a column the version does not have; the read is refused until the policy is fixed.',
    });
  if (/^(Binder|Catalog|Parser) Error/i.test(first))
    return new AppError('QUERY_INVALID', { detail: first.slice(0, 300) });
  const kind = /^([A-Za-z ]+) Error/.exec(first)?.[1] ?? 'Execution';
  return new AppError('QUERY_INVALID', {
    detail: `The query failed (${kind} error): a value could not be converted, was out of range, or an argument was invalid.`,
  });
}

export function createQueryService(deps: QueryDeps) {
  let running = 0;

  /** Takes one of the process's query slots, or refuses with 429. */
  function slot(): () => void {
    if (running >= deps.maxConcurrent)
      throw new AppError('RATE_LIMITED', { detail: 'Too many queries are running; try again shortly.' });
    running += 1;
    let done = false;
    return () => {
      if (!done) running -= 1;
      done = true;
    };
  }

  /** Runs `work` on a fresh instance that may read the copies; interrupts it at the deadline or on abort. */
  async function withEngine<T>(
    resolved: { release: () => void; keepDir?: boolean },
    signal: AbortSignal | undefined,
    work: (conn: DuckDBConnection, outDir: string) => Promise<T>,
  ): Promise<T> {
    const { dir, wipe } = await deps.scratch.workDir();
    const engine = await openInstance(deps.limits, dir, [dir, path.join(deps.scratch.root, 'copies')]).catch(
      async (err: unknown) => {
        await wipe();
        throw err;
      },
    );
    const why = { timedOut: false, aborted: false };
    const timer = setTimeout(() => {
      why.timedOut = true;
      engine.conn.interrupt();
    }, deps.timeoutMs);
    const onAbort = () => {
      why.aborted = true;
      engine.conn.interrupt();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted) onAbort();
      return await work(engine.conn, dir);
    } catch (err) {
      throw runFailure(err, why, deps.timeoutMs);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      engine.close();
      resolved.release();
      if (!resolved.keepDir) await wipe();
    }
  }

  const service = {
    /** The query as JSON: typed columns and at most `limit` rows (`truncated` when there were more). */
    async queryJson(
      actor: Actor,
      workspaceId: string,
      sql: string,
      opts: { limit: number; allowed: Allowed; signal?: AbortSignal; as?: Actor },
    ): Promise<JsonResult> {
      const release = slot();
      try {
        const st = await prepareStatement(deps, actor, workspaceId, sql, opts.allowed, 'dataset.data.query', opts.as);
        return await withEngine(st, opts.signal, async (conn) => {
          const result = await conn.stream(st.sql, st.params);
          const columns = result.columnNames().map((name, i) => ({ name, type: result.columnType(i).toString() }));
          const rows: unknown[][] = [];
          for await (const chunk of result.yieldConvertedRows((await loadDuckDb()).JsonDuckDBValueConverter)) {
            for (const r of chunk) rows.push(r);
            if (rows.length > opts.limit) break;
          }
          const truncated = rows.length > opts.limit;
          if (truncated) rows.length = opts.limit;
          return { ...st.note, rows: rows.length, truncated, columns, rows_: rows };
        });
      } finally {
        release();
      }
    },

    /**
     * The query (or a whole version: `SELECT * FROM name@vN`) written to a file of `format` in the
     * scratch, then streamed: the caller records its event (with the row count) before the first
     * byte and the file is removed when the stream ends.
     */
    async queryFile(
      actor: Actor,
      workspaceId: string,
      sql: string,
      format: Exclude<ResultFormat, 'json'>,
      opts: { limit: number | undefined; allowed: Allowed; signal?: AbortSignal; action: string },
    ): Promise<ReadNote & { stream: Readable }> {
      const release = slot();
      try {
        const st = await prepareStatement(deps, actor, workspaceId, sql, opts.allowed, opts.action);
        st.keepDir = true;
        let out = '';
        let wipe: () => Promise<void> = async () => undefined;
        const count = await withEngine(st, opts.signal, async (conn, dir) => {
          out = path.join(dir, `result.${format}`);
          wipe = () => rm(dir, { recursive: true, force: true });
          const limit = opts.limit === undefined ? '' : ` LIMIT ${opts.limit}`;
          const options =
            format === 'csv' ? 'FORMAT csv, HEADER true' : format === 'jsonl' ? 'FORMAT json' : 'FORMAT parquet';
          const copy = `COPY (SELECT * FROM (${st.sql})${limit}) TO ${sqlPath(out)} (${options})`;
          const n = Number((await conn.runAndReadAll(copy, st.params)).getRows()[0]?.[0] ?? 0);
          return n;
        }).catch(async (err: unknown) => {
          await wipe();
          throw err;
        });
        // `truncated`: the row cap was reached (there may have been more rows).
        const truncated = opts.limit !== undefined && count >= opts.limit;
        const stream = createReadStream(out);
        stream.once('close', () => void wipe());
        return { ...st.note, rows: count, truncated, stream };
      } finally {
        release();
      }
    },

    /**
     * Runs `work` over the reader's relation of one whole version (through its query copy), in a
     * fresh locked-down instance with the usual deadline, slot and abort. For summaries of a
     * version (profiling): `work` must return only what the reader may see of the relation.
     * The reader's data policies apply (`why`: what they did; null when none applies), unless
     * `unrestricted` (background profiling as the system, whose output is value-free).
     */
    async withRelation<T>(
      actor: Actor,
      ws: string,
      name: string,
      version: number,
      opts: { signal?: AbortSignal; unrestricted?: boolean },
      work: (
        conn: DuckDBConnection,
        rel: ReaderRelation,
        v: { version: number; format: string; why: ReadWhy | null },
      ) => Promise<T>,
    ): Promise<T> {
      const release = slot();
      try {
        const notFound = () => new AppError('NOT_FOUND', { detail: 'No such version of this dataset.' });
        const v = await resolveVersion(deps, ws, name, version, () => true, notFound);
        const source = { workspaceId: ws, dataset: name, tags: v.tags };
        // `unrestricted`: the system's own view (stored, value-free profiles); never a reader's.
        const plan = opts.unrestricted ? null : ((await deps.policies?.planFor(actor, source, 'sr_0_')) ?? null);
        if (plan?.why.threshold)
          throw new AppError('FORBIDDEN', {
            detail: `${name} answers only aggregate queries over groups of at least ${plan.why.threshold.minGroupSize} rows (data policy ${plan.why.threshold.by.join(', ')}): it cannot be profiled.`,
            meta: { minGroupSize: plan.why.threshold.minGroupSize },
          });
        const copy = await deps.copies.acquireFor({ workspaceId: ws, dataset: name, ...v }, plan);
        return await withEngine(copy, opts.signal, async (conn) => {
          const scan = { kind: 'parquet' as const, path: copy.path };
          const rel = readerRelation(actor, { ...source, version: v.version, scan }, plan, copy.precomputed);
          return work(conn, rel, { version: v.version, format: v.format, why: plan?.why ?? null });
        });
      } finally {
        release();
      }
    },

    /** Schema and the first rows of a version, without decrypting more than needed (CSV, JSON lines). */
    async preview(
      actor: Actor,
      workspaceId: string,
      name: string,
      version: number,
      opts: { limit: number; offset: number; signal?: AbortSignal },
    ) {
      const release = slot();
      try {
        return await runPreview(deps, withEngine, actor, workspaceId, name, version, opts, readerRelation);
      } finally {
        release();
      }
    },
  };
  return service;
}

export type QueryService = ReturnType<typeof createQueryService>;
