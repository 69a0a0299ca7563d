/**
 * The profile of one relation (a version as one reader sees it, or unrestricted for the stored
 * profile), computed by DuckDB in two passes over the data:
 *   1. a reservoir sample (1000 rows) of every profiled column — detection, character-class
 *      patterns, histogram bin edges and the candidate values of low-cardinality columns come
 *      from it; it stays in this function;
 *   2. one aggregate pass: counts, approximate distinct counts, numeric and date statistics,
 *      histograms (bins from pass 1, counted exactly), string lengths, the counts of the
 *      low-cardinality candidates (top values) and a hash of every row (duplicate rows).
 *
 * What never leaves this function:
 * - any sampled value (detection returns tags and counts only; patterns are character classes);
 * - any raw string value but a top value (non-sensitive columns only, seen at least k times):
 *   no string min/max;
 * - for a sensitive column (a finding not rejected, or a confirmed sensitive tag): min, max,
 *   mean, stddev, quantiles, histogram, patterns and top values — only null/distinct counts and
 *   string length statistics remain (the mean of a constant column would be its value);
 * - any value or value-like statistic when the caller may not read rows (`includeValues` false);
 * - any statistic of a column with fewer than `k` non-null values, a histogram bin holding
 *   fewer than `k` rows (its count is null), and top values seen fewer than `k` times.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { MAX_PROFILE_COLUMNS } from '../../contracts/profiling.ts';
import { classifyColumn, type Finding } from './detect/classify.ts';

export const MAX_COLUMNS = MAX_PROFILE_COLUMNS;
const SAMPLE_ROWS = 1000;
const TOP_K = 5;
const TOP_CANDIDATES = 20;
const BINS = 10;
const PATTERNS = 5;
const PATTERN_MAX = 48;

/** Tags that make a column sensitive when confirmed by a steward. */
export const SENSITIVE_TAG = /^(pii|phi|pci|sensitive|secret)([.:]|$)/;

export interface HistogramBin {
  lower: number | string;
  upper: number | string;
  /** Null: fewer than k rows fall in this bin. */
  count: number | null;
}

export interface ColumnProfile {
  name: string;
  type: string;
  kind: 'number' | 'temporal' | 'string' | 'boolean' | 'other';
  nonNull: number;
  nulls: number;
  nullRatio: number;
  /** Approximate (HyperLogLog). */
  distinct?: number;
  /** Numbers and dates only (never for strings). */
  min?: string | number;
  max?: string | number;
  mean?: number;
  stddev?: number;
  quantiles?: { p25: number; p50: number; p75: number };
  histogram?: HistogramBin[];
  length?: { min: number; max: number; mean: number };
  /** Character-class shapes of the sampled values (9 digits, A upper, a lower), share of the sample. */
  patterns?: { pattern: string; share: number }[];
  top?: { value: string; count: number }[];
  findings: Finding[];
  /** A finding (not rejected) or a confirmed sensitive tag: values are never shown. */
  sensitive: boolean;
  /** Masked for this reader by a data policy (the statistics are of the masked values). */
  masked?: boolean;
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

/** A steward's decisions on one column (remembered across versions). */
export interface ColumnDecision {
  confirmed: string[];
  rejected: string[];
}

export interface ComputeOptions {
  k: number;
  includeValues: boolean;
  /** Steward decisions by column name. */
  decisions?: Record<string, ColumnDecision>;
  /** Columns masked for this reader (statistics are of masked values). */
  masked?: readonly string[];
  onProgress?: (p: { phase: 'sample' | 'aggregate' | 'done'; step: number; of: number }) => void;
  /** Rows sampled for detection, patterns and bins (default 1000). */
  sampleRows?: number;
}

const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

function kindOf(type: string): ColumnProfile['kind'] {
  if (
    /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)/.test(
      type,
    )
  )
    return 'number';
  if (/^(DATE|TIMESTAMP)/.test(type)) return 'temporal';
  if (type === 'VARCHAR') return 'string';
  if (type === 'BOOLEAN') return 'boolean';
  return 'other';
}

const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const round = (v: number | undefined): number | undefined =>
  v === undefined || !Number.isFinite(v) ? undefined : Math.round(v * 1e6) / 1e6;

