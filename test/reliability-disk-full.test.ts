/**
 * The disk-full suite at its CI budget (seed 23): the local drives on a 16 MiB tmpfs, filled; a
 * 507 problem and nothing partial for an upload, a part and a backup; reads served meanwhile;
 * everything resumes once space is freed. Mounting needs root.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requirePeer } from './helpers/peers.ts';
import { runSuite } from './helpers/reliability.ts';

test(
  'reliability disk-full: 507 when full, nothing partial, reads served, recovery when space returns',
  { timeout: 300_000 },
  async (t) => {
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    if (!requirePeer(t, 'root (to mount a small tmpfs)', root, 'run the tests as root')) return;
    const { fields, out, code } = await runSuite(t, 'disk-full', ['--seed', '23']);
    assert.equal(fields.tried, '7');
    assert.equal(fields.failed, '0', out.slice(-6000));
    assert.equal(fields.passed, '7');
    assert.equal(code, 0);
  },
);
