/**
 * Peers (PostgreSQL, sslscan, SoftHSM2…) are real processes. When one is missing a suite skips
 * loudly — unless STRONGROOM_TEST_STRICT=1 (CI), where a missing peer fails the run.
 */
import type { TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';

export const STRICT = process.env.STRONGROOM_TEST_STRICT === '1';

/** Returns true when the test may go on; otherwise skipped (or failed in strict mode). */
export function requirePeer(t: TestContext, peer: string, available: boolean, hint: string): boolean {
  if (available) return true;
  const msg = `PEER MISSING: ${peer} — ${hint}`;
  if (STRICT) throw new Error(`${msg} (STRONGROOM_TEST_STRICT=1 forbids skipping)`);
  process.stderr.write(`\n*** SKIPPED: ${msg} ***\n`);
  t.skip(msg);
  return false;
}

export function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
