/**
 * The kill -9 suite at its CI budget: one round (seed 23) of every durable write in flight at once
 * (uploads, resumable completion, secrets, policy saves, key and root-key rotation, rewrap, backup),
 * SIGKILL, restart on the same data, every invariant checked (see reliability/kill9.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSuite } from './helpers/reliability.ts';

test(
  'reliability kill9: one seeded round and the shred phase; after restart audit verifies, nothing acknowledged lost, nothing partial',
  { timeout: 300_000 },
  async (t) => {
    const { fields, out, code } = await runSuite(t, 'kill9', ['--rounds', '1', '--seed', '23']);
    // One round, then the crypto-shredding phase (key destruction and restore, each killed).
    assert.equal(fields.tried, '2');
    assert.equal(fields.failed, '0', out.slice(-6000));
    assert.equal(fields.passed, '2');
    assert.equal(fields.checks, '2');
    assert.equal(code, 0);
  },
);
