/**
 * fast-check arbitraries for requests to one OpenAPI operation: path parameters (plausible,
 * traversal, unicode, huge, empty, wrong types, broken escapes), query strings, bodies
 * (valid-shaped from the schema, mutated, random JSON, malformed, bytes) and header lies.
 */
import fc from 'fast-check';

type Schema = Record<string, unknown>;

const LOCAL = 'http://127.0.0.1:9/';

export interface Operation {
  method: string;
  /** OpenAPI path template, e.g. `/api/v1/workspaces/{ws}/drives/{name}`. */
  template: string;
  query: { name: string; schema: Schema }[];
  /** Media types of the request body (empty: none declared). */
  media: string[];
  jsonSchema?: Schema;
}

export type Role = 'owner' | 'viewer' | 'operator' | 'none';

export interface Generated {
  role: Role;
  method: string;
  pathParams: Record<string, string>;
  rawPath: boolean;
  query: [string, string][];
  body: { contentType: string | undefined; text: string | Buffer };
  headerLie: string;
}

const refOf = (doc: Schema, s: Schema): Schema => {
  if (typeof s.$ref !== 'string') return s;
  const parts = s.$ref.replace(/^#\//, '').split('/');
  let cur: unknown = doc;
  for (const p of parts) cur = (cur as Schema)[p];
  return (cur as Schema) ?? {};
};

/** Values that have the schema's shape (not always valid: patterns and formats are approximated). */
export function shaped(doc: Schema, raw: Schema, depth = 0): fc.Arbitrary<unknown> {
  const s = refOf(doc, raw);
  // A schema that is not an object (`true`, or a parameter without one) allows anything: a string will do.
  if (s === null || typeof s !== 'object') return fc.string({ maxLength: 40 });
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  const alts = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (alts && alts.length > 0) return fc.oneof(...alts.map((a) => shaped(doc, a, depth + 1)));
  if (Array.isArray(s.allOf) && s.allOf.length > 0) return shaped(doc, s.allOf[0] as Schema, depth + 1);
  const type = Array.isArray(s.type) ? (s.type[0] as string) : (s.type as string | undefined);
  if (depth > 6) return fc.constant(null);
  switch (type) {
    case 'string': {
      const min = typeof s.minLength === 'number' ? s.minLength : 0;
      const max = typeof s.maxLength === 'number' ? Math.min(s.maxLength, min + 40) : min + 24;
      if (s.format === 'email') return fc.emailAddress();
      if (s.format === 'uuid') return fc.uuid();
      if (s.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
      if (typeof s.pattern === 'string') {
        const fits = (v: string) =>
          v.length >= min && v.length <= (typeof s.maxLength === 'number' ? s.maxLength : 1e6);
        try {
          return fc.stringMatching(new RegExp(s.pattern)).filter(fits);
        } catch {
          // Patterns fast-check cannot generate from (lookaheads): any string of the length.
        }
      }
      return fc.string({ minLength: min, maxLength: Math.max(min, max) });
    }
    case 'integer':
      return fc.integer({
        min: typeof s.minimum === 'number' ? s.minimum : -1000,
        max: typeof s.maximum === 'number' ? s.maximum : 100_000,
      });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(shaped(doc, (s.items as Schema) ?? {}, depth + 1), {
        minLength: typeof s.minItems === 'number' ? s.minItems : 0,
        maxLength: Math.max(typeof s.minItems === 'number' ? s.minItems : 0, 3),
      });
    case 'object':
    case undefined: {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      if (Object.keys(props).length === 0)
        return type ? fc.dictionary(fc.string({ maxLength: 8 }), fc.string()) : fc.jsonValue({ maxDepth: 2 });
      const required = new Set((s.required as string[] | undefined) ?? []);
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      // Anything that names a place to connect to points at a closed local port (traffic stays on 127.0.0.1).
      for (const [k, v] of Object.entries(props))
        model[k] = /endpoint|url|uri|host|connection/i.test(k) ? fc.constant(LOCAL) : shaped(doc, v, depth + 1);
      return fc.record(model, { requiredKeys: [...required].filter((k) => k in props) });
    }
    default:
      return fc.jsonValue({ maxDepth: 1 });
  }
}

/** A shaped value broken in one place: a field dropped, retyped, oversized, or a prototype key added. */
function mutated(base: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const wrong = fc.oneof(
    fc.constantFrom(null, true, -1, 1e308, '', [], {}, 'x'.repeat(70_000), '\u0000', '../../etc/passwd'),
    fc.jsonValue({ maxDepth: 2 }),
  );
  return fc
    .tuple(base, fc.nat(), wrong, fc.constantFrom('drop', 'retype', 'proto', 'extra', 'deep'))
    .map(([v, i, w, how]) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return w;
      const o = { ...(v as Record<string, unknown>) };
      const keys = Object.keys(o);
      const k = keys.length ? keys[i % keys.length]! : 'x';
      if (how === 'drop') delete o[k];
      else if (how === 'retype') o[k] = w;
      else if (how === 'extra') o[`unexpected_${i % 7}`] = w;
      else if (how === 'deep') o[k] = JSON.parse('['.repeat(2000) + ']'.repeat(2000)) as unknown;
      else
        return JSON.parse(
          `{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},${JSON.stringify(o).slice(1)}`.replace(
            /,}$/,
            '}',
          ),
        ) as unknown;
      return o;
    });
}

