/**
 * The fuzz suite at a small budget, so every CI run covers it: `npm run reliability -- fuzz`
 * (every OpenAPI operation; owner, viewer, operator and no credentials) with a fixed seed, run as
 * a separate process in its own network namespace. It must end with its result line and no failure.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { inheritedEnv } from './helpers/cli.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SEED = 23;
const BUDGET = 300;

test(`reliability fuzz: ${BUDGET} requests, seed ${SEED}, no 5xx, hang, non-problem error, leak or refused change`, async (t) => {
  const child = spawn(
    process.execPath,
    ['scripts/run-reliability.mjs', 'fuzz', '--budget', String(BUDGET), '--seed', String(SEED)],
    { cwd: ROOT, env: inheritedEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const last = out.trim().split('\n').at(-1) ?? '';
  t.diagnostic(last);
  assert.match(last, /^reliability-fuzz: tried=\d+ passed=\d+ failed=\d+ seed=\d+$/, out.slice(-3000));
  const [, tried, passed, failed] = /tried=(\d+) passed=(\d+) failed=(\d+)/.exec(last)!;
  assert.equal(Number(tried), BUDGET);
  assert.equal(Number(failed), 0, out.slice(-6000));
  assert.equal(Number(passed), BUDGET);
  assert.equal(code, 0);
});
