/**
 * Identity through the real CLI (PGlite data directory): init creates the first owner (password
 * rules apply), login stores the session 0600 in $XDG_CONFIG_HOME, and the owner is held to MFA
 * enrolment; --help on each new command.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, runCli, startServe } from './helpers/cli.ts';

test('init --admin-email, login --password-file, credentials 0600, owner must enrol MFA', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-idcli-'));
  const env = {
    STRONGROOM_HOME: path.join(dir, 'data'),
    STRONGROOM_HTTPS_PORT: String(await freePort()),
    STRONGROOM_HTTP_PORT: 'off',
    STRONGROOM_METRICS_PORT: 'off',
    XDG_CONFIG_HOME: path.join(dir, 'cfg'),
  };
  try {
    await writeFile(path.join(dir, 'weak'), 'short\n');
    const weak = runCli(
      ['init', '--admin-email', 'root@corp.test', '--admin-password-file', path.join(dir, 'weak')],
      env,
    );
    assert.equal(weak.status, 2, weak.stderr);
    assert.match(weak.stderr, /at least 15/);
    await writeFile(path.join(dir, 'pw'), 'a long and quiet harbour at dawn\n', { mode: 0o600 });
    const init = runCli(
      ['init', '--admin-email', 'root@corp.test', '--admin-password-file', path.join(dir, 'pw')],
      env,
    );
    assert.equal(init.status, 0, init.stderr);
    assert.match(init.stdout, /root@corp\.test created as owner/);
    const serve = await startServe(env);
    try {
      const login = runCli(['login', '--email', 'root@corp.test', '--password-file', path.join(dir, 'pw')], env);
      assert.equal(login.status, 0, login.stderr);
      assert.match(login.stdout, /requires MFA/);
      const st = await stat(path.join(dir, 'cfg', 'strongroom', 'credentials.json'));
      assert.equal(st.mode & 0o777, 0o600);
      const list = runCli(['user', 'list'], env);
      assert.equal(list.status, 1);
      assert.match(list.stderr, /MFA_REQUIRED/);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    for (const cmd of [['login'], ['user', 'add'], ['token', 'create'], ['token', 'revoke']]) {
      const h = runCli([...cmd, '--help'], env);
      assert.equal(h.status, 0, cmd.join(' '));
      assert.match(h.stdout, /Usage: strongroom/);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
