/**
 * The recovery key as Shamir shares (the root key's scheme, core/crypto/shamir.ts): exported once
 * (audited, the shares never in the trail), any threshold of them restores a backup without the
 * root key; too few, repeated or foreign shares are refused with a clear error and nothing is
 * restored; the CLI writes 0600 share files and restores from them.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createLocalDriver } from '../src/adapters/blob/local.ts';
import { splitSecret } from '../src/core/crypto/shamir.ts';
import { restoreInstallation } from '../src/modules/backups/index.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { runCli } from './helpers/cli.ts';
import { createWorkspace, jsonBody } from './helpers/identity.ts';

type Any = any;
const body = (r: { json(): unknown }): Any => r.json();
let app: TestApp;
let scratch: string;
let shares: string[] = [];
let backupId = '';
let driveDir = '';

before(async () => {
  app = await startTestApp('pglite');
  scratch = await mkdtemp(path.join(os.tmpdir(), 'sr-shares-'));
  await createWorkspace(app, 'ops');
  await app.server.drives.ensureDefaults();
  driveDir = path.join(app.config.STRONGROOM_HOME, 'drives', 'ops', 'default');
  const t = await app.asOperator(
    '/api/v1/backups/targets',
    jsonBody({ name: 'local', workspace: 'ops', drive: 'default', prefix: 'bk' }),
  );
  assert.equal(t.status, 201, t.body);
});
after(async () => {
  await app?.close();
  await rm(scratch, { recursive: true, force: true });
});

test('shares are exported once, audited without their text; the plain key is then refused', async () => {
  const bad = await app.asOperator('/api/v1/backups/recovery-key/shares', jsonBody({ shares: 2, threshold: 3 }));
  assert.equal(bad.status, 422);
  assert.match(bad.body, /threshold cannot exceed/);
  const r = await app.asOperator('/api/v1/backups/recovery-key/shares', jsonBody({ shares: 5, threshold: 3 }));
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['cache-control'], 'no-store');
  shares = body(r).shares;
  assert.equal(shares.length, 5);
  assert.ok(shares.every((s) => s.startsWith('srs1-')));
  await expectAudit(app, {
    action: 'backups.recovery-key.export',
    details: { shares: 5, threshold: 3 },
    mustNotContain: shares.map((s) => s.slice(5)),
  });
  assert.equal((await app.asOperator('/api/v1/backups/recovery-key', { method: 'POST' })).status, 409);
  const again = await app.asOperator('/api/v1/backups/recovery-key/shares', jsonBody({ shares: 5, threshold: 3 }));
  assert.equal(again.status, 409);
  assert.match(body(again).detail, /never shown twice/);
  const created = await app.asOperator('/api/v1/backups', jsonBody({}));
  assert.equal(created.status, 201, created.body);
  backupId = body(created).id;
  assert.equal(body(created).recoveryWrapped, true);
});

test('any three shares restore the backup; two, a repeated or a foreign share are refused', async () => {
  const drive = createLocalDriver({ root: driveDir });
  const source = { driver: drive, folder: `bk/${backupId}` };
  const refuse = async (given: string[], expected: RegExp) => {
    const home = path.join(scratch, `refused-${Math.random().toString(16).slice(2)}`);
    await assert.rejects(
      restoreInstallation({ source, home, key: { recoveryShares: given } }),
      (err: { detail?: string }) => expected.test(err.detail ?? ''),
    );
    assert.ok(!existsSync(path.join(home, 'db')), 'nothing restored');
  };
  await refuse([shares[0]!, shares[1]!], /3 shares are needed, 2 given/);
  await refuse([shares[0]!, shares[1]!, shares[1]!], /repeats an earlier share/);
  const other = (await splitSecret(Buffer.alloc(32, 7), { shares: 5, threshold: 3 })).shares;
  await refuse([other[0]!, other[1]!, other[2]!], /do not reconstruct the expected key/);

  const home = path.join(scratch, 'restored');
  const r = await restoreInstallation({ source, home, key: { recoveryShares: [shares[4]!, shares[0]!, shares[2]!] } });
  assert.equal(r.backupId, backupId);
  assert.ok(existsSync(path.join(home, 'root.key')), 'a new root key: the old one was not needed');
  assert.notDeepEqual(await readFile(path.join(home, 'root.key')), await readFile(path.join(app.home, 'root.key')));
});

test('the CLI restores from share files', async () => {
  const files: string[] = [];
  for (const i of [1, 3, 4]) {
    const f = path.join(scratch, `share-${i}.txt`);
    await writeFile(f, `${shares[i]}\n`, { mode: 0o600 });
    files.push(f);
  }
  const home = path.join(scratch, 'cli-restored');
  const r = runCli(
    [
      'backup',
      'restore',
      '--from',
      path.join(driveDir, 'bk', backupId),
      '--home',
      home,
      '--recovery-share-file',
      ...files,
    ],
    {},
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).backupId, backupId);
  assert.equal((await stat(path.join(home, 'root.key'))).mode & 0o777, 0o600);
  const both = runCli(
    [
      'backup',
      'restore',
      '--from',
      path.join(driveDir, 'bk', backupId),
      '--home',
      `${home}2`,
      '--recovery-share-file',
      files[0]!,
      '--recovery-key-file',
      files[1]!,
    ],
    {},
  );
  assert.notEqual(both.status, 0);
  assert.match(both.stderr, /exactly one of/);
});
