/**
 * The db-faults suite at its CI budget: three rounds (backends terminated mid-transaction, a real
 * `pg_ctl restart -m immediate`, the database not answering), seed 23, on a throwaway database in
 * a private PostgreSQL cluster the suite starts (as root; otherwise the shared one, without the
 * restart), reached through the suite's TCP proxy.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postgresAvailable } from './helpers/db.ts';
import { requirePeer } from './helpers/peers.ts';
import { runSuite } from './helpers/reliability.ts';
import { privateClusterMissing } from '../reliability/lib/pg-private.ts';

test(
  'reliability db-faults: 503 while down, recovery without restart, nothing partial, fail-closed audit',
  { timeout: 300_000 },
  async (t) => {
    if (!requirePeer(t, 'PostgreSQL', await postgresAvailable(), 'start it: pg_ctlcluster 15 main start')) return;
    // Without a private cluster the suite still runs, but never restarts PostgreSQL: in strict
    // mode that lost coverage is a failure, not a quiet fallback.
    const missing = privateClusterMissing();
    if (!requirePeer(t, 'a private PostgreSQL cluster (real restart)', missing === undefined, missing ?? '')) return;
    const { fields, out, code } = await runSuite(t, 'db-faults', ['--rounds', '3', '--seed', '23']);
    assert.match(out, /private PostgreSQL cluster on 127\.0\.0\.1:\d+/, 'the restart round ran on a private cluster');
    assert.equal(fields.tried, '3');
    assert.equal(fields.failed, '0', out.slice(-6000));
    assert.equal(fields.passed, '3');
    assert.equal(code, 0);
  },
);
