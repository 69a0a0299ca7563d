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

/**
 * The relation `reader` may read of `source`. Today every column and row (no data policy exists
 * yet); the reader is an argument so that policies (issue 17) have one place to apply.
 */
export function readerRelation(reader: Actor, source: RelationSource): ReaderRelation {
  void reader;
  return { sql: `SELECT * FROM ${scanSql(source.scan)}`, params: {} };
}