/** The character-class shape of a value: runs of digits → 9, upper → A, lower/other letters → a. */
export function patternOf(v: string): string {
  const p = v
    .replace(/[0-9]+/g, '9')
    .replace(/[A-Z]+/g, 'A')
    .replace(/\p{L}+/gu, (m) => (/^[A]$/.test(m) ? m : 'a'))
    .replace(/[^9Aa\s.,:;@_\-/+()#&'*]+/gu, '?');
  return p.length > PATTERN_MAX ? `${p.slice(0, PATTERN_MAX)}…` : p;
}

/** About `n` equal-width bin upper edges between lo and hi, rounded to a "nice" step. */
function niceEdges(lo: number, hi: number, n: number, integer: boolean): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi <= lo) return [];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const st = integer ? Math.max(1, Math.round(step)) : step;
  const start = Math.floor(lo / st) * st;
  const edges: number[] = [];
  for (let e = start + st; e < hi && edges.length < 4 * n; e += st) edges.push(Math.round(e * 1e9) / 1e9);
  return edges;
}

async function rowsOf(conn: DuckDBConnection, sql: string, params: Record<string, unknown>): Promise<unknown[][]> {
  return (await conn.runAndReadAll(sql, params as never)).getRowsJson() as unknown[][];
}

interface Plan {
  col: ColumnProfile;
  /** Sampled values as text (in memory only). */
  sample: (string | null)[];
  edges: number[];
  /** Candidate values for the top values (parameter names). */
  topParams: string[];
}

/** Aggregates of one column, in the order `readAggregates` reads them. */
function aggregates(p: Plan): string[] {
  const c = q(p.col.name);
  const base = [`count(${c})`, `approx_count_distinct(${c})`];
  const hist = (x: string) => (p.edges.length > 0 ? `histogram(${x}, [${p.edges.join(', ')}])` : 'NULL');
  const top =
    p.topParams.length > 0
      ? `histogram(${c}::VARCHAR) FILTER (WHERE ${c}::VARCHAR IN (${p.topParams.map((n) => `$${n}`).join(', ')}))`
      : 'NULL';
  switch (p.col.kind) {
    case 'number': {
      const d = `${c}::DOUBLE`;
      return [
        ...base,
        `avg(${d})`,
        `stddev_samp(${d})`,
        `min(${d})`,
        `max(${d})`,
        `approx_quantile(${d}, [0.25, 0.5, 0.75])`,
        hist(d),
        top,
      ];
    }
    case 'string':
      return [...base, `min(length(${c}))`, `max(length(${c}))`, `avg(length(${c}))`, top];
    case 'temporal':
      return [
        ...base,
        `min(${c})::VARCHAR`,
        `max(${c})::VARCHAR`,
        `min(epoch(${c}))`,
        `max(epoch(${c}))`,
        hist(`epoch(${c})`),
      ];
    case 'boolean':
      return [...base, top];
    default:
      return base;
  }
}

type MapEntry = { key: unknown; value: unknown };
const entries = (v: unknown): MapEntry[] => (Array.isArray(v) ? (v as MapEntry[]) : []);

const isoOf = (secs: number, type: string): string => {
  const d = new Date(secs * 1000);
  return Number.isNaN(d.getTime()) ? String(secs) : type === 'DATE' ? d.toISOString().slice(0, 10) : d.toISOString();
};

/** Histogram bins from DuckDB's `histogram(x, edges)`: bin i holds edges[i-1] < x <= edges[i]. */
function bins(
  raw: unknown,
  edges: number[],
  lo: number,
  hi: number,
  k: number,
  fmt: (x: number) => number | string,
): HistogramBin[] {
  const counts = entries(raw).map((e) => Number(e.value));
  const out: HistogramBin[] = [];
  for (let i = 0; i < counts.length; i += 1) {
    const lower = i === 0 ? lo : edges[i - 1]!;
    const upper = i < edges.length ? Math.min(edges[i]!, hi) : hi;
    if (i > 0 && lower >= hi) break;
    const n = counts[i]!;
    out.push({ lower: fmt(lower), upper: fmt(upper), count: n >= k ? n : null });
  }
  return out;
}

