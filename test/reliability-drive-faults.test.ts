/**
 * The drive-faults suite at its CI budget: every fault of reliability/drive-faults.ts once, on the
 * S3 (s3rver) and Azure (Azurite) drives behind the fault proxy, seed 23.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSuite } from './helpers/reliability.ts';

test(
  'reliability drive-faults: retried when transient, 5xx-class problem when not, nothing partial, resumable',
  { timeout: 300_000 },
  async (t) => {
    const { fields, out, code } = await runSuite(t, 'drive-faults', ['--repeat', '1', '--seed', '23']);
    assert.equal(fields.tried, '24');
    assert.equal(fields.failed, '0', out.slice(-6000));
    assert.equal(fields.passed, '24');
    assert.equal(code, 0);
  },
);
