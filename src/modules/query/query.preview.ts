/**
 * Preview: the schema and the first rows of one version. For CSV and JSON lines only a prefix of
 * the object is fetched and decrypted (the object format decrypts any range of segments): 1 MiB
 * first, four times more while the prefix holds too few lines, at most 64 MiB — a multi-GB CSV
 * shows its first rows after reading a few segments. Parquet keeps its row groups' locations in
 * a footer at the end, so a Parquet preview reads through the version's query copy (decrypted
 * whole once, then cached). Rows come through the reader's relation like any other read.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { DuckDBConnection } from '@duckdb/node-api';
import { loadDuckDb } from './query.engine.ts';
import type { Actor } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import type { Copies } from './query.copies.ts';
import type { readerRelation as ReaderRelationFn, ReadWhy, Scan } from './query.relation.ts';
import { resolveVersion } from './query.statement.ts';
import type { QueryDeps } from './query.deps.ts';

const FIRST_PREFIX = 1024 * 1024;
const MAX_PREFIX = 64 * 1024 * 1024;

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const countLines = (b: Buffer): number => {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n += 1;
  return n;
};

/** The smallest whole-line prefix holding `lines` lines (or the whole version). */
async function prefixOf(
  deps: Pick<QueryDeps, 'datasets'>,
  workspaceId: string,
  name: string,
  version: number,
  size: number,
  lines: number,
): Promise<{ bytes: Buffer; whole: boolean; decrypted: number }> {
  for (let want = FIRST_PREFIX; ; want *= 4) {
    const end = Math.min(size, want) - 1;
    const opened = await deps.datasets.open(workspaceId, name, version, { start: 0, end: Math.max(end, 0) });
    const got = await readAll(opened.stream);
    const whole = end + 1 >= size;
    if (whole) return { bytes: got, whole, decrypted: got.length };
    const cut = got.subarray(0, got.lastIndexOf(10) + 1);
    if (countLines(cut) >= lines || want >= MAX_PREFIX) return { bytes: cut, whole, decrypted: got.length };
  }
}

export interface PreviewResult {
  dataset: string;
  version: number;
  format: string;
  columns: { name: string; type: string; nullable: boolean }[];
  rows: unknown[][];
  /** Rows in the version, when known without reading it whole. */
  rowCount: number | null;
  /** Plaintext bytes decrypted to answer. */
  decryptedBytes: number;
  /** Data policies that shaped the answer (absent: none applied). */
  why?: ReadWhy;
}

export async function runPreview(
  deps: Pick<QueryDeps, 'datasets' | 'policies'> & { copies: Copies },
  withEngine: <T>(
    held: { release: () => void },
    signal: AbortSignal | undefined,
    work: (conn: DuckDBConnection, dir: string) => Promise<T>,
  ) => Promise<T>,
  actor: Actor,
  ws: string,
  name: string,
  version: number,
  opts: { limit: number; offset: number; signal?: AbortSignal },
  relationFor: typeof ReaderRelationFn,
): Promise<PreviewResult> {
  const notFound = () => new AppError('NOT_FOUND', { detail: 'No such version of this dataset.' });
  const v = await resolveVersion(deps, ws, name, version, () => true, notFound);
  const plan = (await deps.policies?.planFor(actor, { workspaceId: ws, dataset: name, tags: v.tags }, 'sr_0_')) ?? null;
  if (plan?.why.threshold)
    throw new AppError('FORBIDDEN', {
      detail: `${name} answers only aggregate queries over groups of at least ${plan.why.threshold.minGroupSize} rows (data policy ${plan.why.threshold.by.join(', ')}): it has no row preview; query it with GROUP BY.`,
      meta: { minGroupSize: plan.why.threshold.minGroupSize },
    });
  let held = { release: () => undefined as void };
  let copyPath: string | undefined;
  if (v.format === 'parquet') {
    const copy = await deps.copies.acquire({ workspaceId: ws, dataset: name, ...v });
    held = copy;
    copyPath = copy.path;
  }
  return withEngine(held, opts.signal, async (conn, dir) => {
    let scan: Scan;
    let decrypted = v.size;
    let whole = true;
    if (copyPath) scan = { kind: 'parquet', path: copyPath };
    else {
      const p = await prefixOf(deps, ws, name, v.version, v.size, opts.offset + opts.limit + 2);
      const file = path.join(dir, `prefix.${v.format}`);
      await writeFile(file, p.bytes, { mode: 0o600 });
      scan = { kind: v.format as 'csv' | 'jsonl', path: file };
      decrypted = p.decrypted;
      whole = p.whole;
    }
    const rel = relationFor(actor, { workspaceId: ws, dataset: name, version: v.version, tags: v.tags, scan }, plan);
    // Names and types come from the result itself: a separate DESCRIBE would sniff the CSV a
    // second time (half the cost of a preview). A scan's columns are always nullable in DuckDB.
    const result = await conn.stream(
      `SELECT * FROM (${rel.sql}) LIMIT ${opts.limit} OFFSET ${opts.offset}`,
      rel.params,
    );
    const columns = result
      .columnNames()
      .map((name, i) => ({ name, type: result.columnType(i).toString(), nullable: true }));
    const rows: unknown[][] = [];
    for await (const chunk of result.yieldConvertedRows((await loadDuckDb()).JsonDuckDBValueConverter))
      rows.push(...chunk);
    const rowCount = whole
      ? Number((await conn.runAndReadAll(`SELECT count(*) FROM (${rel.sql})`, rel.params)).getRows()[0]?.[0] ?? 0)
      : null;
    const out: PreviewResult = {
      dataset: name,
      version: v.version,
      format: v.format,
      columns,
      rows,
      rowCount,
      decryptedBytes: decrypted,
    };
    if (plan) out.why = plan.why;
    return out;
  });
}
