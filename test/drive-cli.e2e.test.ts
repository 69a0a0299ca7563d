/**
 * `strongroom drive` through the real CLI against a real HTTPS server (PGlite) and s3rver: list
 * with the default drive, test a definition (secret from stdin, never argv), a wrong secret
 * exiting 1 with DRIVE_AUTH_FAILED and its hint, add (test first), show without credentials,
 * re-test a saved drive, remove.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cliAsync } from './helpers/cli.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { ownerSession } from './helpers/identity.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3Peer } from './peers/s3/s3rver.ts';

let app: TestApp;
let s3: S3Peer;
let dir: string;
let env: Record<string, string>;

const cli = (args: string[], input?: string) => cliAsync(args, env, input);

before(async () => {
  s3 = await startS3rver(['cli-bucket']);
  app = await startTestApp('pglite', {
    env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
  });
  dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-drivecli-'));
  const { session } = await ownerSession(app, 'drive-cli@corp.test');
  const cfg = path.join(dir, 'cfg');
  await mkdir(path.join(cfg, 'strongroom'), { recursive: true, mode: 0o700 });
  await writeFile(
    path.join(cfg, 'strongroom', 'credentials.json'),
    JSON.stringify({
      baseUrl: `${app.base}/`,
      ca: app.ca,
      session: session.id,
      csrf: session.csrf,
      email: 'drive-cli@corp.test',
    }),
    { mode: 0o600 },
  );
  env = { XDG_CONFIG_HOME: cfg, STRONGROOM_HOME: path.join(dir, 'home') };
});
after(async () => {
  await app?.close();
  await s3?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('drive list/test/add/show/test/remove with the secret on stdin', async () => {
  const list = await cli(['drive', 'list']);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /^default \(default\) {2}local/m);

  const args = [
    '--kind',
    's3',
    '--bucket',
    'cli-bucket',
    '--endpoint',
    s3.endpoint,
    '--path-style',
    '--access-key-id',
    S3RVER_CREDENTIALS.accessKeyId,
  ];
  const wrong = await cli(['drive', 'test', 'lake', ...args], 'not-the-secret\n');
  assert.equal(wrong.status, 1);
  assert.match(wrong.stdout, /✗ Credentials are accepted: the storage service rejected the credentials/);
  assert.match(wrong.stdout, /hint: Check the access key id and secret/);
  assert.match(wrong.stdout, /Drive test failed: DRIVE_AUTH_FAILED/);
  assert.equal(
    (await cli(['drive', 'add', 'lake', ...args], 'not-the-secret\n')).status,
    1,
    'add refuses what test refuses',
  );

  const ok = await cli(['drive', 'test', 'lake', ...args], `${S3RVER_CREDENTIALS.secretAccessKey}\n`);
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /✓ A probe object can be written/);
  assert.match(ok.stdout, /- CORS \(browser uploads straight to the bucket\): informational/);
  assert.doesNotMatch(ok.stdout, /CORS rules to add/, 'no rules to paste for uploads the console does not make');
  const add = await cli(
    ['drive', 'add', 'lake', ...args, '--description', 'the lake'],
    `${S3RVER_CREDENTIALS.secretAccessKey}\n`,
  );
  assert.equal(add.status, 0, add.stdout + add.stderr);
  assert.match(add.stdout, /Drive lake added; credentials in vault secret drives\/lake\/credentials/);

  const show = await cli(['drive', 'show', 'lake']);
  assert.equal(show.status, 0, show.stderr);
  assert.match(show.stdout, /bucket: cli-bucket/);
  assert.match(show.stdout, /credentials: vault secret drives\/lake\/credentials/);
  assert.ok(!show.stdout.includes(S3RVER_CREDENTIALS.secretAccessKey + '\n') && !/secretAccessKey/.test(show.stdout));
  const retest = await cli(['drive', 'test', 'lake']);
  assert.equal(retest.status, 0, retest.stdout);
  assert.match((await cli(['drive', 'list'])).stdout, /^lake {2}s3 {2}cli-bucket {2}healthy/m);

  const madeDefault = await cli(['drive', 'default', 'lake']);
  assert.equal(madeDefault.status, 0, madeDefault.stderr);
  assert.match(madeDefault.stdout, /^Default drive: lake \(was default\)\.$/m);
  assert.match((await cli(['drive', 'default', 'default'])).stdout, /Default drive: default \(was lake\)/);

  const noStdin = await cli(['drive', 'test', 'x', '--kind', 's3', '--bucket', 'b']);
  assert.equal(noStdin.status, 2, 'S3 without credentials is a usage error');
  const removed = await cli(['drive', 'remove', 'lake']);
  assert.equal(removed.status, 0, removed.stderr);
  assert.match(removed.stdout, /removed and its stored credentials destroyed/);
  assert.equal((await cli(['drive', 'show', 'lake'])).status, 1);
});
