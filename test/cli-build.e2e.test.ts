/**
 * The two ways the `strongroom` command runs: the JavaScript build (`dist/server/`, what
 * `npm start` runs and what the other end-to-end suites spawn, since `npm test` builds it first)
 * and the TypeScript sources through tsx (the fallback while the build is stale or missing).
 * `bin/` picks the build only while it is newer than every source file and the lockfile.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
// @ts-expect-error: plain JavaScript next to the command's entry point, no declarations.
import { freshServerBuild } from '../bin/server-build.js';
import { inheritedEnv } from './helpers/cli.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'sr-cli-build-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(entry: string[], args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [...entry, ...args], {
    env: { ...inheritedEnv(), ...env },
    encoding: 'utf8',
    timeout: 240_000, // a hang guard, not a timing claim
  });
  return { status: r.status ?? -1, out: r.stdout + r.stderr };
}

describe('the strongroom command, built and from sources', () => {
  test('npm test runs the other suites against a fresh build', () => {
    const b = spawnSync(process.execPath, ['scripts/build-server.mjs', '--if-stale'], { cwd: root, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stdout + b.stderr);
    const entry = freshServerBuild(root) as string | undefined;
    assert.equal(entry, path.join(root, 'dist', 'server', 'strongroom.mjs'));
  });

  test('the build runs by itself: help, and a usage error exits 2 without a stack trace', () => {
    const entry = [path.join(root, 'dist', 'server', 'strongroom.mjs')];
    const help = run(entry, ['--help'], {});
    assert.equal(help.status, 0, help.out);
    assert.match(help.out, /Usage: strongroom/);
    const bad = run(entry, ['frobnicate'], {});
    assert.equal(bad.status, 2, bad.out);
    assert.match(bad.out, /unknown command/);
    assert.doesNotMatch(bad.out, /\n\s+at /, 'no stack trace');
  });

  test('the sources through tsx: init prepares a data directory and its audit trail verifies offline', () => {
    const entry = ['--import', 'tsx', path.join(root, 'src', 'strongroom.ts')];
    const env = { STRONGROOM_HOME: path.join(tmp, 'home') };
    const init = run(entry, ['init'], env);
    assert.equal(init.status, 0, init.out);
    const verify = run(entry, ['audit', 'verify'], env);
    assert.equal(verify.status, 0, verify.out);
    assert.match(verify.out, /verified/i);
    const bad = run(entry, ['frobnicate'], env);
    assert.equal(bad.status, 2, bad.out);
    assert.doesNotMatch(bad.out, /\n\s+at /, 'no stack trace');
  });

  test('bin/ takes the build only while it is newer than every source file and the lockfile', () => {
    const fake = path.join(tmp, 'checkout');
    mkdirSync(path.join(fake, 'src', 'deep'), { recursive: true });
    mkdirSync(path.join(fake, 'dist', 'server'), { recursive: true });
    const at = (p: string, s: number) => utimesSync(path.join(fake, p), s, s);
    writeFileSync(path.join(fake, 'src', 'deep', 'a.ts'), '');
    writeFileSync(path.join(fake, 'package-lock.json'), '{}');
    assert.equal(freshServerBuild(fake), undefined, 'no build: the sources');
    writeFileSync(path.join(fake, 'dist', 'server', 'built.json'), '{}');
    at('src/deep/a.ts', 1_000);
    at('package-lock.json', 1_000);
    at('dist/server/built.json', 2_000);
    assert.equal(freshServerBuild(fake), path.join(fake, 'dist', 'server', 'strongroom.mjs'));
    at('src/deep/a.ts', 3_000);
    assert.equal(freshServerBuild(fake), undefined, 'a source edited after the build');
    at('src/deep/a.ts', 1_000);
    at('package-lock.json', 3_000);
    assert.equal(freshServerBuild(fake), undefined, 'dependencies changed after the build');
  });
});
