/**
 * The kill -9 suite's crypto-shredding phase at its CI budget (seed 23; reliability/kill9-shred.ts):
 * SIGKILL into the confirmation of a workspace key's destruction, then into `strongroom backup
 * restore` of a backup taken before it. Each is done or not done, never half; the restored
 * installation keeps the key destroyed and its trail verifies.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSuite } from './helpers/reliability.ts';

test(
  'reliability kill9 shred phase: key destruction and restore killed, each done or not, never half',
  { timeout: 600_000 },
  async (t) => {
    const { fields, out, code } = await runSuite(t, 'kill9', ['--rounds', '0', '--seed', '23']);
    assert.equal(fields.tried, '1');
    assert.equal(fields.failed, '0', out.slice(-6000));
    assert.equal(fields.passed, '1');
    assert.equal(code, 0);
  },
);
