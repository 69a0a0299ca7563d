/**
 * The SQL allowlist (C9 part 1). DuckDB has no privilege boundary inside a connection, so user
 * SQL is never run as written: DuckDB's own parser turns it into a tree (`json_serialize_sql`),
 * this file walks EVERY node of that tree and refuses anything it does not know to be safe, and
 * the statement that runs is rebuilt from the checked tree (`json_deserialize_sql`) with each
 * dataset name replaced by the relation the engine builds for the reader (`query.relation.ts`).
 *
 * What passes: one SELECT (CTEs, joins, subqueries, set operations, window functions, VALUES),
 * expression kinds from a closed set, functions from `query.functions.ts`, and relations that are
 * either a CTE of the statement or a dataset of the workspace (`name` or `name@v3`). Everything
 * else — other statements (only SELECT serialises), several statements, table functions,
 * qualified or time-travel relations, parameters, unknown node kinds — is refused with the
 * construct's name and its position in the text.
 */
import { MAX_SQL_LENGTH } from '../../contracts/query.ts';
import { createHash } from 'node:crypto';
import { AppError } from '../../core/errors.ts';
import { ALLOWED_FUNCTIONS } from './query.functions.ts';

/** A parse-tree node as `json_serialize_sql` writes it. */
export type Node = Record<string, unknown>;

/** A dataset the statement names, with where it appears. */
export interface DatasetRef {
  /** As written: `sales` or `sales@v3`. */
  ref: string;
  name: string;
  version: number | undefined;
  position: number;
}

export { MAX_SQL_LENGTH };
const MAX_DEPTH = 200;
/** DuckDB writes "no position" as the largest uint64; JSON.parse cannot hold it exactly. */
const NO_POSITION = '18446744073709551615';
const NO_POSITION_MARK = -1;

const EXPRESSION_CLASSES = new Set([
  'BETWEEN',
  'CASE',
  'CAST',
  'COLLATE',
  'COLUMN_REF',
  'COMPARISON',
  'CONJUNCTION',
  'CONSTANT',
  'FUNCTION',
  'LAMBDA',
  'OPERATOR',
  'POSITIONAL_REFERENCE',
  'STAR',
  'SUBQUERY',
  'WINDOW',
]);
/** Query nodes, table references, modifiers and ordering kinds (nodes with a `type` and no `class`). */
const STRUCTURE_TYPES = new Set([
  'SELECT_NODE',
  'SET_OPERATION_NODE',
  'RECURSIVE_CTE_NODE',
  'CTE_NODE',
  'BASE_TABLE',
  'JOIN',
  'SUBQUERY',
  'EXPRESSION_LIST',
  'EMPTY',
  'ORDER_MODIFIER',
  'LIMIT_MODIFIER',
  'LIMIT_PERCENT_MODIFIER',
  'DISTINCT_MODIFIER',
  'ORDER_DEFAULT',
  'ASCENDING',
  'DESCENDING',
]);
const DATASET_REF = /^([a-z0-9][a-z0-9._-]{0,127})(?:@v([1-9][0-9]{0,8}))?$/i;

export const parseTreeJson = (text: string): Node =>
  JSON.parse(text.replaceAll(NO_POSITION, String(NO_POSITION_MARK))) as Node;
export const treeToJson = (tree: Node): string =>
  JSON.stringify(tree).replaceAll(`"query_location":${NO_POSITION_MARK}`, `"query_location":${NO_POSITION}`);

/** Line and column (1-based) of a character offset. */
export function lineColumn(sql: string, position: number): { line: number; column: number } {
  const before = sql.slice(0, position);
  const line = before.split('\n').length;
  return { line, column: position - before.lastIndexOf('\n') };
}

export function refused(sql: string, construct: string, position: number | undefined, why: string): AppError {
  const at = position !== undefined && position >= 0 && position <= sql.length ? position : undefined;
  const where = at === undefined ? '' : ` (line ${lineColumn(sql, at).line}, column ${lineColumn(sql, at).column})`;
  return new AppError('QUERY_REFUSED', {
    detail: `${construct} is not allowed here${where}: ${why}`,
    meta: { construct, ...(at === undefined ? {} : { position: at, ...lineColumn(sql, at) }) },
  });
}

const positionOf = (n: Node): number | undefined => {
  const p = n.query_location;
  return typeof p === 'number' && p >= 0 ? p : undefined;
};

/** CTE names declared anywhere in the statement. */
function cteNames(tree: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(tree)) for (const x of tree) cteNames(x, out);
  else if (tree && typeof tree === 'object') {
    const n = tree as Node;
    const map = (n.cte_map as { map?: { key: string }[] } | undefined)?.map;
    if (Array.isArray(map)) for (const e of map) out.add(e.key.toLowerCase());
    if (typeof n.cte_name === 'string') out.add(n.cte_name.toLowerCase());
    for (const v of Object.values(n)) cteNames(v, out);
  }
  return out;
}

/**
 * Checks a serialised statement; returns the datasets it names (each occurrence, in order).
 * `tree` is the parsed output of `json_serialize_sql` for `sql`.
 */
