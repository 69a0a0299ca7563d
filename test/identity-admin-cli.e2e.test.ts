/**
 * Member administration through the real CLI against a real HTTPS server (PGlite), signed in as
 * an admin of region eu without clearance: `user disable` then `user enable` (the user signs in again), `user
 * attributes` refused above the admin's own clearance (exit 1, the rule's words) and accepted
 * within it, `user list` with the last sign-in.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { cliAsync } from './helpers/cli.ts';
import { createUser, enrolMfa, login } from './helpers/identity.ts';

let app: TestApp;
let dir: string;
let env: Record<string, string>;
const cli = (args: string[]) => cliAsync(args, env);

before(async () => {
  app = await startTestApp('pglite');
  dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-admincli-'));
  await createUser(app, 'admin-cli@corp.test', { role: 'admin', attributes: { region: 'eu', department: 'Finance' } });
  const { session } = await enrolMfa(app, await login(app, 'admin-cli@corp.test'));
  const cfg = path.join(dir, 'cfg');
  await mkdir(path.join(cfg, 'strongroom'), { recursive: true, mode: 0o700 });
  await writeFile(
    path.join(cfg, 'strongroom', 'credentials.json'),
    JSON.stringify({
      baseUrl: `${app.base}/`,
      ca: app.ca,
      session: session.id,
      csrf: session.csrf,
      email: 'admin-cli@corp.test',
    }),
    { mode: 0o600 },
  );
  env = { XDG_CONFIG_HOME: cfg, STRONGROOM_HOME: path.join(dir, 'home') };
});
after(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

test('user disable, enable, attributes (within the role rules) and list with the last sign-in', async () => {
  const u = await createUser(app, 'carl@corp.test', { role: 'analyst' });
  await login(app, 'carl@corp.test');
  const disabled = await cli(['user', 'disable', u.id]);
  assert.equal(disabled.status, 0, disabled.stderr);
  await assert.rejects(login(app, 'carl@corp.test'), /401/);
  const enabled = await cli(['user', 'enable', u.id]);
  assert.equal(enabled.status, 0, enabled.stderr);
  assert.match(enabled.stdout, new RegExp(`enabled ${u.id}`));
  await login(app, 'carl@corp.test');
  await expectAudit(app, { action: 'identity.user.enable', outcome: 'success', resource: { id: u.id } });

  const high = await cli(['user', 'attributes', u.id, '--clearance', '2']);
  assert.equal(high.status, 1);
  assert.match(high.stderr, /clearance only up to your own/);
  const ok = await cli(['user', 'attributes', u.id, '--region', 'eu', '--department', 'Finance', '--clearance', '0']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /region=eu/);
  assert.match(ok.stdout, /department=Finance/);

  const list = await cli(['user', 'list']);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /carl@corp\.test {2}active {2}analyst {2}mfa=off {2}last-sign-in=\d{4}-/);
  for (const cmd of [
    ['user', 'enable'],
    ['user', 'attributes'],
  ]) {
    const h = await cli([...cmd, '--help']);
    assert.equal(h.status, 0, cmd.join(' '));
  }
});
