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

/** A read's deadline: aborts at the query timeout or when the client goes (`why` says which). */
interface Deadline {
  signal: AbortSignal;
  why: { timedOut: boolean; aborted: boolean };
  clear: () => void;
}

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
/** Does `text` name `column` (as a whole identifier, any case)? */
function mentions(text: string, column: string): boolean {
  const lc = text.toLowerCase();
  const c = column.toLowerCase();
  for (let i = lc.indexOf(c); i >= 0; i = lc.indexOf(c, i + 1)) {
    const before = lc[i - 1] ?? ' ';
    const after = lc[i + c.length] ?? ' ';
    if (!/[\p{L}\p{N}_$]/u.test(before) && !/[\p{L}\p{N}_$]/u.test(after)) return true;
  }
  return false;
}

/**
 * The safe answer for a failed read. `hidden`: the columns data policies hide from this reader
 * (in any dataset the statement read); a message naming one of them is replaced by a generic one.
 */
export function runFailure(
  err: unknown,
  why: { timedOut: boolean; aborted: boolean },
  timeoutMs: number,
  hidden: readonly string[] = [],
): AppError {
  if (why.timedOut)
    return new AppError('QUERY_LIMIT', { detail: `The query ran longer than ${timeoutMs} ms and was cancelled.` });
  if (why.aborted) return new AppError('QUERY_LIMIT', { detail: 'The query was cancelled.' });
  if (isAppError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/^Out of Memory/i.test(msg))
    return new AppError('QUERY_LIMIT', { detail: 'The query needed more memory than its limit and was cancelled.' });
  if (/CSV Error|Malformed JSON|could not be parsed|Error when sniffing/i.test(msg)) return malformed(err, 'data');
  const first = (msg.split('\n')[0] ?? '').replace(/'[^']*\/strongroom-query-[^']*'/g, '(dataset)');
  if (/in (EXCLUDE|REPLACE) list not found/i.test(first))
    return new AppError('CONFLICT', {
      detail:
        'A data policy on this dataset (or the statement) names a column the version does not have; the read is refused until the policy is fixed.',
    });
  if (/^(Binder|Catalog|Parser) Error/i.test(first)) {
    const detail = first.slice(0, 300);
    // A column the reader's policies hide is never named back, even when the statement named it.
    if (hidden.some((h) => mentions(detail, h)))
      return new AppError('QUERY_INVALID', {
        detail: 'The statement refers to a column that does not exist here or that a data policy hides from you.',
      });
    return new AppError('QUERY_INVALID', { detail });
  }
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

  /**
   * A read's deadline, started when the read starts (before its copies are prepared): `signal`
   * aborts at `timeoutMs` or when the caller's signal does (client gone); `why` says which.
   */
  function startDeadline(caller: AbortSignal | undefined): Deadline {
    const ctl = new AbortController();
    const why = { timedOut: false, aborted: false };
    const timer = setTimeout(() => {
      why.timedOut = true;
      ctl.abort();
    }, deps.timeoutMs);
    const onAbort = () => {
      why.aborted = true;
      ctl.abort();
    };
    caller?.addEventListener('abort', onAbort, { once: true });
    if (caller?.aborted) onAbort();
    return {
      signal: ctl.signal,
      why,
      clear: () => {
        clearTimeout(timer);
        caller?.removeEventListener('abort', onAbort);
      },
    };
  }

  /** Prepares the statement under the read's deadline (copy builds included); failures shaped. */
  async function prepareUnder(
    d: Deadline,
    ...[dp, actor, ws, sql, allowed, action, as]: Parameters<typeof prepareStatement>
  ) {
    try {
      return await prepareStatement(dp, actor, ws, sql, allowed, action, as, d.signal);
    } catch (err) {
      d.clear();
      throw runFailure(err, d.why, deps.timeoutMs);
    }
  }

  /**
   * Runs `work` on a fresh instance that may read the copies; interrupts it at the deadline or on
   * abort (`deadline`: one already started for this read, or the caller's signal to start one).
   */
  async function withEngine<T>(
    resolved: { release: () => void; keepDir?: boolean; hidden?: readonly string[] },
    deadline: Deadline | AbortSignal | undefined,
    work: (conn: DuckDBConnection, outDir: string) => Promise<T>,
  ): Promise<T> {
    const d = deadline && 'why' in deadline ? deadline : startDeadline(deadline);
    const { dir, wipe } = await deps.scratch.workDir();
    const engine = await openInstance(deps.limits, dir, [dir, path.join(deps.scratch.root, 'copies')]).catch(
      async (err: unknown) => {
        d.clear();
        resolved.release();
        await wipe();
        throw err;
      },
    );
    const interrupt = () => engine.conn.interrupt();
    d.signal.addEventListener('abort', interrupt, { once: true });
    try {
      if (d.signal.aborted) interrupt();
      return await work(engine.conn, dir);
    } catch (err) {
      throw runFailure(err, d.why, deps.timeoutMs, resolved.hidden);
    } finally {
      d.clear();
      d.signal.removeEventListener('abort', interrupt);
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
        const d = startDeadline(opts.signal);
        const st = await prepareUnder(d, deps, actor, workspaceId, sql, opts.allowed, 'dataset.data.query', opts.as);
        return await withEngine(st, d, async (conn) => {
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
        const d = startDeadline(opts.signal);
        const st = await prepareUnder(d, deps, actor, workspaceId, sql, opts.allowed, opts.action);
        st.keepDir = true;
        let out = '';
        let wipe: () => Promise<void> = async () => undefined;
        const count = await withEngine(st, d, async (conn, dir) => {
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
        const d = startDeadline(opts.signal);
        const copy = await deps.copies
          .acquireFor({ workspaceId: ws, dataset: name, ...v }, plan, d.signal)
          .catch((err: unknown) => {
            d.clear();
            throw runFailure(err, d.why, deps.timeoutMs);
          });
        return await withEngine(copy, d, async (conn) => {
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