function readAggregates(p: Plan, vals: unknown[], opts: ComputeOptions): void {
  const col = p.col;
  const [nn, distinct, ...rest] = vals;
  col.nonNull = num(nn) ?? 0;
  // HyperLogLog may overshoot a little: never more distinct values than values.
  const d = num(distinct);
  col.distinct = d === undefined ? undefined : Math.min(d, col.nonNull);
  const show = opts.includeValues && !col.sensitive;
  const topOf = (raw: unknown) => {
    if (!show) return;
    const t = entries(raw)
      .map((e) => ({ value: String(e.key), count: Number(e.value) }))
      .filter((e) => e.count >= opts.k)
      .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1))
      .slice(0, TOP_K);
    if (t.length > 0) col.top = t;
  };
  if (col.kind === 'number') {
    const [mean, sd, min, max, qs, hist, top] = rest;
    // The mean of a constant column is its value: mean and stddev only where values may be shown.
    if (show && mean !== null) [col.mean, col.stddev] = [round(num(mean))!, round(num(sd))!];
    if (show && min !== null) [col.min, col.max] = [round(num(min))!, round(num(max))!];
    if (show && Array.isArray(qs)) col.quantiles = { p25: Number(qs[0]), p50: Number(qs[1]), p75: Number(qs[2]) };
    if (show && min !== null && p.edges.length > 0)
      col.histogram = bins(hist, p.edges, num(min)!, num(max)!, opts.k, (x) => round(x)!);
    topOf(top);
  } else if (col.kind === 'string') {
    const [lmin, lmax, lmean, top] = rest;
    if (lmin !== null) col.length = { min: num(lmin)!, max: num(lmax)!, mean: round(num(lmean))! };
    topOf(top);
  } else if (col.kind === 'temporal') {
    const [min, max, emin, emax, hist] = rest;
    if (show && min !== null) [col.min, col.max] = [String(min), String(max)];
    if (show && emin !== null && p.edges.length > 0)
      col.histogram = bins(hist, p.edges, num(emin)!, num(emax)!, opts.k, (x) => isoOf(x, col.type));
  } else if (col.kind === 'boolean') {
    topOf(rest[0]);
  }
}

/** Drops every statistic of a column seen fewer than k times (its findings stay: tags, counts). */
function suppressSmall(p: ColumnProfile, k: number): void {
  if (p.nonNull >= k) return;
  for (const f of [
    'distinct',
    'min',
    'max',
    'mean',
    'stddev',
    'quantiles',
    'histogram',
    'length',
    'patterns',
    'top',
  ] as const)
    delete p[f];
  p.suppressed = 'fewer_than_k_values';
}

/** Patterns of a column's sampled values seen at least k times (share of non-null sampled values). */
function patternsOf(sample: (string | null)[], k: number): ColumnProfile['patterns'] {
  const counts = new Map<string, number>();
  let n = 0;
  for (const v of sample) {
    if (v === null) continue;
    n += 1;
    const p = patternOf(v);
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  const out = [...counts.entries()]
    .filter(([, c]) => c >= k)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, PATTERNS)
    .map(([pattern, c]) => ({ pattern, share: round(c / n)! }));
  return out.length > 0 ? out : undefined;
}

