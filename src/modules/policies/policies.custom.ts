/**
 * `custom` masks: an expression from a small safe language of our own — never SQL text.
 *
 *   expr   := call | string | integer | 'value'
 *   call   := name '(' [expr (',' expr)*] ')'      name from FUNCTIONS (arity checked)
 *   string := '…' ('' for a quote; at most 200 characters)
 *   integer:= 0 … 10000
 *
 * `value` is the masked column itself (as text). The expression is parsed here (at save, with
 * the position of any error) into a tree, and compiled to SQL from the tree only: function names
 * come from the allowlist below, strings become bound parameters, integers are re-printed from
 * the parsed number, the column is a quoted identifier. Nothing of the author's text is ever
 * pasted into SQL. The result is always VARCHAR; NULL in gives what the functions give (coalesce
 * can replace it). The language says nothing about how much the mask reveals (`value` alone
 * reveals everything): that is the author's choice, reviewed like any policy.
 */
import { AppError } from '../../core/errors.ts';

export type CustomExpr =
  { k: 'value' } | { k: 'str'; v: string } | { k: 'int'; v: number } | { k: 'call'; f: string; args: CustomExpr[] };

/** name → [min arity, max arity]. Integer arguments are bounded, so no function can grow a value unboundedly. */
const FUNCTIONS: Record<string, [number, number]> = {
  concat: [1, 8],
  left: [2, 2],
  right: [2, 2],
  upper: [1, 1],
  lower: [1, 1],
  coalesce: [1, 8],
  substr: [2, 3],
  lpad: [3, 3],
  rpad: [3, 3],
  replace: [3, 3],
  trim: [1, 1],
  length: [1, 1],
};
export const CUSTOM_FUNCTIONS = Object.keys(FUNCTIONS);
export const MAX_CUSTOM_LENGTH = 500;
const MAX_NODES = 40;
const MAX_DEPTH = 8;
const MAX_INT = 10_000;
const MAX_STRING = 200;

function bad(text: string, at: number, why: string): AppError {
  return new AppError('VALIDATION_FAILED', {
    detail: `Custom mask "${text.length > 80 ? `${text.slice(0, 80)}…` : text}": ${why} at character ${at + 1}. Allowed: value, 'text', integers 0–${MAX_INT}, and ${CUSTOM_FUNCTIONS.join(', ')}.`,
    meta: { position: at },
  });
}

/** Parses a custom mask expression; throws VALIDATION_FAILED (422) naming the position. */
export function parseCustom(text: string): CustomExpr {
  if (text.length > MAX_CUSTOM_LENGTH)
    throw bad(text, MAX_CUSTOM_LENGTH, `longer than ${MAX_CUSTOM_LENGTH} characters`);
  let i = 0;
  let nodes = 0;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n')) i++;
  };
  const expr = (depth: number): CustomExpr => {
    if (depth > MAX_DEPTH) throw bad(text, i, 'nested too deeply');
    if (++nodes > MAX_NODES) throw bad(text, i, 'too many parts');
    ws();
    const start = i;
    const c = text[i];
    if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) throw bad(text, start, 'an unterminated string');
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += text[i++];
      }
      if (s.length > MAX_STRING) throw bad(text, start, `a string longer than ${MAX_STRING} characters`);
      return { k: 'str', v: s };
    }
    if (c !== undefined && c >= '0' && c <= '9') {
      while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++;
      const n = Number(text.slice(start, i));
      if (!Number.isSafeInteger(n) || n > MAX_INT) throw bad(text, start, `an integer above ${MAX_INT}`);
      return { k: 'int', v: n };
    }
    if (c !== undefined && /[a-z_]/i.test(c)) {
      while (i < text.length && /[a-z0-9_]/i.test(text[i]!)) i++;
      const name = text.slice(start, i).toLowerCase();
      ws();
      if (text[i] !== '(') {
        if (name === 'value') return { k: 'value' };
        throw bad(text, start, `unknown name "${name.slice(0, 40)}" (the column is written value)`);
      }
      const arity = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
      if (!arity) throw bad(text, start, `the function "${name.slice(0, 40)}" is not allowed`);
      i++;
      const args: CustomExpr[] = [];
      ws();
      if (text[i] === ')') i++;
      else
        for (;;) {
          args.push(expr(depth + 1));
          ws();
          if (text[i] === ',') {
            i++;
            continue;
          }
          if (text[i] === ')') {
            i++;
            break;
          }
          throw bad(text, i, 'expected , or )');
        }
      if (args.length < arity[0] || args.length > arity[1])
        throw bad(
          text,
          start,
          `${name} takes ${arity[0] === arity[1] ? arity[0] : `${arity[0]} to ${arity[1]}`} arguments`,
        );
      return { k: 'call', f: name, args };
    }
    throw bad(text, start, c === undefined ? 'an unexpected end' : `unexpected "${c}"`);
  };
  const tree = expr(0);
  ws();
  if (i < text.length) throw bad(text, i, `unexpected "${text[i]}"`);
  return tree;
}

/** SQL for a parsed custom expression over `column` (a quoted identifier); strings go through `bind`. */
export function customSql(tree: CustomExpr, column: string, bind: (v: string) => string): string {
  const go = (e: CustomExpr): string => {
    switch (e.k) {
      case 'value':
        return `CAST(${column} AS VARCHAR)`;
      case 'str':
        return `CAST(${bind(e.v)} AS VARCHAR)`;
      case 'int':
        if (!Number.isSafeInteger(e.v) || e.v < 0 || e.v > MAX_INT) throw new Error('bad integer');
        return String(e.v);
      case 'call': {
        if (!Object.hasOwn(FUNCTIONS, e.f)) throw new Error('function not allowed');
        const args = e.args.map(go);
        // Integers stay integers where a length is meant; every other argument is text.
        const text = (a: string, x: CustomExpr) => (x.k === 'int' ? `CAST(${a} AS VARCHAR)` : a);
        const n = (a: string, x: CustomExpr) => (x.k === 'int' ? a : `CAST(${a} AS BIGINT)`);
        switch (e.f) {
          case 'left':
          case 'right':
            return `${e.f}(${text(args[0]!, e.args[0]!)}, least(${n(args[1]!, e.args[1]!)}, ${MAX_INT}))`;
          case 'substr':
            return `substr(${text(args[0]!, e.args[0]!)}, ${args
              .slice(1)
              .map((a, j) => `least(${n(a, e.args[j + 1]!)}, ${MAX_INT})`)
              .join(', ')})`;
          case 'lpad':
          case 'rpad':
            return `${e.f}(${text(args[0]!, e.args[0]!)}, least(${n(args[1]!, e.args[1]!)}, ${MAX_INT}), ${text(args[2]!, e.args[2]!)})`;
          case 'length':
            return `CAST(length(${text(args[0]!, e.args[0]!)}) AS VARCHAR)`;
          default:
            return `${e.f}(${args.map((a, j) => text(a, e.args[j]!)).join(', ')})`;
        }
      }
    }
  };
  return `CAST(${go(tree)} AS VARCHAR)`;
}
