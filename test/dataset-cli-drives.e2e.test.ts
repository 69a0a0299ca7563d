/**
 * The dataset CLI on every cloud drive kind (s3rver, Azurite, the project's GCS server): a
 * streamed upload, a resumable upload in parallel parts, the versions list, a whole download
 * (byte-identical, SHA-256 verified) and a ranged download, against the real server over HTTPS.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { cliCredentials, cliIn } from './helpers/cli.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { jsonBody, ownerSession } from './helpers/identity.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3Peer } from './peers/s3/s3rver.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type AzuritePeer } from './peers/azurite/azurite.ts';
import { startGcsPeer, type GcsPeer } from './peers/gcs/gcs-peer.ts';
import { registerServiceAccount } from './peers/gcs/service-account.ts';

let app: TestApp | undefined;
let s3: S3Peer | undefined;
let az: AzuritePeer | undefined;
let gcs: GcsPeer | undefined;
let dir: string;
let env: Record<string, string>;

before(async () => {
  [s3, az, gcs] = await Promise.all([startS3rver(['lake']), startAzurite(), startGcsPeer({ buckets: ['gcs-bucket'] })]);
  await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('datasets').create();
  app = await startTestApp('pglite', {
    env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
  });
  const { session } = await ownerSession(app, 'drives-cli@corp.test');
  const drives = [
    {
      name: 'lake',
      kind: 's3',
      config: { bucket: 'lake', endpoint: s3.endpoint, pathStyle: true },
      credentials: { provider: 's3', ...S3RVER_CREDENTIALS },
    },
    {
      name: 'blob',
      kind: 'azure',
      config: { container: 'datasets', endpoint: az.blobEndpoint },
      credentials: { provider: 'azure', kind: 'account-key', accountName: AZURITE_ACCOUNT, accountKey: AZURITE_KEY },
    },
    {
      name: 'gcs',
      kind: 'gcs',
      config: { bucket: 'gcs-bucket', endpoint: gcs.url },
      credentials: {
        provider: 'gcs',
        kind: 'service-account',
        serviceAccount: await registerServiceAccount(gcs, { access: 'write' }),
      },
    },
  ];
  for (const d of drives) {
    const added = await session.req('/api/v1/workspaces/default/drives', jsonBody(d));
    assert.equal(added.status, 201, added.body);
  }
  dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-dsdrives-'));
  env = await cliCredentials(dir, app, session, 'drives-cli@corp.test');
});
after(async () => {
  await app?.close();
  await Promise.all([s3?.stop(), az?.stop(), gcs?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => cliIn(dir, args, { env });

for (const drive of ['lake', 'blob', 'gcs']) {
  test(`CLI on the ${drive} drive: streamed and resumable uploads, versions, whole and ranged downloads`, async () => {
    const one = randomBytes(700 * 1024 + 5);
    const two = randomBytes(1024 * 1024 + 77);
    await writeFile(path.join(dir, `${drive}-1.bin`), one);
    await writeFile(path.join(dir, `${drive}-2.bin`), two);
    const up1 = await cli(['dataset', 'upload', `on-${drive}`, `${drive}-1.bin`, '--drive', drive, '--quiet']);
    assert.equal(up1.status, 0, up1.stderr);
    const up2 = await cli([
      'dataset',
      'upload',
      `on-${drive}`,
      `${drive}-2.bin`,
      '--drive',
      drive,
      '--resumable',
      '--part-size',
      '0.25',
      '--parallel',
      '3',
    ]);
    assert.equal(up2.status, 0, up2.stderr);
    assert.match(up2.stdout.toString(), new RegExp(`^on-${drive}: version 2 `));
    assert.match(up2.stderr, /joining and verifying/);

    const versions = JSON.parse((await cli(['dataset', 'versions', `on-${drive}`, '--json'])).stdout.toString()) as {
      versions: { version: number; size: number; drive: string }[];
    };
    assert.deepEqual(
      versions.versions.map((v) => [v.version, v.size, v.drive]),
      [
        [1, one.length, drive],
        [2, two.length, drive],
      ],
    );

    const [whole, ranged] = await Promise.all([
      cli(['dataset', 'download', `on-${drive}`, '-o', `${drive}-out.bin`, '--quiet']),
      cli(['dataset', 'download', `on-${drive}`, '--at', '1', '--range', '65530-131080', '-o', '-', '--quiet']),
    ]);
    assert.equal(whole.status, 0, whole.stderr);
    assert.ok(
      (await readFile(path.join(dir, `${drive}-out.bin`))).equals(two),
      'the resumable version downloads byte-identical',
    );
    assert.equal(ranged.status, 0, ranged.stderr);
    assert.ok(
      ranged.stdout.equals(one.subarray(65530, 131081)),
      'a range across segment boundaries of the streamed version',
    );
  });
}
