/**
 * Row filters: a small expression language over the dataset's columns and the reader's
 * attributes — `region = reader.region`, `amount < 10000 or reader.clearance >= 3`. Parsed by
 * DuckDB's own parser (`SELECT 1 WHERE <filter>` through json_serialize_sql), then walked against
 * an allowlist: AND/OR/NOT, comparisons, IN, BETWEEN, IS [NOT] NULL, column names, `reader.<attr>`
 * and constants. Anything else is refused with the construct's name. The SQL that runs is
 * written here from the walked tree, never from the policy text: every constant and every reader
 * attribute becomes a bound parameter, so a value (the policy's or the reader's) is never code.
 */
import { AppError } from '../../core/errors.ts';

export type Value = string | number | boolean | null;
export type Filter =
  | { k: 'and' | 'or'; items: Filter[] }
  | { k: 'not'; e: Filter }
  | { k: 'cmp'; op: string; l: Filter; r: Filter }
  | { k: 'isnull'; neg: boolean; e: Filter }
  | { k: 'in'; neg: boolean; e: Filter; list: Filter[] }
  | { k: 'between'; e: Filter; lo: Filter; hi: Filter }
  | { k: 'col'; name: string }
  | { k: 'reader'; name: string }
  | { k: 'const'; v: Value };

type Node = Record<string, unknown>;
const COMPARE: Record<string, string> = {
  COMPARE_EQUAL: '=',
  COMPARE_NOTEQUAL: '<>',
  COMPARE_LESSTHAN: '<',
  COMPARE_GREATERTHAN: '>',
  COMPARE_LESSTHANOREQUALTO: '<=',
  COMPARE_GREATERTHANOREQUALTO: '>=',
};
const MAX_DEPTH = 50;

const refuse = (what: string) =>
  new AppError('VALIDATION_FAILED', {
    detail: `The row filter uses ${what}, which row filters do not allow (columns, reader.<attribute>, constants, comparisons, IN, BETWEEN, IS NULL, AND, OR, NOT).`,
  });

function constantOf(n: Node): Value {
  const v = n.value as { type: { id: string; type_info: { scale?: number } | null }; is_null: boolean; value: unknown };
  if (v.is_null) return null;
  switch (v.type.id) {
    case 'VARCHAR':
      return String(v.value);
    case 'INTEGER':
    case 'BIGINT':
    case 'SMALLINT':
    case 'TINYINT':
      return Number(v.value);
    case 'DECIMAL':
      return Number(v.value) / 10 ** (v.type.type_info?.scale ?? 0);
    case 'DOUBLE':
    case 'FLOAT':
      return Number(v.value);
    default:
      throw refuse(`a constant of type ${v.type.id}`);
  }
}

