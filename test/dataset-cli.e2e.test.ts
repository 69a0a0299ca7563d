/**
 * `strongroom dataset …`, `key export` and `decrypt` through the real CLI against a real HTTPS
 * server (PGlite, the local default drive): streamed upload of a file (progress lines on a
 * non-terminal stderr) and of a directory (one dataset per file), list/versions, whole download
 * (byte-identical, SHA-256 verified, atomic), to stdout, a range, deletions; then the exit path:
 * the key export, and `decrypt` of the raw object file from the drive with the server stopped and
 * an empty environment, plus a wrong key file failing with exit 1 and no output.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cliCredentials, cliIn } from './helpers/cli.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { GOOD_PASSWORD, ownerSession, totpNow } from './helpers/identity.ts';

let app: TestApp | undefined;
let dir: string;
let env: Record<string, string>;
let totpSecret = '';

const cli = (args: string[], o: { env?: Record<string, string>; input?: Buffer; bare?: boolean } = {}) =>
  cliIn(dir, args, { ...o, env: { ...env, ...o.env } });

async function findFile(root: string, name: string): Promise<string | undefined> {
  for (const e of await readdir(root, { withFileTypes: true })) {
    const p = path.join(root, e.name);
    if (e.isDirectory()) {
      const found = await findFile(p, name);
      if (found) return found;
    } else if (e.name === name) return p;
  }
  return undefined;
}

before(async () => {
  app = await startTestApp('pglite');
  dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-dscli-'));
  const { session, secret } = await ownerSession(app, 'dataset-cli@corp.test');
  totpSecret = secret;
  env = await cliCredentials(dir, app, session, 'dataset-cli@corp.test');
});
after(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

test('dataset upload/list/versions/download/delete, key export, decrypt without a server', async () => {
  const big = randomBytes(5 * 1024 * 1024 + 123);
  await writeFile(path.join(dir, 'big.bin'), big);
  const up = await cli(['dataset', 'upload', 'raw', 'big.bin', '--tag', 'finance', '--description', 'raw bytes']);
  assert.equal(up.status, 0, up.stderr);
  assert.match(up.stdout.toString(), /^raw: version 1 {2}5\.0 MiB {2}sha256 [0-9a-f]{64}/);
  const lines = up.stderr.split('\n').filter((l) => l.startsWith('upload raw: '));
  assert.ok(lines.length >= 3, `plain progress lines on a non-terminal stderr:\n${up.stderr}`);
  assert.match(lines.at(-1)!, /of 5\.0 MiB \(100%\), .*\/s$/);
  assert.ok(!up.stderr.includes('\u001b['), 'no terminal escapes when stderr is not a terminal');

  const tree = path.join(dir, 'tree');
  await mkdir(path.join(tree, 'sub'), { recursive: true });
  await writeFile(path.join(tree, 'a.csv'), 'id,name\n1,alice\n2,bob\n');
  await writeFile(path.join(tree, 'sub', 'b.txt'), 'hello\n');
  const upDir = await cli(['dataset', 'upload', 'lake', 'tree', '--quiet']);
  assert.equal(upDir.status, 0, upDir.stderr);
  assert.match(upDir.stdout.toString(), /^lake--a\.csv: version 1 .*\(a\.csv\)$/m);
  assert.match(upDir.stdout.toString(), /^lake--sub--b\.txt: version 1 .*\(sub\/b\.txt\)$/m);
  assert.match(upDir.stdout.toString(), /2 of 2 file\(s\) uploaded/);
  await writeFile(path.join(tree, 'bad name.txt'), 'x');
  const refused = await cli(['dataset', 'upload', 'lake', 'tree', '--quiet']);
  assert.equal(refused.status, 2, 'a file name that cannot be a dataset name refuses the whole directory');
  assert.match(refused.stderr, /bad name\.txt → lake--bad name\.txt/);

  const [list, searched, versionsRun] = await Promise.all([
    cli(['dataset', 'list']),
    cli(['dataset', 'list', '--search', 'lake', '--json']),
    cli(['dataset', 'versions', 'raw', '--json']),
  ]);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout.toString(), /^raw {2}v1 {2}1 version\(s\) {2}5\.0 MiB {2}\[finance\] {2}raw bytes$/m);
  assert.match(list.stdout.toString(), /^lake--a\.csv {2}v1 /m);
  assert.deepEqual(
    JSON.parse(searched.stdout.toString()).map((d: { name: string }) => d.name),
    ['lake--a.csv', 'lake--sub--b.txt'],
  );
  const versions = JSON.parse(versionsRun.stdout.toString()) as {
    versions: { version: number; size: number; sha256: string }[];
  };
  assert.equal(versions.versions.length, 1);
  assert.equal(versions.versions[0]!.size, big.length);

  const [down, toStdout, ranged] = await Promise.all([
    cli(['dataset', 'download', 'raw', '-o', 'out.bin']),
    cli(['dataset', 'download', 'raw', '--at', '1', '-o', '-', '--quiet']),
    cli(['dataset', 'download', 'raw', '--range', '70000-200000', '-o', 'part.bin', '--quiet']),
  ]);
  assert.equal(down.status, 0, down.stderr);
  assert.match(down.stderr, /written to out\.bin \(SHA-256 verified\)/);
  assert.ok((await readFile(path.join(dir, 'out.bin'))).equals(big), 'byte-identical');
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.endsWith('.part')),
    [],
    'no temporary file left',
  );
  assert.equal(toStdout.status, 0, toStdout.stderr);
  assert.ok(toStdout.stdout.equals(big), 'stdout carries exactly the bytes');
  assert.equal(ranged.status, 0, ranged.stderr);
  assert.ok((await readFile(path.join(dir, 'part.bin'))).equals(big.subarray(70000, 200001)));

  // The exit path: export the keys (operator, through the running server), keep the raw object.
  const opEnv = {
    STRONGROOM_HOME: app!.home,
    STRONGROOM_HTTPS_PORT: String(app!.server.httpsPort),
    STRONGROOM_HTTP_PORT: 'off',
    STRONGROOM_METRICS_PORT: 'off',
    STRONGROOM_TLS_CERT_FILE: path.join(app!.home, 'cert.pem'),
    STRONGROOM_TLS_KEY_FILE: path.join(app!.home, 'key.pem'),
  };
  const exp = await cli(['key', 'export', '--workspace', 'default', '--out', 'keys.json'], { env: opEnv });
  assert.equal(exp.status, 0, exp.stderr);
  assert.match(exp.stdout.toString(), /3 object key\(s\) of workspace default written to keys\.json \(mode 0600\)/);
  assert.match(exp.stderr, /as sensitive as the data itself/);
  assert.equal((await stat(path.join(dir, 'keys.json'))).mode & 0o777, 0o600);
  const keys = JSON.parse(await readFile(path.join(dir, 'keys.json'), 'utf8')) as {
    workspaceId: string;
    objects: { dataset: string; objectId: string; objectKey: string; dataKey: string; sha256: string }[];
  };
  const entry = keys.objects.find((e) => e.dataset === 'raw')!;
  assert.equal(entry.sha256, versions.versions[0]!.sha256);
  const stored = await findFile(path.join(app!.home, 'drives'), entry.objectId);
  assert.ok(stored?.endsWith(entry.objectKey), `the object is in the local drive at ${entry.objectKey}`);
  await copyFile(stored!, path.join(dir, 'object.bin'));
  // The event may still be pending (recorded, not yet chained into audit_events) when the CLI returns.
  await app!.server.audit.chainPending();
  const audit = await app!.server.database.db
    .selectFrom('audit_events')
    .select(['action', 'outcome'])
    .where('action', '=', 'keys.workspace.export')
    .execute();
  assert.deepEqual(
    audit.map((a) => a.outcome),
    ['success'],
    'the export is audited',
  );

  const edit = await cli([
    'dataset',
    'edit',
    'raw',
    '--tag',
    'finance',
    '--tag',
    'q3',
    '--description',
    'raw bytes v2',
  ]);
  assert.equal(edit.status, 0, edit.stderr);
  assert.match(edit.stdout.toString(), /^raw: tags \[finance,q3\] {2}raw bytes v2$/m);
  assert.equal((await cli(['dataset', 'edit', 'raw'])).status, 2, 'nothing to change is a usage error');

  // Deletions need a recent sign-in: an old proof makes the CLI ask (here: from files) and retry.
  await app!.server.database.db
    .updateTable('sessions')
    .set({ authenticated_at: new Date(Date.now() - 3600_000) })
    .execute();
  await writeFile(path.join(dir, 'pw'), `${GOOD_PASSWORD}\n`, { mode: 0o600 });
  await writeFile(path.join(dir, 'code'), `${totpNow(totpSecret, Date.now() + 30_000)}\n`, { mode: 0o600 });
  const reauthFiles = ['--password-file', path.join(dir, 'pw'), '--totp-file', path.join(dir, 'code')];
  const delVersion = await cli(['dataset', 'delete', 'raw', '--at', '1', ...reauthFiles]);
  const [noYes, whole] = await Promise.all([
    cli(['dataset', 'delete', 'lake--a.csv']),
    cli(['dataset', 'delete', 'lake--sub--b.txt', '--yes']),
  ]);
  assert.equal(delVersion.status, 0, delVersion.stderr);
  assert.match(delVersion.stdout.toString(), /raw: deleted version \(version\(s\) 1\)/);
  assert.equal(noYes.status, 2);
  assert.match(noYes.stderr, /add --yes/);
  assert.equal(whole.status, 0, whole.stderr);
  assert.match(whole.stdout.toString(), /lake--sub--b\.txt: deleted the dataset \(version\(s\) 1\)/);
  assert.equal(
    await findFile(path.join(app!.home, 'drives'), entry.objectId),
    undefined,
    "the deleted version's object is gone from the drive",
  );

  // Server stopped, empty environment: only the key file and the object bytes.
  await app!.close();
  app = undefined;
  const object = await readFile(path.join(dir, 'object.bin'));
  const wrong = { ...keys, objects: keys.objects.map((e) => ({ ...e, dataKey: randomBytes(32).toString('base64') })) };
  await writeFile(path.join(dir, 'wrong.json'), JSON.stringify(wrong));
  const damaged = Buffer.from(object);
  damaged[damaged.length - 100]! ^= 1;
  const keyFile = path.join(dir, 'keys.json');
  const [plain, bad, torn] = await Promise.all([
    cli(['decrypt', '--key-file', keyFile, '--object-id', entry.objectId], { bare: true, input: object }),
    cli(['decrypt', '--key-file', path.join(dir, 'wrong.json')], { bare: true, input: object }),
    cli(['decrypt', '--key-file', keyFile], { bare: true, input: damaged }),
  ]);
  assert.equal(plain.status, 0, plain.stderr);
  assert.ok(plain.stdout.equals(big), 'decrypt gives back the original bytes');
  assert.match(plain.stderr, /decrypted raw version 1: \d+ bytes, SHA-256 verified/);
  assert.equal(bad.status, 1);
  assert.equal(bad.stdout.length, 0, 'nothing written');
  assert.match(bad.stderr, /no key in the key file matches this object/);
  assert.equal(torn.status, 1, 'found by key commitment, then fails at the damaged segment');
  assert.match(torn.stderr, /decryption failed .*the output is incomplete/);
  assert.ok(torn.stdout.length < big.length, 'a damaged last segment is never written');
});
