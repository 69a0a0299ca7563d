/**
 * `strongroom retention|hold|workspace terminate|user export|erase` as the operator runs them
 * against a running server; every step lands in the audit trail and `audit verify` passes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, runCli, startServe } from './helpers/cli.ts';

test('retention, holds and termination through the CLI, audited, audit verify green', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-retention-cli-'));
  const env = {
    STRONGROOM_HOME: path.join(dir, 'data'),
    STRONGROOM_HTTPS_PORT: String(await freePort()),
    STRONGROOM_HTTP_PORT: 'off',
    STRONGROOM_METRICS_PORT: 'off',
  };
  try {
    assert.equal(runCli(['init'], env).status, 0);
    const serve = await startServe(env);
    try {
      const show = runCli(['retention', 'show'], env);
      assert.equal(show.status, 0, show.stderr);
      assert.equal(JSON.parse(show.stdout).classes.audit, 365);
      const dry = runCli(['retention', 'set', 'audit', '30', '--dry-run'], env);
      assert.equal(dry.status, 0, dry.stderr);
      assert.equal(JSON.parse(dry.stdout).classes.audit, 30);
      assert.match(dry.stderr, /audit: no event would be pruned/);
      assert.match(dry.stderr, /30 days is below 365/);
      assert.equal(JSON.parse(runCli(['retention', 'show'], env).stdout).classes.audit, 365, 'a dry run saves nothing');
      const set = runCli(['retention', 'set', 'audit', '400'], env);
      assert.equal(set.status, 0, set.stderr);
      assert.equal(JSON.parse(set.stdout).classes.audit, 400);
      assert.notEqual(runCli(['retention', 'set', 'audit', 'forever'], env).status, 0);

      const add = runCli(['hold', 'add', 'workspace', 'default', '--reason', 'audit by the regulator'], env);
      assert.equal(add.status, 0, add.stderr);
      const holdId = JSON.parse(add.stdout).id as string;
      assert.match(runCli(['hold', 'list'], env).stdout, new RegExp(holdId));
      assert.equal(runCli(['hold', 'remove', holdId], env).status, 0);

      const term = runCli(['workspace', 'terminate', 'default'], env);
      assert.equal(term.status, 0, term.stderr);
      assert.equal(JSON.parse(term.stdout).graceDays, 60);
      assert.equal(runCli(['workspace', 'cancel-termination', 'default'], env).status, 0);

      const missing = runCli(
        ['user', 'export', '00000000-0000-4000-8000-000000000000', '--out', path.join(dir, 'x.json')],
        env,
      );
      assert.notEqual(missing.status, 0);
      assert.match(missing.stderr, /No such user/);
      const purge = runCli(['retention', 'purge'], env);
      assert.equal(purge.status, 0, purge.stderr);
      assert.equal(JSON.parse(purge.stdout).audit.events, 0, 'nothing is a year old');

      const tail = runCli(['audit', 'tail', '-n', '100'], env).stdout;
      for (const action of [
        'retention.settings.update',
        'retention.hold.create',
        'retention.hold.release',
        'retention.workspace.terminate',
        'retention.workspace.cancel-termination',
        'retention.purge.run',
      ])
        assert.match(tail, new RegExp(action.replaceAll('.', '\\.')), action);
    } finally {
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0);
    }
    const verify = runCli(['audit', 'verify'], env);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
