import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError, ERROR_TABLE, toProblem } from './errors.ts';

test('every code maps to a 4xx/5xx status and a title', () => {
  for (const [code, { status, title }] of Object.entries(ERROR_TABLE)) {
    assert.ok(status >= 400 && status < 600, code);
    assert.ok(title.length > 3, code);
  }
});

test('problem body follows RFC 9457 and carries only safe fields', () => {
  const err = new AppError('VALIDATION_FAILED', {
    detail: 'bad',
    meta: { issues: [1], status: 999 },
    cause: new Error('internal secret'),
  });
  const p = toProblem(err, 'req-1');
  assert.deepEqual(p, {
    type: 'urn:strongroom:problem:validation-failed',
    title: ERROR_TABLE.VALIDATION_FAILED.title,
    status: 422,
    code: 'VALIDATION_FAILED',
    detail: 'bad',
    requestId: 'req-1',
    issues: [1],
  });
  assert.ok(!JSON.stringify(p).includes('internal secret'));
});
