/** Secret paths and typed values, as properties (fast-check) and known cases; no server needed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MAX_PATH_DEPTH, MAX_PATH_LENGTH, pathProblem } from '../src/contracts/vault.ts';
import { prepareValue, sealIdOf } from '../src/modules/vault/index.ts';

const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/).filter((s) => s !== '.' && s !== '..');

test('every accepted path is plain: no control characters, no dot segments, no empty segments, bounded', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 260 }), (p) => {
      if (pathProblem(p) !== undefined) return;
      assert.ok(p.length <= MAX_PATH_LENGTH);
      assert.ok(!/[\u0000-\u001f\u007f#\\\s%]/.test(p));
      const segs = p.split('/');
      assert.ok(segs.length <= MAX_PATH_DEPTH);
      assert.ok(segs.every((s) => s.length > 0 && s !== '.' && s !== '..'));
    }),
    { numRuns: 5000 },
  );
});

test('well-formed paths are accepted and their row ids never collide', () => {
  fc.assert(
    fc.property(
      fc.array(segment, { minLength: 1, maxLength: 5 }),
      fc.array(segment, { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 1, max: 1e6 }),
      fc.integer({ min: 1, max: 1e6 }),
      (a, b, va, vb) => {
        const pa = a.join('/');
        const pb = b.join('/');
        assert.equal(pathProblem(pa), undefined);
        if (pa !== pb || va !== vb) assert.notEqual(sealIdOf('ws', pa, va), sealIdOf('ws', pb, vb));
      },
    ),
  );
});

test('known bad paths', () => {
  for (const p of [
    '',
    '/a',
    'a/',
    'a//b',
    '..',
    'a/../b',
    './a',
    'a/.',
    'a b',
    'a\nb',
    'a\u0000b',
    'a#1',
    'a\\b',
    'ä',
    'a'.repeat(65),
    `${'a/'.repeat(10)}a`,
    'x'.repeat(201),
  ]) {
    assert.ok(pathProblem(p), JSON.stringify(p));
  }
});

test('typed values: sizes, control characters and certificates are checked without quoting the input', () => {
  assert.throws(
    () => prepareValue('password', { password: 'p\u0007w' }),
    (e: Error & { detail?: string }) => !String(e.detail).includes('p\u0007w'),
  );
  assert.throws(
    () =>
      prepareValue('certificate', {
        certificate: '-----BEGIN CERTIFICATE-----\nsecretjunk\n-----END CERTIFICATE-----',
      }),
    (e: Error & { detail?: string }) =>
      /certificate/.test(String(e.detail)) && !String(e.detail).includes('secretjunk'),
  );
  assert.equal(prepareValue('generic', { data: { a: 'b' } }).json.length > 0, true);
});
