/**
 * From the policies that apply to one reader on one dataset to the pieces of the reader's
 * relation (`query.relation.ts` puts them together): columns to leave out (`hide`), a masking
 * expression per masked column, and the ANDed row filters — each with its values as bound
 * parameters. Masks are written only over the column itself and bound values; the keyed-hash key
 * is a bound parameter, never text.
 *
 * Types after masking (docs/data-policies.md): redact, show_first_n, show_last_n, keyed_hash,
 * email_domain → text; null → the column's type; date_to_year/date_to_month → DATE (first day of
 * the year/month; for DATE and TIMESTAMP columns); round with digits → the column's numeric type;
 * round with bucket → DOUBLE (the bucket's lower bound); custom → text.
 */
import type { Actor } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import type { Mask, PolicyBody, ReadWhy, ReaderMatch } from '../../contracts/policies.ts';
import { customSql, parseCustom } from './policies.custom.ts';
import { filterSql, quoteIdent, type Filter, type Value } from './policies.filter.ts';

export interface RelationPlan {
  /** Columns the reader does not get at all. */
  exclude: string[];
  /**
   * Column → the expression that replaces it. `cacheable`: computed from the column's value alone
   * (and the policy's constants, or the keyed-hash key), text, so a query copy may carry it
   * computed once; `carry` names what it computes without any secret (query.copies.ts).
   */
  replace: { column: string; sql: string; cacheable?: boolean; carry?: string }[];
  /** Row filters, all of which must hold (over the raw columns). */
  where: string[];
  params: Record<string, Value>;
  why: ReadWhy;
  /** Names the keyed-hash key (a one-way fingerprint of it), for cached hash columns. */
  cacheId?: string;
}

export interface ApplicablePolicy {
  name: string;
  body: PolicyBody;
  filter?: Filter;
}

/** The reader's value for `reader.<name>` in a filter: its attributes, plus `id`. */
export function readerValue(reader: Actor, name: string): Value {
  if (name === 'id') return reader.id;
  const v = reader.attributes[name];
  return v === undefined ? null : v;
}

function matches(m: ReaderMatch, reader: Actor, mfa: boolean): boolean {
  if (m.roles && !m.roles.some((r) => reader.roles.includes(r))) return false;
  if (m.mfa !== undefined && m.mfa !== mfa) return false;
  for (const [k, allowed] of Object.entries(m.attributes ?? {})) {
    const v = reader.attributes[k];
    if (v === undefined || !allowed.includes(v)) return false;
  }
  return true;
}

/** Does `body`'s condition select this reader? */
export function appliesTo(body: Pick<PolicyBody, 'when' | 'unless'>, reader: Actor, mfa: boolean): boolean {
  if (body.when && !matches(body.when, reader, mfa)) return false;
  if (body.unless && matches(body.unless, reader, mfa)) return false;
  return true;
}

/** Does `body`'s target cover the dataset `name` carrying `tags`? */
export function targets(body: Pick<PolicyBody, 'target'>, name: string, tags: readonly string[]): boolean {
  return 'dataset' in body.target ? body.target.dataset === name : tags.includes(body.target.tag);
}

export interface HashKey {
  /** Hex of the HMAC inner and outer padded keys (key ⊕ ipad, key ⊕ opad), 64 bytes each. */
  inner: string;
  outer: string;
  /** A one-way fingerprint of the key (HMAC of a fixed label under it): names cached hash columns. */
  id: string;
}

/**
 * Masks a query copy may carry computed once (query.copies.ts): text out, per value, costly per
 * row (string work, HMAC). Numeric and date masks stay in the statement: cheap, and their types
 * (HUGEINT, DECIMAL …) need not survive a Parquet round trip.
 */
const CARRIED: ReadonlySet<Mask['kind']> = new Set([
  'keyed_hash',
  'show_first_n',
  'show_last_n',
  'email_domain',
  'custom',
]);

const int = (n: number): string => {
  if (!Number.isSafeInteger(n)) throw new Error('not an integer');
  return String(n);
};

