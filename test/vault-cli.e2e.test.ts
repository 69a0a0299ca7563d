/**
 * The vault through the real CLI against a real HTTPS server (PGlite): `secret put` from stdin
 * and from a file, `get`, `list`, `history`, `delete`/`undelete`, `rollback`, `destroy` with
 * re-authentication from files, and `run` injecting secrets into a child's environment only.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cliAsync } from './helpers/cli.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { GOOD_PASSWORD, ownerSession, totpNow } from './helpers/identity.ts';

let app: TestApp;
let dir: string;
let env: Record<string, string>;
let totpSecret: string;

const cli = (args: string[], input?: string) => cliAsync(args, env, input);

before(async () => {
  app = await startTestApp('pglite');
  dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-vaultcli-'));
  const { session, secret } = await ownerSession(app, 'cli-owner@corp.test');
  totpSecret = secret;
  const cfg = path.join(dir, 'cfg');
  await mkdir(path.join(cfg, 'strongroom'), { recursive: true, mode: 0o700 });
  await writeFile(
    path.join(cfg, 'strongroom', 'credentials.json'),
    JSON.stringify({
      baseUrl: `${app.base}/`,
      ca: app.ca,
      session: session.id,
      csrf: session.csrf,
      email: 'cli-owner@corp.test',
    }),
    { mode: 0o600 },
  );
  env = { XDG_CONFIG_HOME: cfg, STRONGROOM_HOME: path.join(dir, 'home') };
});
after(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

test('secret put/get/list/history/delete/undelete/rollback/destroy and run, values never on argv', async () => {
  const canary = 'cli-canary-5b7e1d';
  const put = await cli(['secret', 'put', 'app/db', '--type', 'password', '--tag', 'prod'], `${canary}\n`);
  assert.equal(put.status, 0, put.stderr);
  assert.match(put.stdout, /app\/db: version 1 \(new secret\)/);
  await writeFile(path.join(dir, 'v2'), 'second-cli-value\n', { mode: 0o600 });
  assert.equal(
    (await cli(['secret', 'put', 'app/db', '--type', 'password', '--value-file', path.join(dir, 'v2'), '--cas', '1']))
      .status,
    0,
  );
  const conflict = await cli(['secret', 'put', 'app/db', '--type', 'password', '--cas', '1'], 'x\n');
  assert.equal(conflict.status, 1);
  assert.match(conflict.stderr, /409 CONFLICT/);
  await writeFile(
    path.join(dir, 's3.json'),
    JSON.stringify({ provider: 's3', accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 's3-secret-value' }),
  );
  assert.equal(
    (await cli(['secret', 'put', 'app/s3', '--type', 'cloud-credential', '--value-file', path.join(dir, 's3.json')]))
      .status,
    0,
  );

  const get = await cli(['secret', 'get', 'app/db']);
  assert.equal(get.status, 0, get.stderr);
  assert.equal(get.stdout, 'second-cli-value\n');
  assert.equal((await cli(['secret', 'get', 'app/db', '--at', '1'])).stdout, `${canary}\n`);
  assert.equal((await cli(['secret', 'get', 'app/s3', '--field', 'secretAccessKey'])).stdout, 's3-secret-value\n');

  const list = await cli(['secret', 'list', 'app/']);
  assert.match(list.stdout, /app\/db {2}password {2}v2/);
  assert.ok(!list.stdout.includes(canary));
  const hist = await cli(['secret', 'history', 'app/db']);
  assert.match(hist.stdout, /v1 {2}live/);
  assert.ok(!hist.stdout.includes(canary));

  assert.match((await cli(['secret', 'delete', 'app/db'])).stdout, /deleted version\(s\) 2/);
  assert.equal((await cli(['secret', 'get', 'app/db'])).status, 1);
  assert.match((await cli(['secret', 'undelete', 'app/db', '--versions', '2'])).stdout, /undeleted version\(s\) 2/);
  assert.match(
    (await cli(['secret', 'rollback', 'app/db', '--to', '1'])).stdout,
    /version 3 now holds the value of version 1/,
  );

  // run: the child sees the values; nothing is printed by strongroom itself.
  const run = await cli([
    'run',
    '--secret',
    'DB_PASSWORD=app/db',
    'S3_KEY=app/s3:secretAccessKey',
    '--',
    process.execPath,
    '-e',
    'process.stdout.write(process.env.DB_PASSWORD + "|" + process.env.S3_KEY); process.exit(7)',
  ]);
  assert.equal(run.status, 7, run.stderr);
  assert.equal(run.stdout, `${canary}|s3-secret-value`);
  assert.ok(!run.stderr.includes(canary));
  const files = await readdir(dir, { recursive: true });
  for (const f of files) {
    const p = path.join(dir, f);
    const text = await readFile(p, 'utf8').catch(() => '');
    assert.ok(!text.includes(canary), `${f} holds the value`);
  }
  assert.equal((await cli(['run', '--secret', 'bad-name=app/db', '--', 'true'])).status, 2);

  // destroy needs re-authentication: simulate an old proof by moving it back, then confirm from files.
  await app.server.database.db
    .updateTable('sessions')
    .set({ authenticated_at: new Date(Date.now() - 3600_000) })
    .execute();
  await writeFile(path.join(dir, 'pw'), `${GOOD_PASSWORD}\n`, { mode: 0o600 });
  await writeFile(path.join(dir, 'code'), `${totpNow(totpSecret, Date.now() + 30_000)}\n`, { mode: 0o600 });
  const destroy = await cli([
    'secret',
    'destroy',
    'app/db',
    '--versions',
    '1',
    '--password-file',
    path.join(dir, 'pw'),
    '--totp-file',
    path.join(dir, 'code'),
  ]);
  assert.equal(destroy.status, 0, destroy.stderr);
  assert.match(destroy.stdout, /destroyed version\(s\) 1/);
  assert.equal((await cli(['secret', 'get', 'app/db', '--at', '1'])).status, 1);
  for (const cmd of [['secret', 'put'], ['secret', 'get'], ['run']]) {
    const h = await cli([...cmd, '--help']);
    assert.equal(h.status, 0, cmd.join(' '));
    assert.match(h.stdout, /Usage: strongroom/);
  }
});
