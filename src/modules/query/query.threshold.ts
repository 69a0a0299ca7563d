/**
 * Aggregation thresholds (issue 17, `minGroupSize: k`): over a dataset under a threshold a
 * reader may only see aggregates over groups of at least k rows of their relation.
 *
 * Enforcement is a shape rule on the user's statement plus one added clause, decided before it
 * runs (never by looking at results):
 * - the statement is ONE `SELECT … FROM <that dataset> [WHERE …] [GROUP BY …] [HAVING …]
 *   [ORDER BY …] [LIMIT …]`: the dataset named once, no join, no other relation, no CTE, no
 *   subquery anywhere, no set operation, no window function, no QUALIFY, no SAMPLE;
 * - it aggregates: at least one aggregate function or a GROUP BY (a row-level SELECT is refused);
 * - its aggregates are from a small set that summarises rather than picks a row
 *   (count, sum, avg, stddev, variance, approx_count_distinct) and carry no FILTER clause —
 *   min, max, median, list, string_agg, first, arg_max … would show one row's value;
 * - `HAVING count(*) >= k` is ANDed into its HAVING, so groups (or the single group of an
 *   aggregate without GROUP BY) of fewer than k rows are not in the answer at all.
 * Row filters of other policies apply first (the count is of rows the reader may see). Limits
 * (docs/data-policies.md): a threshold stops listing and small-group answers; it does not stop
 * differencing two large groups or an aggregate over a crafted CASE expression — hide or mask
 * identifying columns as well.
 */
import { AppError } from '../../core/errors.ts';
import { AGGREGATES } from './query.functions.ts';
import { lineColumn, type Node } from './query.sql-check.ts';

export const THRESHOLD_AGGREGATES: ReadonlySet<string> = new Set([
  'count',
  'count_star',
  'sum',
  'avg',
  'mean',
  'stddev',
  'stddev_pop',
  'stddev_samp',
  'var_pop',
  'var_samp',
  'variance',
  'approx_count_distinct',
]);
const ALL_AGGREGATES = new Set(AGGREGATES.map((a) => a.toLowerCase()));

function refuse(sql: string, dataset: string, k: number, what: string, at?: unknown): AppError {
  const pos = typeof at === 'number' && at >= 0 && at <= sql.length ? at : undefined;
  const where = pos === undefined ? '' : ` (line ${lineColumn(sql, pos).line}, column ${lineColumn(sql, pos).column})`;
  return new AppError('FORBIDDEN', {
    detail: `${dataset} answers only aggregate queries over groups of at least ${k} rows: ${what}${where}. Write one SELECT over ${dataset} alone with count/sum/avg/stddev/variance and GROUP BY.`,
    meta: { minGroupSize: k, ...(pos === undefined ? {} : { position: pos }) },
  });
}

/** Walks expressions: refuses subqueries, windows, aggregate FILTERs and row-picking aggregates. */
function walk(sql: string, dataset: string, k: number, v: unknown, found: { aggregate: boolean }): void {
  if (Array.isArray(v)) {
    for (const x of v) walk(sql, dataset, k, x, found);
    return;
  }
  if (!v || typeof v !== 'object') return;
  const n = v as Node;
  if (n.class === 'SUBQUERY' || n.type === 'SUBQUERY') throw refuse(sql, dataset, k, 'a subquery', n.query_location);
  if (n.class === 'WINDOW') throw refuse(sql, dataset, k, 'a window function', n.query_location);
  if (n.class === 'FUNCTION') {
    const f = String(n.function_name).toLowerCase();
    if (ALL_AGGREGATES.has(f) || f === 'count_star') {
      if (!THRESHOLD_AGGREGATES.has(f))
        throw refuse(sql, dataset, k, `the aggregate ${f} (it can show a single row's value)`, n.query_location);
      if (n.filter !== null && n.filter !== undefined)
        throw refuse(sql, dataset, k, 'an aggregate FILTER clause', n.query_location);
      found.aggregate = true;
    }
  }
  for (const x of Object.values(n)) walk(sql, dataset, k, x, found);
}

/**
 * Checks `statement` (the user's, before datasets are replaced) against the threshold of
 * `dataset` and returns it with `having` (the parsed `count(*) >= k`) ANDed into its HAVING.
 */
export function withMinGroupSize(sql: string, statement: Node, dataset: string, k: number, having: Node): Node {
  const node = statement.node as Node | undefined;
  if (!node || node.type !== 'SELECT_NODE') throw refuse(sql, dataset, k, 'a set operation (UNION, EXCEPT …)');
  if (((node.cte_map as { map?: unknown[] } | undefined)?.map ?? []).length > 0)
    throw refuse(sql, dataset, k, 'a WITH clause');
  const from = node.from_table as Node | undefined;
  if (!from || from.type !== 'BASE_TABLE')
    throw refuse(sql, dataset, k, 'a join or a relation other than the dataset', from?.query_location);
  if (from.sample) throw refuse(sql, dataset, k, 'SAMPLE', from.query_location);
  if (node.sample) throw refuse(sql, dataset, k, 'SAMPLE');
  if (node.qualify) throw refuse(sql, dataset, k, 'QUALIFY');
  if (node.aggregate_handling !== 'STANDARD_HANDLING') throw refuse(sql, dataset, k, 'GROUP BY ALL or DISTINCT ON');
  const found = { aggregate: false };
  for (const part of ['select_list', 'where_clause', 'group_expressions', 'having', 'modifiers'])
    walk(sql, dataset, k, node[part], found);
  const groups = (node.group_expressions as unknown[] | undefined) ?? [];
  if (!found.aggregate && groups.length === 0) throw refuse(sql, dataset, k, 'a row-level SELECT');
  const prior = node.having as Node | null;
  const combined: Node = prior
    ? {
        class: 'CONJUNCTION',
        type: 'CONJUNCTION_AND',
        alias: '',
        query_location: prior.query_location,
        children: [prior, having],
      }
    : having;
  return { ...statement, node: { ...node, having: combined } };
}