export async function computeProfile(
  conn: DuckDBConnection,
  rel: { sql: string; params: Record<string, string | number | boolean | null> },
  opts: ComputeOptions,
): Promise<Profile> {
  const from = `(${rel.sql}) AS r`;
  const progress = opts.onProgress ?? (() => undefined);
  const described = (await conn.runAndReadAll(`DESCRIBE ${rel.sql}`, rel.params)).getRowObjectsJson();
  const all = described.map((d) => ({ name: String(d.column_name), type: String(d.column_type) }));
  const masked = new Set(opts.masked ?? []);
  const plans: Plan[] = all.slice(0, MAX_COLUMNS).map((c) => ({
    col: {
      ...c,
      kind: kindOf(c.type),
      nonNull: 0,
      nulls: 0,
      nullRatio: 0,
      findings: [],
      sensitive: false,
      ...(masked.has(c.name) ? { masked: true } : {}),
    },
    sample: [],
    edges: [],
    topParams: [],
  }));

  // 1. A reservoir sample of every column DuckDB can show as text; values stay in this scope.
  progress({ phase: 'sample', step: 1, of: 2 });
  const sampled = plans.filter((p) => p.col.kind !== 'other');
  if (sampled.length > 0) {
    const list = sampled
      .map((p) => (p.col.kind === 'temporal' ? `${q(p.col.name)}::DATE::VARCHAR` : `${q(p.col.name)}::VARCHAR`))
      .join(', ');
    const epochs = sampled.filter((p) => p.col.kind === 'temporal').map((p) => `epoch(${q(p.col.name)})`);
    const rows = await rowsOf(
      conn,
      `SELECT ${[list, ...epochs].join(', ')} FROM ${from} USING SAMPLE reservoir(${Math.max(10, Math.min(100_000, Math.trunc(opts.sampleRows ?? SAMPLE_ROWS)))} ROWS) REPEATABLE (7)`,
      rel.params,
    );
    const epochAt = new Map<Plan, number>();
    for (const p of sampled) if (p.col.kind === 'temporal') epochAt.set(p, sampled.length + epochAt.size);
    sampled.forEach((p, i) => {
      p.sample = rows.map((r) => (r[i] === null ? null : String(r[i])));
      const c = p.col;
      const decision = opts.decisions?.[c.name];
      if (c.kind === 'string' || c.kind === 'temporal' || /INT/.test(c.type))
        c.findings = classifyColumn(c.name, p.sample).filter((f) => !decision?.rejected.includes(f.tag));
      c.sensitive = c.findings.length > 0 || (decision?.confirmed.some((t) => SENSITIVE_TAG.test(t)) ?? false);
      if (c.sensitive) return;
      const present = p.sample.filter((v): v is string => v !== null);
      if (c.kind === 'number' || c.kind === 'temporal') {
        const xs =
          c.kind === 'number'
            ? present.map(Number).filter(Number.isFinite)
            : rows
                .map((r) => num(r[epochAt.get(p)!]))
                .filter((x): x is number => x !== undefined && Number.isFinite(x));
        if (xs.length > 0) {
          let [lo, hi] = [Infinity, -Infinity];
          for (const x of xs) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
          const integer = c.kind === 'temporal' || /INT/.test(c.type);
          p.edges = niceEdges(lo, hi, BINS, integer);
        }
      }
      if (c.kind === 'string') c.patterns = patternsOf(p.sample, opts.k);
      if (c.kind === 'string' || c.kind === 'boolean' || (c.kind === 'number' && /INT/.test(c.type))) {
        const distinct = [...new Set(present)];
        if (present.length > 0 && distinct.length <= TOP_CANDIDATES) p.topParams = distinct;
      }
    });
  }

  // 2. One aggregate pass over every profiled column (and a hash of every row for duplicates).
  progress({ phase: 'aggregate', step: 2, of: 2 });
  const params: Record<string, string | number | boolean | null> = { ...rel.params };
  let n = 0;
  for (const p of plans)
    p.topParams = p.topParams.map((v) => {
      const name = `sr_top_${n++}`;
      params[name] = v;
      return name;
    });
  const exprs = [`count(*)`];
  const spans: [number, number][] = [];
  for (const p of plans) {
    const a = aggregates(p);
    spans.push([exprs.length, exprs.length + a.length]);
    exprs.push(...a);
  }
  const rowHash = all.length <= MAX_COLUMNS && all.length > 0;
  if (rowHash) exprs.push(`count(DISTINCT hash(${all.map((c) => q(c.name)).join(', ')}))`);
  const [agg] = await rowsOf(conn, `SELECT ${exprs.join(', ')} FROM ${from}`, params);
  const rowCount = num(agg?.[0]) ?? 0;
  plans.forEach((p, i) => {
    const [s, e] = spans[i]!;
    readAggregates(p, agg!.slice(s, e), opts);
    const c = p.col;
    c.nulls = rowCount - c.nonNull;
    c.nullRatio = rowCount === 0 ? 0 : round(c.nulls / rowCount)!;
    if (!opts.includeValues || c.sensitive) delete c.patterns;
    p.sample = [];
  });
  const cols = plans.map((p) => p.col);
  for (const c of cols) suppressSmall(c, opts.k);
  const distinctRows = rowHash ? num(agg?.[exprs.length - 1]) : undefined;
  progress({ phase: 'done', step: 2, of: 2 });
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
