/**
 * The profile of one relation (the reader's view of a version), computed by DuckDB in three
 * steps: a reservoir sample for detection (kept in memory, never returned), one aggregate pass
 * for every column's statistics, and a grouped pass per low-cardinality column for its top values.
 *
 * What never leaves this function:
 * - any sampled value (detection returns tags and counts only);
 * - for a column with a finding: min, max, mean, stddev, quantiles and top values — only
 *   null/distinct counts and string length statistics remain (the mean of a constant column
 *   would be its value);
 * - any value or value-like statistic when the caller may not read rows (`includeValues` false);
 * - any statistic of a column with fewer than `k` non-null values, and top values seen fewer
 *   than `k` times.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { classifyColumn, type Finding } from './detect/classify.ts';

export const MAX_COLUMNS = 500;
const SAMPLE_ROWS = 1000;
const TOP_K = 5;
const TOP_QUERIES = 100;

export interface ColumnProfile {
  name: string;
  type: string;
  kind: 'number' | 'temporal' | 'string' | 'boolean' | 'other';
  nonNull: number;
  nulls: number;
  nullRatio: number;
  /** Approximate (HyperLogLog). */
  distinct?: number;
  min?: string | number;
  max?: string | number;
  mean?: number;
  stddev?: number;
  quantiles?: { p25: number; p50: number; p75: number };
  length?: { min: number; max: number; mean: number };
  top?: { value: string; count: number }[];
  findings: Finding[];
  /** Why statistics are missing, when they are. */
  suppressed?: 'fewer_than_k_values';
}

export interface Profile {
  rowCount: number;
  columnCount: number;
  columnsProfiled: number;
  k: number;
  valuesShown: boolean;
  columns: ColumnProfile[];
  quality: { emptyColumns: string[]; constantColumns: string[]; duplicateRows: number | null };
}

const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

function kindOf(type: string): ColumnProfile['kind'] {
  if (
    /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)/.test(
      type,
    )
  )
    return 'number';
  if (/^(DATE|TIMESTAMP|TIME)/.test(type)) return 'temporal';
  if (type === 'VARCHAR') return 'string';
  if (type === 'BOOLEAN') return 'boolean';
  return 'other';
}

const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const round = (v: number | undefined): number | undefined =>
  v === undefined || !Number.isFinite(v) ? undefined : Math.round(v * 1e6) / 1e6;

async function rowsOf(conn: DuckDBConnection, sql: string, params: Record<string, unknown>): Promise<unknown[][]> {
  return (await conn.runAndReadAll(sql, params as never)).getRowsJson() as unknown[][];
}

/** Aggregates of one column, in the order `readAggregates` reads them. */
function aggregates(c: string, kind: ColumnProfile['kind'], sensitive: boolean): string[] {
  const col = q(c);
  const base = [`count(${col})`, `approx_count_distinct(${col})`];
  if (kind === 'number') {
    if (sensitive) return [...base, 'NULL', 'NULL', 'NULL', 'NULL', 'NULL'];
    const d = `${col}::DOUBLE`;
    return [
      ...base,
      `avg(${d})`,
      `stddev_samp(${d})`,
      `min(${d})`,
      `max(${d})`,
      `approx_quantile(${d}, [0.25, 0.5, 0.75])`,
    ];
  }
  if (kind === 'string') {
    const values = sensitive ? ['NULL', 'NULL'] : [`min(${col})`, `max(${col})`];
    return [...base, `min(length(${col}))`, `max(length(${col}))`, `avg(length(${col}))`, ...values];
  }
  if (kind === 'temporal')
    return [...base, ...(sensitive ? ['NULL', 'NULL'] : [`min(${col})::VARCHAR`, `max(${col})::VARCHAR`])];
  return base;
}

function readAggregates(p: ColumnProfile, vals: unknown[], includeValues: boolean): void {
  const [nn, distinct, ...rest] = vals;
  p.nonNull = num(nn) ?? 0;
  p.distinct = num(distinct);
  const show = includeValues && p.findings.length === 0;
  if (p.kind === 'number') {
    const [mean, sd, min, max, qs] = rest;
    // The mean of a constant column is its value: mean and stddev only where values may be shown.
    if (show && mean !== null) [p.mean, p.stddev] = [round(num(mean))!, round(num(sd))!];
    if (show && min !== null) [p.min, p.max] = [round(num(min))!, round(num(max))!];
    if (show && Array.isArray(qs)) p.quantiles = { p25: Number(qs[0]), p50: Number(qs[1]), p75: Number(qs[2]) };
  } else if (p.kind === 'string') {
    const [lmin, lmax, lmean, min, max] = rest;
    if (lmin !== null) p.length = { min: num(lmin)!, max: num(lmax)!, mean: round(num(lmean))! };
    if (show && min !== null) [p.min, p.max] = [String(min), String(max)];
  } else if (p.kind === 'temporal') {
    const [min, max] = rest;
    if (show && min !== null) [p.min, p.max] = [String(min), String(max)];
  }
}

