/**
 * The canary suite at its CI budget (seed 23): canaries planted in secret values, passwords, a
 * drive key, an API token, the TOTP seed and masked dataset cells; no hit on any output surface
 * (logs, audit, task logs, answers, OpenAPI, /metrics, data directory files, database dump).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSuite } from './helpers/reliability.ts';

test('reliability canary: no planted canary on any output surface', { timeout: 300_000 }, async (t) => {
  const { fields, out, code } = await runSuite(t, 'canary', ['--seed', '23']);
  assert.equal(fields.tried, '9');
  assert.equal(fields.hits, '0', out.slice(-6000));
  assert.equal(fields.failed, '0', out.slice(-6000));
  assert.equal(fields.canaries, '8');
  assert.equal(code, 0);
});
