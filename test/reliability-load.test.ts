/**
 * The load suite at its CI budget: 10 s of the mixed workload at concurrency 8 (seed 23) against a
 * real server process. No 5xx, every request answered, no 4xx but rate limits. Throughput, latency
 * and memory are reported (docs/reliability.md), never asserted: no timing thresholds in tests.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSuite } from './helpers/reliability.ts';

test('reliability load: a mixed workload without a 5xx or an unanswered request', { timeout: 300_000 }, async (t) => {
  const { fields, out, code } = await runSuite(t, 'load', ['--seconds', '10', '--concurrency', '8', '--seed', '23']);
  assert.ok(Number(fields.tried) > 0);
  assert.equal(fields.err5xx, '0', out.slice(-4000));
  assert.equal(fields.failed, '0', out.slice(-4000));
  assert.equal(code, 0);
});