function maskSql(m: Mask, bind: (v: Value) => string, key: () => HashKey): string {
  const c = quoteIdent(m.column);
  const text = `CAST(${c} AS VARCHAR)`;
  switch (m.kind) {
    case 'redact':
      return `CAST(${bind(m.replacement)} AS VARCHAR)`;
    case 'show_first_n':
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE left(${text}, ${int(m.n)}) || repeat('*', greatest(length(${text}) - ${int(m.n)}, 0)) END`;
    case 'show_last_n':
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE repeat('*', greatest(length(${text}) - ${int(m.n)}, 0)) || right(${text}, ${int(m.n)}) END`;
    case 'keyed_hash': {
      const k = key();
      // HMAC-SHA256(key, utf8(value)) = SHA256(key⊕opad ‖ SHA256(key⊕ipad ‖ value)).
      return `sha256(unhex(${bind(k.outer)}) || unhex(sha256(unhex(${bind(k.inner)}) || encode(${text}))))`;
    }
    case 'null':
      return `CASE WHEN false THEN ${c} END`;
    case 'date_to_year':
      return `make_date(year(${c}), 1, 1)`;
    case 'date_to_month':
      return `make_date(year(${c}), month(${c}), 1)`;
    case 'round':
      return m.bucket !== undefined
        ? `floor(CAST(${c} AS DOUBLE) / ${bind(m.bucket)}) * ${bind(m.bucket)}`
        : `round(${c}, ${int(m.digits ?? 0)})`;
    case 'custom':
      return customSql(parseCustom(m.expression), c, bind);
    case 'email_domain':
      return `CASE WHEN ${c} IS NULL THEN NULL WHEN strpos(${text}, '@') > 0 THEN '*@' || regexp_extract(${text}, '@([^@]*)$', 1) ELSE '[redacted]' END`;
  }
}

/**
 * The plan for one reader over one dataset from the policies that target it and select the
 * reader. Two policies masking the same column (possible only when a tag was added after both
 * were saved) refuse the read — never one silently winning.
 */
export function compilePlan(
  applicable: readonly ApplicablePolicy[],
  reader: Actor,
  prefix: string,
  key: () => HashKey,
): RelationPlan {
  const params: Record<string, Value> = {};
  let n = 0;
  const bind = (v: Value): string => {
    const name = `${prefix}m${n++}`;
    params[name] = v;
    return `$${name}`;
  };
  const why: ReadWhy = { masked: {}, hidden: {}, filteredBy: [] };
  const hidden = new Map<string, string>();
  for (const p of applicable)
    for (const h of p.body.hide) {
      const lc = h.toLowerCase();
      if (!hidden.has(lc)) hidden.set(lc, h);
      (why.hidden[hidden.get(lc)!] ??= []).push(p.name);
    }
  const masks = new Map<string, { mask: Mask; by: string }>();
  for (const p of applicable)
    for (const m of p.body.masks) {
      const lc = m.column.toLowerCase();
      if (hidden.has(lc)) continue;
      const prior = masks.get(lc);
      if (prior)
        throw new AppError('CONFLICT', {
          detail: `Policies "${prior.by}" and "${p.name}" both mask column "${m.column}" for you; a steward must resolve this before the dataset can be read.`,
        });
      masks.set(lc, { mask: m, by: p.name });
      why.masked[m.column] = [p.name];
    }
  let cacheId: string | undefined;
  const replace = [...masks.values()].map(({ mask }) => {
    const sql = maskSql(mask, bind, key);
    if (!CARRIED.has(mask.kind)) return { column: mask.column, sql };
    if (mask.kind === 'keyed_hash') cacheId = key().id;
    // What the values are, never the key: the mask as saved, or the key's one-way fingerprint.
    const carry = mask.kind === 'keyed_hash' ? `keyed_hash ${key().id}` : JSON.stringify(mask);
    return { column: mask.column, sql, cacheable: true, carry };
  });
  const where: string[] = [];
  for (const p of applicable)
    if (p.filter) {
      where.push(filterSql(p.filter, (a) => readerValue(reader, a), `${prefix}f${where.length}_`, params));
      why.filteredBy.push(p.name);
    }
  for (const p of applicable)
    if (p.body.minGroupSize !== undefined) {
      why.threshold ??= { minGroupSize: p.body.minGroupSize, by: [] };
      why.threshold.minGroupSize = Math.max(why.threshold.minGroupSize, p.body.minGroupSize);
      why.threshold.by.push(p.name);
    }
  return { exclude: [...hidden.values()], replace, where, params, why, ...(cacheId ? { cacheId } : {}) };
}