function walk(n: Node, depth: number): Filter {
  if (depth > MAX_DEPTH) throw refuse('nesting deeper than 50 levels');
  const kids = () => (n.children as Node[]).map((c) => walk(c, depth + 1));
  switch (n.type) {
    case 'CONJUNCTION_AND':
    case 'CONJUNCTION_OR':
      return { k: n.type === 'CONJUNCTION_AND' ? 'and' : 'or', items: kids() };
    case 'OPERATOR_NOT':
      return { k: 'not', e: kids()[0]! };
    case 'OPERATOR_IS_NULL':
    case 'OPERATOR_IS_NOT_NULL':
      return { k: 'isnull', neg: n.type === 'OPERATOR_IS_NOT_NULL', e: kids()[0]! };
    case 'COMPARE_IN':
    case 'COMPARE_NOT_IN': {
      const [e, ...list] = kids();
      return { k: 'in', neg: n.type === 'COMPARE_NOT_IN', e: e!, list };
    }
    case 'COMPARE_BETWEEN':
      return {
        k: 'between',
        e: walk(n.input as Node, depth + 1),
        lo: walk(n.lower as Node, depth + 1),
        hi: walk(n.upper as Node, depth + 1),
      };
    case 'COLUMN_REF': {
      const names = n.column_names as string[];
      if (names.length === 1) return { k: 'col', name: names[0]! };
      if (names.length === 2 && names[0]!.toLowerCase() === 'reader') return { k: 'reader', name: names[1]! };
      throw refuse(`the qualified name ${names.join('.')}`);
    }
    case 'VALUE_CONSTANT':
      return { k: 'const', v: constantOf(n) };
    case 'OPERATOR_CAST': {
      // `true` / `false` parse as CAST('t' AS BOOLEAN); no other cast is allowed.
      const child = n.child as Node;
      const to = (n.cast_type as { id: string }).id;
      if (to === 'BOOLEAN' && child.type === 'VALUE_CONSTANT') {
        const v = constantOf(child);
        if (v === 't' || v === 'f') return { k: 'const', v: v === 't' };
      }
      throw refuse('a cast');
    }
    default:
      if (typeof n.type === 'string' && n.type in COMPARE)
        return {
          k: 'cmp',
          op: COMPARE[n.type]!,
          l: walk(n.left as Node, depth + 1),
          r: walk(n.right as Node, depth + 1),
        };
      throw refuse(n.type === 'FUNCTION' ? `the function ${String(n.function_name)}` : `a ${String(n.type)}`);
  }
}

/** Parses a row filter with `serialize` (DuckDB's json_serialize_sql); 422 on anything outside the language. */
export async function parseFilter(text: string, serialize: (sql: string) => Promise<string>): Promise<Filter> {
  const t = JSON.parse(await serialize(`SELECT 1 WHERE ${text}`)) as Node;
  const stmts = t.statements as Node[] | undefined;
  if (t.error === true || !stmts)
    throw new AppError('VALIDATION_FAILED', { detail: 'The row filter does not parse as an expression.' });
  const node = stmts[0]?.node as Node | undefined;
  if (
    stmts.length !== 1 ||
    !node ||
    node.type !== 'SELECT_NODE' ||
    (node.from_table as Node).type !== 'EMPTY' ||
    (node.select_list as Node[]).length !== 1 ||
    (node.group_expressions as Node[]).length !== 0 ||
    (node.modifiers as Node[]).length !== 0 ||
    node.having !== null ||
    node.qualify !== null ||
    !node.where_clause
  )
    throw new AppError('VALIDATION_FAILED', { detail: 'The row filter must be one expression.' });
  return walk(node.where_clause as Node, 0);
}

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * SQL text of a filter: columns quoted, every constant and reader attribute a parameter named
 * `<prefix><n>` whose value goes into `params`. A missing attribute binds NULL (the comparison is
 * unknown, the row is not shown).
 */
export function filterSql(
  f: Filter,
  reader: (name: string) => Value,
  prefix: string,
  params: Record<string, Value>,
): string {
  const bind = (v: Value): string => {
    const name = `${prefix}${Object.keys(params).length}`;
    params[name] = v;
    return `$${name}`;
  };
  const go = (x: Filter): string => {
    switch (x.k) {
      case 'and':
      case 'or':
        return `(${x.items.map(go).join(x.k === 'and' ? ' AND ' : ' OR ')})`;
      case 'not':
        return `(NOT ${go(x.e)})`;
      case 'isnull':
        return `(${go(x.e)} IS ${x.neg ? 'NOT ' : ''}NULL)`;
      case 'cmp':
        return `(${go(x.l)} ${x.op} ${go(x.r)})`;
      case 'in':
        return `(${go(x.e)} ${x.neg ? 'NOT ' : ''}IN (${x.list.map(go).join(', ')}))`;
      case 'between':
        return `(${go(x.e)} BETWEEN ${go(x.lo)} AND ${go(x.hi)})`;
      case 'col':
        return quoteIdent(x.name);
      case 'reader':
        return bind(reader(x.name));
      case 'const':
        return x.v === null ? 'NULL' : bind(x.v);
    }
  };
  return go(f);
}