/** Drops every statistic of a column seen fewer than k times (its findings stay: tags, counts). */
function suppressSmall(p: ColumnProfile, k: number): void {
  if (p.nonNull >= k) return;
  for (const f of ['distinct', 'min', 'max', 'mean', 'stddev', 'quantiles', 'length', 'top'] as const) delete p[f];
  p.suppressed = 'fewer_than_k_values';
}

export async function computeProfile(
  conn: DuckDBConnection,
  rel: { sql: string; params: Record<string, string | number | boolean | null> },
  opts: { k: number; includeValues: boolean },
): Promise<Profile> {
  const from = `(${rel.sql}) AS r`;
  const described = (await conn.runAndReadAll(`DESCRIBE ${rel.sql}`, rel.params)).getRowObjectsJson();
  const all = described.map((d) => ({ name: String(d.column_name), type: String(d.column_type) }));
  const cols: ColumnProfile[] = all.slice(0, MAX_COLUMNS).map((c) => ({
    ...c,
    kind: kindOf(c.type),
    nonNull: 0,
    nulls: 0,
    nullRatio: 0,
    findings: [],
  }));

  // 1. Detection on a reservoir sample of text and integer columns; values stay in this scope.
  const candidates = cols.filter((c) => c.kind === 'string' || /INT/.test(c.type));
  if (candidates.length > 0) {
    const list = candidates.map((c) => `${q(c.name)}::VARCHAR`).join(', ');
    const sample = await rowsOf(
      conn,
      `SELECT ${list} FROM ${from} USING SAMPLE reservoir(${SAMPLE_ROWS} ROWS) REPEATABLE (7)`,
      rel.params,
    );
    candidates.forEach((c, i) => {
      c.findings = classifyColumn(
        c.name,
        sample.map((r) => (r[i] === null ? null : String(r[i]))),
      );
    });
  }

  // 2. One aggregate pass over every profiled column.
  const exprs = [`count(*)`];
  const spans: [number, number][] = [];
  for (const c of cols) {
    const a = aggregates(c.name, c.kind, c.findings.length > 0);
    spans.push([exprs.length, exprs.length + a.length]);
    exprs.push(...a);
  }
  const [agg] = await rowsOf(conn, `SELECT ${exprs.join(', ')} FROM ${from}`, rel.params);
  const rowCount = num(agg?.[0]) ?? 0;
  cols.forEach((c, i) => {
    const [s, e] = spans[i]!;
    readAggregates(c, agg!.slice(s, e), opts.includeValues);
    c.nulls = rowCount - c.nonNull;
    c.nullRatio = rowCount === 0 ? 0 : round(c.nulls / rowCount)!;
  });

  // 3. Top values of low-cardinality, non-sensitive columns, each seen at least k times.
  if (opts.includeValues) {
    const lowCard = cols.filter(
      (c) => c.findings.length === 0 && c.nonNull >= opts.k && (c.distinct ?? Infinity) <= Math.max(20, c.nonNull / 2),
    );
    for (const c of lowCard.slice(0, TOP_QUERIES)) {
      const rows = await rowsOf(
        conn,
        `SELECT ${q(c.name)}::VARCHAR AS v, count(*) AS n FROM ${from} WHERE ${q(c.name)} IS NOT NULL GROUP BY 1 HAVING count(*) >= ${opts.k} ORDER BY 2 DESC, 1 LIMIT ${TOP_K}`,
        rel.params,
      );
      c.top = rows.map(([v, n]) => ({ value: String(v), count: Number(n) }));
    }
  }

  for (const c of cols) suppressSmall(c, opts.k);
  const distinctRows =
    all.length <= MAX_COLUMNS
      ? num((await rowsOf(conn, `SELECT count(*) FROM (SELECT DISTINCT * FROM ${from})`, rel.params))[0]?.[0])
      : undefined;
  return {
    rowCount,
    columnCount: all.length,
    columnsProfiled: cols.length,
    k: opts.k,
    valuesShown: opts.includeValues,
    columns: cols,
    quality: {
      emptyColumns: cols.filter((c) => rowCount > 0 && c.nonNull === 0).map((c) => c.name),
      constantColumns: cols.filter((c) => c.nonNull >= opts.k && c.distinct === 1).map((c) => c.name),
      duplicateRows: distinctRows === undefined ? null : rowCount - distinctRows,
    },
  };
}