const TRAVERSAL = [
  '..',
  '.',
  '../../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e',
  '..\\..\\windows',
  '%00',
  'a/../b',
];
const WRONG_TYPES = ['-1', '0', '1e309', 'NaN', 'true', 'null', '0x10', '99999999999999999999999', '1.5', '[]', '{}'];
const BROKEN_ESCAPES = ['%', '%zz', '%c3%28', '%ff%fe', '%u0041'];

function pathParam(plausible: string): fc.Arbitrary<{ value: string; raw: boolean }> {
  const enc = (a: fc.Arbitrary<string>) => a.map((value) => ({ value: encodeURIComponent(value), raw: false }));
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant({ value: encodeURIComponent(plausible).replace(/%2F/g, '/'), raw: false }) },
    { weight: 2, arbitrary: fc.constantFrom(...TRAVERSAL).map((value) => ({ value, raw: true })) },
    { weight: 2, arbitrary: enc(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 })) },
    { weight: 1, arbitrary: enc(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 })) },
    { weight: 1, arbitrary: fc.constantFrom(300, 5000, 20_000).map((n) => ({ value: 'a'.repeat(n), raw: false })) },
    { weight: 1, arbitrary: fc.constant({ value: '', raw: false }) },
    { weight: 2, arbitrary: fc.constantFrom(...WRONG_TYPES).map((value) => ({ value, raw: false })) },
    { weight: 1, arbitrary: fc.constantFrom(...BROKEN_ESCAPES).map((value) => ({ value, raw: true })) },
  );
}

function queryPairs(op: Operation, doc: Schema): fc.Arbitrary<[string, string][]> {
  const declared = op.query.map((q) =>
    fc.tuple(
      fc.constant(q.name),
      fc.oneof(
        shaped(doc, q.schema).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))),
        fc.constantFrom(...WRONG_TYPES, '', 'x'.repeat(10_000), '%zz'),
      ),
    ),
  );
  const junk = fc.tuple(
    fc.constantFrom('__proto__', 'constructor', 'a[b]', 'limit', 'x', ''),
    fc.string({ maxLength: 10 }),
  );
  return fc.array(fc.oneof(...declared, junk), { maxLength: 4 });
}

function bodyOf(op: Operation, doc: Schema): fc.Arbitrary<Generated['body']> {
  const json = (a: fc.Arbitrary<unknown>) =>
    a.map((v) => ({ contentType: 'application/json', text: JSON.stringify(v) ?? 'null' }));
  const base = op.jsonSchema ? shaped(doc, op.jsonSchema) : fc.jsonValue({ maxDepth: 2 });
  const broken = fc.oneof(
    json(fc.jsonValue({ maxDepth: 3 })),
    base.map((v) => ({ contentType: 'application/json', text: JSON.stringify(v)?.slice(0, -1) ?? '{' })),
    fc
      .constantFrom('', 'null', '{"a":', '\u0000', '{"a":1,"a":2}')
      .map((text) => ({ contentType: 'application/json', text })),
    fc.uint8Array({ maxLength: 256 }).map((b) => ({ contentType: 'application/octet-stream', text: Buffer.from(b) })),
    fc.constant({
      contentType: 'multipart/form-data; boundary=fz',
      text: '--fz\r\nContent-Disposition: form-data; name="file"; filename="../../x"\r\n\r\nabc\r\n--fz--\r\n',
    }),
    fc.constant({ contentType: undefined, text: '' }),
  );
  return fc.oneof(
    { weight: op.jsonSchema ? 4 : 1, arbitrary: json(base) },
    { weight: op.jsonSchema ? 3 : 1, arbitrary: json(mutated(base)) },
    { weight: 3, arbitrary: broken },
  );
}

export function operationArb(
  op: Operation,
  doc: Schema,
  plausible: (param: string) => string,
): fc.Arbitrary<Generated> {
  const params = [...op.template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  const pathArb = fc.tuple(...params.map((p) => pathParam(plausible(p))));
  return fc
    .record({
      role: fc.constantFrom<Role>('owner', 'owner', 'viewer', 'operator', 'none'),
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(op.method) },
        { weight: 1, arbitrary: fc.constantFrom('PATCH', 'OPTIONS', 'HEAD', 'PROPFIND') },
      ),
      pathParts: pathArb,
      query: queryPairs(op, doc),
      body: bodyOf(op, doc),
      headerLie: fc.oneof(
        { weight: 6, arbitrary: fc.constant('none') },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            'content-type text/plain',
            'content-type duplicated',
            'csrf duplicated',
            'auth duplicated',
          ),
        },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            'content-length short',
            'content-length not a number',
            'huge cookie',
            'many cookies',
            'charset utf-16',
            'transfer-encoding twice',
          ),
        },
      ),
    })
    .map(({ pathParts, ...rest }) => ({
      ...rest,
      pathParams: Object.fromEntries(params.map((p, i) => [p, pathParts[i]!.value])),
      rawPath: pathParts.some((p) => p.raw),
    }));
}
