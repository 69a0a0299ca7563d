/**
 * THE seam of governed reads: the one function that builds what a reader sees of a dataset
 * version. Preview, SQL query and export all read tabular content through `readerRelation` —
 * user SQL never names a file, a table or a scan; each dataset name in it is replaced by the
 * relation built here (`query.sql-check.ts` → `replaceDatasets`).
 *
 * Issue 17 (data protection policies) puts column masks, row filters and `hide` here: the
 * relation becomes `SELECT <masked columns> FROM <scan> WHERE <row filter>`, so the policy holds
 * in every clause of the user's statement (WHERE, JOIN, GROUP BY, ORDER BY) because the user's
 * statement only ever sees the relation's output. The reader's identity and attributes enter
 * the relation ONLY as bound values (`params`, named `$sr_…`), never as text and never as
 * session variables (`SET VARIABLE` cannot be trusted inside one DuckDB connection).
 */
import type { Actor } from '../../core/actor.ts';
import { sqlPath } from './query.engine.ts';

/** Where the plaintext of a version is, for this read (always inside the private scratch). */
export type Scan = { kind: 'parquet'; path: string } | { kind: 'csv'; path: string } | { kind: 'jsonl'; path: string };

export interface RelationSource {
  workspaceId: string;
  dataset: string;
  version: number;
  tags: readonly string[];
  scan: Scan;
}

/** A relation as SQL text over the scan, and the values its parameters are bound to. */
export interface ReaderRelation {
  sql: string;
  params: Record<string, string | number | boolean | null>;
}

function scanSql(scan: Scan): string {
  switch (scan.kind) {
    case 'parquet':
      return `read_parquet(${sqlPath(scan.path)})`;
    case 'csv':
      return `read_csv(${sqlPath(scan.path)}, encoding = 'utf-8')`;
    case 'jsonl':
      return `read_json(${sqlPath(scan.path)}, format = 'newline_delimited')`;
  }
}

/** Why a read looks as it does: per column the policies that masked or hid it; never values. */
export interface ReadWhy {
  masked: Record<string, string[]>;
  hidden: Record<string, string[]>;
  filteredBy: string[];
  unmasked?: boolean;
  /** Aggregation threshold: only aggregates over groups of at least `minGroupSize` rows (`by`: policies). */
  threshold?: { minGroupSize: number; by: string[] };
}

/**
 * What data policies make of one dataset for one reader (built by the policies module): columns
 * left out, a masking expression per column, row filters (ANDed, over the raw columns), and the
 * values of their `$…` parameters. Parameter names are unique per relation (`prefix`).
 */
export interface RelationPlan {
  exclude: string[];
  /**
   * `cacheable`: the expression depends only on the column's value and the policy (its constants,
   * or the workspace's keyed-hash key, named by `cacheId`) and yields text, so a query copy may
   * carry it computed once (`query.copies.ts`); `carry` names what it computes, without secrets
   * (equal `carry` ⇒ equal values).
   */
  replace: { column: string; sql: string; cacheable?: boolean; carry?: string }[];
  where: string[];
  params: Record<string, string | number | boolean | null>;
  why: ReadWhy;
  cacheId?: string;
}

/** The policies module as the query module sees it. `null`: no policy applies (or raw access). */
export interface PolicyLookup {
  planFor(
    reader: Actor,
    source: Pick<RelationSource, 'workspaceId' | 'dataset' | 'tags'>,
    prefix: string,
  ): Promise<RelationPlan | null>;
}

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * The relation `reader` may read of `source` under `plan` (from `PolicyLookup.planFor`, already
 * resolved for this reader): `SELECT * EXCLUDE (hidden) REPLACE (mask AS col) FROM (SELECT * FROM
 * scan WHERE filters)`. Filters see raw values; everything above sees only the masked output, so a
 * range probe on a masked column probes masked values. A hidden or masked column that no longer
 * exists fails the read (DuckDB's binder), never unmasks silently.
 */
export function readerRelation(
  reader: Actor,
  source: RelationSource,
  plan?: RelationPlan | null,
  /** Masked column → the scan's column that holds its masked values, computed with the copy. */
  precomputed: Readonly<Record<string, string>> = {},
): ReaderRelation {
  void reader;
  const scan = `SELECT * FROM ${scanSql(source.scan)}`;
  const carried = Object.values(precomputed);
  if (!plan) {
    if (carried.length === 0) return { sql: scan, params: {} };
    return { sql: `SELECT * EXCLUDE (${carried.map(quote).join(', ')}) FROM (${scan})`, params: {} };
  }
  const filtered = plan.where.length > 0 ? `${scan} WHERE ${plan.where.join(' AND ')}` : scan;
  const excluded = [...plan.exclude, ...carried];
  const exclude = excluded.length > 0 ? ` EXCLUDE (${excluded.map(quote).join(', ')})` : '';
  const cols = plan.replace.map((r) => {
    const pre = precomputed[r.column];
    return `${pre !== undefined ? quote(pre) : r.sql} AS ${quote(r.column)}`;
  });
  const replace = cols.length > 0 ? ` REPLACE (${cols.join(', ')})` : '';
  // The parameters of an expression a carried column replaces (the key) are not passed at all.
  const params = { ...plan.params };
  for (const r of plan.replace)
    if (precomputed[r.column] !== undefined) for (const m of r.sql.matchAll(/\$(\w+)/g)) delete params[m[1]!];
  return { sql: `SELECT *${exclude}${replace} FROM (${filtered})`, params };
}
