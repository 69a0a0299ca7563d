/**
 * The kill -9 suite at its CI budget: one round (seed 23) of every durable write in flight at once
 * (uploads, resumable completion, secrets, policy saves, key and root-key rotation, rewrap, backup),
 * SIGKILL, restart on the same data, every invariant checked (see reliability/kill9.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSuite } from './helpers/reliability.ts';

test(
  'reliability kill9: one seeded round; after restart audit verifies, nothing acknowledged lost, nothing partial',
  { timeout: 600_000 },
  async (t) => {
    // The crypto-shredding phase runs in test/reliability-kill9-shred.test.ts (the budget split).
    const { fields, out, code } = await runSuite(t, 'kill9', ['--rounds', '1', '--no-shred', '--seed', '23']);
    assert.equal(fields.tried, '1');
    assert.equal(fields.failed, '0', out.slice(-6000));
    assert.equal(fields.passed, '1');
    assert.equal(fields.checks, '1');
    assert.equal(code, 0);
  },
);