export function checkTree(sql: string, tree: Node): DatasetRef[] {
  if (tree.error === true) {
    const message = String(tree.error_message ?? '');
    const pos = tree.position === undefined ? undefined : Number(tree.position);
    if (tree.error_type === 'parser') {
      const at = pos !== undefined && Number.isFinite(pos) ? lineColumn(sql, pos) : undefined;
      throw new AppError('QUERY_INVALID', {
        detail: `Syntax error${at ? ` at line ${at.line}, column ${at.column}` : ''}: ${message.slice(0, 200)}`,
        meta: at ? { position: pos, ...at } : {},
      });
    }
    throw refused(sql, 'A statement other than SELECT', 0, 'only one read-only SELECT may run.');
  }
  const statements = tree.statements as Node[] | undefined;
  if (!Array.isArray(statements) || statements.length === 0)
    throw new AppError('QUERY_INVALID', { detail: 'The statement is empty.' });
  if (statements.length > 1) throw refused(sql, 'A second statement', undefined, 'send one SELECT at a time.');
  const ctes = cteNames(statements[0]);
  const datasets: DatasetRef[] = [];

  const walk = (value: unknown, depth: number, near: number | undefined): void => {
    if (depth > MAX_DEPTH) throw refused(sql, 'Nesting this deep', near, `at most ${MAX_DEPTH} levels.`);
    if (Array.isArray(value)) {
      for (const x of value) walk(x, depth + 1, near);
      return;
    }
    if (!value || typeof value !== 'object') return;
    const n = value as Node;
    const at = positionOf(n) ?? near;
    if (typeof n.class === 'string') {
      if (!EXPRESSION_CLASSES.has(n.class))
        throw refused(sql, n.class === 'PARAMETER' ? 'A parameter' : `The expression ${n.class}`, at, 'not allowed.');
      if (n.class === 'CONSTANT') return; // a value and its type: nothing runs
      if (n.class === 'FUNCTION' || n.class === 'WINDOW') {
        const fn = String(n.function_name ?? '').toLowerCase();
        if (n.schema || n.catalog || !ALLOWED_FUNCTIONS.has(fn))
          throw refused(sql, `The function ${fn}`, at, 'it is not on the function allowlist.');
      }
      for (const [k, v] of Object.entries(n)) if (k !== 'cast_type') walk(v, depth + 1, at);
      return;
    }
    if (typeof n.type === 'string') {
      if (!STRUCTURE_TYPES.has(n.type)) {
        const what = n.type === 'TABLE_FUNCTION' ? tableFunctionName(n) : n.type.toLowerCase().replaceAll('_', ' ');
        throw refused(sql, what, at, 'only dataset names of this workspace may be read.');
      }
      if (n.type === 'BASE_TABLE') datasets.push(checkBaseTable(sql, n, ctes, at));
    }
    for (const v of Object.values(n)) walk(v, depth + 1, at);
  };
  walk(statements[0], 0, 0);
  return datasets;
}

function tableFunctionName(n: Node): string {
  const fn = (n.function as Node | undefined)?.function_name;
  return `The table function ${typeof fn === 'string' ? fn : '(unknown)'}`;
}

function checkBaseTable(sql: string, n: Node, ctes: Set<string>, at: number | undefined): DatasetRef {
  const table = String(n.table_name ?? '');
  if (n.schema_name || n.catalog_name)
    throw refused(sql, 'A qualified relation name', at, 'name a dataset of this workspace without a schema.');
  if (n.at_clause) throw refused(sql, 'AT (time travel)', at, 'write name@v3 to read version 3.');
  const m = DATASET_REF.exec(table);
  if (ctes.has(table.toLowerCase())) return { ref: table, name: '', version: undefined, position: at ?? 0 }; // a CTE
  if (!m) throw unknownDataset(sql, table, at);
  return { ref: table, name: m[1]!, version: m[2] === undefined ? undefined : Number(m[2]), position: at ?? 0 };
}

/** The same answer for a dataset that does not exist and one the caller may not read. */
export function unknownDataset(sql: string, ref: string, at: number | undefined): AppError {
  const where = at === undefined ? '' : ` (line ${lineColumn(sql, at).line}, column ${lineColumn(sql, at).column})`;
  return new AppError('QUERY_INVALID', {
    detail: `No dataset named ${JSON.stringify(ref.slice(0, 140))} in this workspace${where}.`,
    meta: { relation: ref.slice(0, 140), ...(at === undefined ? {} : { position: at, ...lineColumn(sql, at) }) },
  });
}

/**
 * Replaces each dataset reference (BASE_TABLE that is not a CTE) with `replace(ref)`, a table
 * reference node (the reader's relation as a subquery); returns a new tree.
 */
export function replaceDatasets(tree: Node, isCte: (name: string) => boolean, replace: (n: Node) => Node): Node {
  const visit = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(visit);
    if (!value || typeof value !== 'object') return value;
    const n = value as Node;
    if (n.type === 'BASE_TABLE' && typeof n.class !== 'string' && !isCte(String(n.table_name))) return replace(n);
    return Object.fromEntries(Object.entries(n).map(([k, v]) => [k, visit(v)]));
  };
  return visit(tree) as Node;
}

/** The tree with every literal replaced by '?': what the audit trail keeps instead of the SQL. */
export function withoutLiterals(tree: Node): Node {
  const visit = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(visit);
    if (!value || typeof value !== 'object') return value;
    const n = value as Node;
    if (n.class === 'CONSTANT')
      return { ...n, value: { type: { id: 'VARCHAR', type_info: null }, is_null: false, value: '?' } };
    return Object.fromEntries(Object.entries(n).map(([k, v]) => [k, visit(v)]));
  };
  return visit(tree) as Node;
}

export const fingerprintOf = (normalized: string): string =>
  createHash('sha256').update(normalized).digest('hex').slice(0, 32);

export { cteNames };
