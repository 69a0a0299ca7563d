import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalBytes, canonicalJson, CanonicalJsonError, MAX_DEPTH } from './canonical.ts';

test('sorts keys at every depth, no whitespace, JSON.stringify escapes', () => {
  const value = { b: [3, { z: null, a: true }], a: 'x"\\\n\u0001é', '10': 1, '9': -0, c: { y: 1.5e-7, x: 1e21 } };
  assert.equal(
    canonicalJson(value),
    '{"10":1,"9":0,"a":"x\\"\\\\\\n\\u0001é","b":[3,{"a":true,"z":null}],"c":{"x":1e+21,"y":1.5e-7}}',
  );
});

test('keys sort by UTF-16 code units, as RFC 8785 requires', () => {
  assert.equal(canonicalJson({ '\u{1F600}': 1, '\uFB01': 2, a: 3, B: 4 }), '{"B":4,"a":3,"\u{1F600}":1,"\uFB01":2}');
});

test('output is UTF-8; lone surrogates are escaped so the bytes stay valid UTF-8', () => {
  assert.deepEqual(canonicalBytes('é'), Buffer.from([0x22, 0xc3, 0xa9, 0x22]));
  assert.equal(canonicalJson('\ud800x'), '"\\ud800x"');
  assert.equal(canonicalJson('\u{1F600}'), '"\u{1F600}"');
});

test('rejects values with no single JSON meaning, naming where', () => {
  const cases: Array<[unknown, string]> = [
    [{ a: { b: Number.NaN } }, '$.a.b'],
    [{ a: Infinity }, '$.a'],
    [{ a: undefined }, '$.a'],
    [[1, , 3], '$[1]'],
    [{ d: new Date(0) }, '$.d'],
    [{ m: new Map() }, '$.m'],
    [{ b: Buffer.from('x') }, '$.b'],
    [{ n: 1n }, '$.n'],
    [{ f: () => 1 }, '$.f'],
    [[{ s: Symbol('x') }], '$[0].s'],
    [undefined, '$'],
  ];
  for (const [value, path] of cases) {
    assert.throws(
      () => canonicalJson(value),
      (err: unknown) => err instanceof CanonicalJsonError && err.path === path,
      path,
    );
  }
});

test('rejects nesting deeper than MAX_DEPTH and reference cycles', () => {
  let deep: unknown = 1;
  for (let i = 0; i < MAX_DEPTH; i++) deep = [deep];
  assert.doesNotThrow(() => canonicalJson(deep));
  assert.throws(() => canonicalJson([deep]), CanonicalJsonError);
  const cycle: Record<string, unknown> = {};
  cycle['self'] = cycle;
  assert.throws(() => canonicalJson(cycle), CanonicalJsonError);
});

test('accepts null-prototype objects like plain ones', () => {
  const o = Object.assign(Object.create(null) as object, { b: 1, a: 2 });
  assert.equal(canonicalJson(o), '{"a":2,"b":1}');
});

/** Rebuilds `v` with every object's keys inserted in a shuffled order. */
function shuffleKeys(v: unknown, order: number[]): unknown {
  if (Array.isArray(v)) return v.map((x) => shuffleKeys(x, order));
  if (v === null || typeof v !== 'object') return v;
  const shuffled = Object.entries(v)
    .map((entry, i) => ({ entry, k: order[i % order.length] ?? 0 }))
    .sort((a, b) => a.k - b.k)
    .map(({ entry: [key, x] }) => [key, shuffleKeys(x, order)] as const);
  return Object.fromEntries(shuffled); // defines own keys, "__proto__" included
}

const jsonValue = fc.jsonValue({ maxDepth: 5 });

test('property: key insertion order never changes the output', () => {
  fc.assert(
    fc.property(jsonValue, fc.array(fc.integer(), { minLength: 1, maxLength: 8 }), (v, order) => {
      assert.equal(canonicalJson(shuffleKeys(v, order)), canonicalJson(v));
    }),
    { numRuns: 500, examples: [[{ ['__proto__']: false, b: [{ y: 1, x: 2 }], a: 0 }, [3, 1, 2]]] },
  );
});

test('property: output parses back to the same data and is a fixed point', () => {
  fc.assert(
    fc.property(jsonValue, (v) => {
      const text = canonicalJson(v);
      const back: unknown = JSON.parse(text);
      assert.equal(canonicalJson(back), text);
      assert.deepEqual(back, JSON.parse(JSON.stringify(v)));
    }),
    { numRuns: 500 },
  );
});

test('property: strings encode exactly as UTF-8 of JSON.stringify', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      assert.deepEqual(canonicalBytes(s), Buffer.from(JSON.stringify(s), 'utf8'));
    }),
    { numRuns: 1000 },
  );
});
