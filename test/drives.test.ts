/**
 * Drives (C7) through the HTTPS API on both backends, against real peers: the default local
 * drive; mounting s3rver and Azurite drives (test, add, list, show, re-test, remove); each
 * diagnosis failure mode with its own code; SSRF refusals without the allowlist; credentials
 * never in any answer, log, audit row or database dump (canary); bad input as 4xx problem+json.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';
import { createUser, jsonBody, login, ownerSession, type Session } from './helpers/identity.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3Peer } from './peers/s3/s3rver.ts';
import { startGcsPeer, type GcsPeer } from './peers/gcs/gcs-peer.ts';
import { registerServiceAccount, serviceAccountKey } from './peers/gcs/service-account.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type AzuritePeer } from './peers/azurite/azurite.ts';

const D = '/api/v1/workspaces/default/drives';
const CANARY_SECRET = 'CANARY-drive-secret-7f3a9c1e5b';

interface DiagnosisBody {
  ok: boolean;
  code?: string;
  steps: { id: string; status: string; reason: string; hint?: string }[];
  corsSuggestion?: unknown;
}

async function everything(app: TestApp): Promise<string> {
  await app.server.audit.chainPending();
  const db = app.server.database.db;
  const tables = await sql<{
    table_name: string;
  }>`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`.execute(
    db,
  );
  let out = '';
  for (const { table_name } of tables.rows) {
    const rows = await sql<{ j: unknown }>`select to_jsonb(t)::text as j from ${sql.table(table_name)} t`.execute(db);
    out += rows.rows.map((r) => String(r.j)).join('\n');
  }
  return out + app.logs.join('\n');
}

for (const backend of BACKENDS) {
  describe(`drives on ${backend}`, () => {
    let app: TestApp;
    let owner: Session;
    let s3: S3Peer;
    let az: AzuritePeer;
    let gcs: GcsPeer;
    let skip = false;
    const answers: string[] = [];

    before(async () => {
      if (backend === 'postgres' && !(await postgresAvailable())) {
        skip = true;
        return;
      }
      [s3, az, gcs] = await Promise.all([
        startS3rver(['warehouse', 'readonly']),
        startAzurite(),
        startGcsPeer({ buckets: ['gcs-bucket'] }),
      ]);
      await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('datasets').create();
      app = await startTestApp(backend, {
        env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
      });
      owner = (await ownerSession(app)).session;
    });
    after(async () => {
      await app?.close();
      await Promise.all([s3?.stop(), az?.stop(), gcs?.stop()]);
    });

    const call = async (path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') => {
      const res = await owner.req(path, body === undefined ? { method } : jsonBody(body, method));
      answers.push(res.body);
      return res;
    };
    const s3Drive = (over: Record<string, unknown> = {}, creds: Record<string, unknown> = {}) => ({
      name: 'warehouse',
      kind: 's3',
      config: {
        bucket: 'warehouse',
        region: 'us-east-1',
        endpoint: s3.endpoint,
        pathStyle: true,
        prefix: 'strongroom',
      },
      credentials: {
        provider: 's3',
        accessKeyId: S3RVER_CREDENTIALS.accessKeyId,
        secretAccessKey: S3RVER_CREDENTIALS.secretAccessKey,
        ...creds,
      },
      ...over,
    });
    const azureDrive = (over: Record<string, unknown> = {}, creds: Record<string, unknown> = {}) => ({
      name: 'blob',
      kind: 'azure',
      config: { container: 'datasets', endpoint: az.blobEndpoint },
      credentials: {
        provider: 'azure',
        kind: 'account-key',
        accountName: AZURITE_ACCOUNT,
        accountKey: AZURITE_KEY,
        ...creds,
      },
      ...over,
    });

    test('a default local drive exists from the first start and passes its test', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const list = await call(D);
      assert.equal(list.status, 200);
      const drives = list.json<{ drives: { name: string; kind: string; isDefault: boolean }[] }>().drives;
      assert.deepEqual(
        drives.map((d) => [d.name, d.kind, d.isDefault]),
        [['default', 'local', true]],
      );
      const report = (await call(`${D}/default/test`, undefined, 'POST')).json<DiagnosisBody>();
      assert.equal(report.ok, true, JSON.stringify(report));
      assert.deepEqual(
        report.steps.filter((s) => s.status === 'pass').map((s) => s.id),
        ['endpoint', 'credentials', 'bucket', 'list', 'write', 'read', 'delete', 'latency'],
      );
      const removed = await call(`${D}/default`, undefined, 'DELETE');
      assert.equal(removed.status, 409, 'the default drive cannot be removed');
      // Local drives live under <root>/<workspace>/: the default drive of `default` is there.
      const d = await app.server.drives.open('default', 'default');
      await d.put('where.txt', Buffer.from('here'));
      await d.close();
      assert.equal(await readFile(path.join(app.home, 'drives', 'default', 'default', 'where.txt'), 'utf8'), 'here');
    });

    test('S3 on s3rver: test shows every step, add stores the secret in the vault, show never returns it', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const tested = await call(`${D}/test`, s3Drive());
      assert.equal(tested.status, 200, tested.body);
      const report = tested.json<DiagnosisBody>();
      assert.equal(report.ok, true, tested.body);
      const byId = Object.fromEntries(report.steps.map((s) => [s.id, s.status]));
      assert.equal(byId.write, 'pass');
      assert.equal(byId.read, 'pass');
      assert.equal(byId.delete, 'pass');
      assert.equal(byId.tls, 'warn', 'plain http is flagged');
      assert.equal(byId.cors, 'skip', 'CORS is informational while the console uploads through Strongroom');
      assert.equal(report.corsSuggestion, undefined, 'no CORS JSON for uploads the console does not make');

      const added = await call(
        D,
        s3Drive({ description: 'analytics bucket' }, { secretAccessKey: S3RVER_CREDENTIALS.secretAccessKey }),
      );
      assert.equal(added.status, 201, added.body);
      const drive = added.json<{ drive: { credentialSecret: string; status: string } }>().drive;
      assert.equal(drive.credentialSecret, 'drives/warehouse/credentials');
      assert.equal(drive.status, 'healthy');
      const meta = await owner.req('/api/v1/workspaces/default/secrets/metadata/drives/warehouse/credentials');
      assert.equal(meta.status, 200, 'the credentials are a vault secret');
      assert.equal(meta.json<{ type: string }>().type, 'cloud-credential');
      const shown = await call(`${D}/warehouse`);
      assert.equal(shown.status, 200);
      assert.ok(
        !shown.body.includes(S3RVER_CREDENTIALS.secretAccessKey.toLowerCase()) || !/secretAccessKey/.test(shown.body),
      );
      assert.ok(!/secretAccessKey|accountKey/.test(shown.body), 'no credential field in the answer');
      const again = await call(D, s3Drive());
      assert.equal(again.status, 409, 'names are unique per workspace');
      const retest = await call(`${D}/warehouse/test`, undefined, 'POST');
      assert.equal(retest.json<DiagnosisBody>().ok, true, retest.body);
      // The datasets module will get drivers this way: the bytes land in the bucket under the prefix.
      const driver = await app.server.drives.open('default', 'warehouse');
      await driver.put('hello.txt', Buffer.from('hi'));
      const listed = await driver.list('');
      assert.deepEqual(
        listed.items.map((i) => i.key),
        ['hello.txt'],
      );
      await driver.delete('hello.txt');
      await driver.close();
    });

    test('a wrong secret is DRIVE_AUTH_FAILED with a hint, on test and on add (nothing saved)', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const body = s3Drive({ name: 'wrong-key' }, { secretAccessKey: CANARY_SECRET });
      const report = (await call(`${D}/test`, body)).json<DiagnosisBody>();
      assert.equal(report.ok, false);
      assert.equal(report.code, 'DRIVE_AUTH_FAILED');
      const step = report.steps.find((s) => s.id === 'credentials')!;
      assert.equal(step.status, 'fail');
      assert.match(step.hint ?? '', /access key id and secret/);
      assert.equal(report.steps.find((s) => s.id === 'write')!.status, 'skip');
      const add = await call(D, body);
      assert.equal(add.status, 422);
      assert.match(String(add.headers['content-type'] ?? ''), /application\/problem\+json/);
      const problem = add.json<{ code: string; diagnosis: DiagnosisBody }>();
      assert.equal(problem.code, 'DRIVE_AUTH_FAILED');
      assert.equal(problem.diagnosis.code, 'DRIVE_AUTH_FAILED');
      assert.equal((await call(`${D}/wrong-key`)).status, 404, 'nothing was saved');
      assert.equal(
        (await owner.req('/api/v1/workspaces/default/secrets/metadata/drives/wrong-key/credentials')).status,
        404,
      );
    });

    test('a missing bucket is DRIVE_BUCKET_NOT_FOUND', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const s3Report = (
        await call(
          `${D}/test`,
          s3Drive({ config: { bucket: 'no-such-bucket', endpoint: s3.endpoint, pathStyle: true } }),
        )
      ).json<DiagnosisBody>();
      assert.equal(s3Report.code, 'DRIVE_BUCKET_NOT_FOUND');
      assert.equal(s3Report.steps.find((s) => s.id === 'credentials')!.status, 'pass');
      const azReport = (
        await call(`${D}/test`, azureDrive({ config: { container: 'nope-missing', endpoint: az.blobEndpoint } }))
      ).json<DiagnosisBody>();
      assert.equal(azReport.code, 'DRIVE_BUCKET_NOT_FOUND');
    });

    test('Azure on Azurite: account key passes; a read-only SAS is DRIVE_PERMISSION_DENIED at the write step', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const ok = (await call(`${D}/test`, azureDrive())).json<DiagnosisBody>();
      assert.equal(ok.ok, true, JSON.stringify(ok));
      const sas = generateBlobSASQueryParameters(
        {
          containerName: 'datasets',
          permissions: ContainerSASPermissions.parse('rl'),
          expiresOn: new Date(Date.now() + 3_600_000),
        },
        new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
      ).toString();
      const ro = (
        await call(
          `${D}/test`,
          azureDrive({ credentials: { provider: 'azure', kind: 'sas', accountName: AZURITE_ACCOUNT, sasToken: sas } }),
        )
      ).json<DiagnosisBody>();
      assert.equal(ro.ok, false);
      assert.equal(ro.code, 'DRIVE_PERMISSION_DENIED');
      const write = ro.steps.find((s) => s.id === 'write')!;
      assert.equal(write.status, 'fail');
      assert.match(write.hint ?? '', /Storage Blob Data Contributor/);
      assert.equal(ro.steps.find((s) => s.id === 'list')!.status, 'pass');
      const wrong = (
        await call(`${D}/test`, azureDrive({}, { accountKey: Buffer.alloc(64, 9).toString('base64') }))
      ).json<DiagnosisBody>();
      assert.equal(wrong.code, 'DRIVE_AUTH_FAILED');
      const added = await call(D, azureDrive());
      assert.equal(added.status, 201, added.body);
    });

    test('GCS on the project peer: a service-account key passes; an unknown key is DRIVE_AUTH_FAILED; read-only is DRIVE_PERMISSION_DENIED', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const gcsDrive = (serviceAccount: unknown, name = 'gcs') => ({
        name,
        kind: 'gcs',
        config: { bucket: 'gcs-bucket', endpoint: gcs.url, prefix: 'sr' },
        credentials: { provider: 'gcs', kind: 'service-account', serviceAccount },
      });
      const writer = await registerServiceAccount(gcs, { access: 'write' });
      const ok = (await call(`${D}/test`, gcsDrive(writer))).json<DiagnosisBody>();
      assert.equal(ok.ok, true, JSON.stringify(ok));
      assert.equal(ok.steps.find((x) => x.id === 'cors')!.status, 'skip', 'CORS is informational');
      assert.match(ok.steps.find((x) => x.id === 'versioning')!.reason, /versioning off/);
      const stranger = serviceAccountKey(gcs).json;
      assert.equal((await call(`${D}/test`, gcsDrive(stranger))).json<DiagnosisBody>().code, 'DRIVE_AUTH_FAILED');
      const reader = await registerServiceAccount(gcs, { buckets: { 'gcs-bucket': 'read' } });
      const ro = (await call(`${D}/test`, gcsDrive(reader))).json<DiagnosisBody>();
      assert.equal(ro.code, 'DRIVE_PERMISSION_DENIED', JSON.stringify(ro));
      assert.equal(ro.steps.find((x) => x.id === 'write')!.status, 'fail');
      const added = await call(D, gcsDrive(writer));
      assert.equal(added.status, 201, added.body);
      assert.ok(!added.body.includes('PRIVATE KEY'), 'the key never comes back');
    });

    test('an endpoint nobody answers is DRIVE_UNREACHABLE', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      // A port that was just free on 127.0.0.1: connection refused, quickly.
      const net = await import('node:net');
      const port = await new Promise<number>((resolve) => {
        const srv = net.createServer().listen(0, '127.0.0.1', () => {
          const p = (srv.address() as { port: number }).port;
          srv.close(() => resolve(p));
        });
      });
      const report = (
        await call(
          `${D}/test`,
          s3Drive({ config: { bucket: 'warehouse', endpoint: `http://127.0.0.1:${port}`, pathStyle: true } }),
        )
      ).json<DiagnosisBody>();
      assert.equal(report.code, 'DRIVE_UNREACHABLE', JSON.stringify(report));
    });

    test('removing a drive destroys its inline credentials; the audit trail has every drive action', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const removed = await call(`${D}/blob`, undefined, 'DELETE');
      assert.equal(removed.status, 200, removed.body);
      assert.equal(removed.json<{ credentialsDestroyed: boolean }>().credentialsDestroyed, true);
      assert.equal(
        (await owner.req('/api/v1/workspaces/default/secrets/metadata/drives/blob/credentials')).status,
        404,
      );
      await app.server.audit.chainPending();
      const rows = await app.server.database.db
        .selectFrom('audit_events')
        .select(['action', 'outcome', 'resource_id'])
        .where('action', 'like', 'drive.%')
        .execute();
      const seen = new Set(rows.map((r) => `${r.action}:${r.outcome}`));
      for (const e of [
        'drive.drive.list:success',
        'drive.drive.test:success',
        'drive.drive.create:success',
        'drive.drive.create:failure',
        'drive.drive.read:success',
        'drive.drive.delete:success',
        'drive.drive.delete:failure',
      ]) {
        assert.ok(seen.has(e), `audit has ${e}`);
      }
    });

    test('a viewer may list drives but not test, add or remove them (denials audited)', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      await createUser(app, 'viewer-drives@corp.test', { role: 'viewer' });
      const viewer = await login(app, 'viewer-drives@corp.test');
      assert.equal((await viewer.req(`${D}/test`, jsonBody(s3Drive({ name: 'v' })))).status, 403);
      assert.equal((await viewer.req(D, jsonBody(s3Drive({ name: 'v' })))).status, 403);
      assert.equal((await viewer.req(`${D}/warehouse`, { method: 'DELETE' })).status, 403);
    });

    test('SSRF: without the allowlist, loopback, metadata and encoded forms are refused before any connection', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const strict = await startTestApp(backend, { env: { STRONGROOM_DRIVE_HEALTH_SECONDS: '0' } });
      try {
        const o = (await ownerSession(strict)).session;
        for (const endpoint of [
          s3.endpoint,
          'http://127.1:9000',
          'http://0x7f.1/',
          'http://2130706433/',
          'http://[::ffff:127.0.0.1]/',
          'http://169.254.169.254/',
          'http://[fd00:ec2::254]/',
          'http://metadata.google.internal/',
          'http://localhost:9000',
        ]) {
          const res = await o.req(
            `${D}/test`,
            jsonBody(s3Drive({ config: { bucket: 'warehouse', endpoint, pathStyle: true } })),
          );
          assert.equal(res.status, 200, res.body);
          const report = res.json<DiagnosisBody>();
          assert.equal(report.code, 'EGRESS_DENIED', `${endpoint}: ${res.body}`);
          assert.equal(report.steps[0]!.id, 'endpoint');
          assert.equal(report.steps[0]!.status, 'fail');
        }
        const azureConn = await o.req(
          `${D}/test`,
          jsonBody(
            azureDrive({
              config: { container: 'datasets' },
              credentials: { provider: 'azure', kind: 'connection-string', connectionString: az.connectionString },
            }),
          ),
        );
        assert.equal(
          azureConn.json<DiagnosisBody>().code,
          'EGRESS_DENIED',
          'a connection string endpoint is checked too',
        );
      } finally {
        await strict.close();
      }
    });

    test('bad input: 4xx problem+json, nothing written', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const bad: [string, unknown][] = [
        ['traversal name', s3Drive({ name: '../etc' })],
        ['upper-case name', s3Drive({ name: 'Warehouse' })],
        ['unicode name', s3Drive({ name: 'drïve' })],
        ['empty name', s3Drive({ name: '' })],
        ['over-long name', s3Drive({ name: 'a'.repeat(64) })],
        ['unknown kind', { ...s3Drive(), kind: 'ftp' }],
        ['wrong type', s3Drive({ config: { bucket: 42 } })],
        ['bucket with slash', s3Drive({ config: { bucket: 'a/b', endpoint: s3.endpoint } })],
        ['prefix traversal', s3Drive({ config: { bucket: 'warehouse', endpoint: s3.endpoint, prefix: '../x' } })],
        [
          'endpoint with credentials',
          s3Drive({ config: { bucket: 'warehouse', endpoint: 'http://user:pw@127.0.0.1:1/' } }),
        ],
        ['endpoint scheme', s3Drive({ config: { bucket: 'warehouse', endpoint: 'file:///etc/passwd' } })],
        ['control character', s3Drive({ description: 'a\u0000b' })],
        [
          'credentials of another provider',
          s3Drive({
            name: 'mixed',
            credentials: { provider: 'azure', kind: 'account-key', accountName: 'abc', accountKey: 'x' },
          }),
        ],
        ['both credentials and secret', s3Drive({ name: 'both', credentialSecret: 'team/x' })],
        ['unknown field', s3Drive({ extra: true })],
        ['local directory escape', { name: 'escape', kind: 'local', config: { directory: '../../etc' } }],
        ['local absolute directory', { name: 'abs', kind: 'local', config: { directory: '/etc' } }],
      ];
      for (const [label, body] of bad) {
        const res = await call(D, body);
        assert.equal(res.status, 422, `${label}: ${res.status} ${res.body}`);
        assert.match(String(res.headers['content-type'] ?? ''), /application\/problem\+json/, label);
        assert.ok(!/at .*\.ts:\d+/.test(res.body), `${label}: no stack`);
      }
      const huge = await owner.req(D, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(s3Drive({ description: 'x'.repeat(2_000_000) })),
      });
      assert.ok(huge.status === 413 || huge.status === 422, `huge body: ${huge.status}`);
      const names = (await call(D)).json<{ drives: { name: string }[] }>().drives.map((d) => d.name);
      assert.deepEqual(names.sort(), ['default', 'gcs', 'warehouse']);
    });

    test('canary: a drive secret never appears in answers, logs, audit rows or the database', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const all = await everything(app);
      assert.ok(!all.includes(CANARY_SECRET), 'canary absent from database dump, audit rows and logs');
      assert.ok(!answers.join('\n').includes(CANARY_SECRET), 'canary absent from every answer');
      // The stored secret of the s3 drive is sealed too.
      assert.ok(!all.includes('"secretAccessKey"'), 'no credential JSON in the clear');
    });
  });
}
