/**
 * Runs one reliability suite (`npm run reliability -- <suite> …`) as a separate process in its own
 * network namespace and returns its result line's fields, for the suites' small CI tests.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { inheritedEnv } from './cli.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export async function runSuite(
  t: TestContext,
  suite: string,
  args: string[],
): Promise<{ fields: Record<string, string>; out: string; code: number | null }> {
  const child = spawn(process.execPath, ['scripts/run-reliability.mjs', suite, ...args], {
    cwd: ROOT,
    env: inheritedEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const last = out.trim().split('\n').at(-1) ?? '';
  t.diagnostic(last);
  assert.match(
    last,
    new RegExp(`^reliability-${suite}: tried=\\d+ passed=\\d+ failed=\\d+( [a-z0-9_]+=\\S+)*$`),
    out.slice(-4000),
  );
  const fields = Object.fromEntries(
    last
      .slice(`reliability-${suite}: `.length)
      .split(' ')
      .map((kv) => kv.split('=') as [string, string]),
  );
  return { fields, out, code };
}
