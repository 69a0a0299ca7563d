/**
 * The drive-faults suite at its CI budget: every fault of reliability/drive-faults.ts once, each
 * on one of the S3 (s3rver), Azure (Azurite) and GCS (the project's peer) drives behind the fault
 * proxy, the drive turning with the fault (`--sample`), seed 23. No open finding is left (`known=0`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSuite } from './helpers/reliability.ts';

test(
  'reliability drive-faults: retried when transient, 5xx-class problem when not, nothing partial, resumable',
  { timeout: 300_000 },
  async (t) => {
    const { fields, out, code } = await runSuite(t, 'drive-faults', ['--sample', '--seed', '23']);
    assert.equal(fields.tried, '12');
    assert.equal(fields.failed, '0', out.slice(-6000));
    assert.equal(fields.known, '0', 'no open finding is left in KNOWN');
    assert.equal(fields.passed, '12');
    assert.equal(code, 0);
  },
);
