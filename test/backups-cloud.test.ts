/**
 * Backups to a cloud drive (S3, the s3rver peer) on both backends: the target is a workspace's S3
 * drive, the backup and its manifest land in the bucket as ciphertext, the drill passes, and a
 * restore reads straight from the bucket (no server, as after a disaster) with the recovery key —
 * the same rows and audit head; a workspace key destroyed after the backup stays destroyed because
 * the shred ledger is in the bucket too.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createS3Driver } from '../src/adapters/blob/s3.ts';
import { openDatabase } from '../src/db/database.ts';
import { createAuditModule } from '../src/modules/audit/index.ts';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { LEDGER_FOLDER, restoreInstallation } from '../src/modules/backups/index.ts';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { createWorkspace, jsonBody, ownerSession, type Session } from './helpers/identity.ts';
import { request } from './helpers/https.ts';
import { loadConfig } from '../src/core/config.ts';
import { startServer } from '../src/server/main.ts';
import { tlsFilesFor } from '../src/installation/home.ts';
import { requirePeer } from './helpers/peers.ts';
import { S3RVER_CREDENTIALS, s3rverMissing, startS3rver, type S3Peer } from './peers/s3/s3rver.ts';

type Any = any;
const body = (r: { json(): unknown }): Any => r.json();
const post = { method: 'POST' };
const CANARY = 'canary-7f3a-shredded-value';

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true, recursive: true }).catch(() => []))
    if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

for (const backend of BACKENDS) {
  describe(`backups on ${backend}, S3 drive (s3rver)`, () => {
    let app: TestApp;
    let s3: S3Peer;
    let skip = '';
    let doomedOwner: Session;
    const scratch: string[] = [];

    before(async () => {
      const missing = s3rverMissing();
      if (missing) return void (skip = missing);
      if (backend === 'postgres' && !(await postgresAvailable()))
        return void (skip = 'start PostgreSQL at 127.0.0.1:5432');
      s3 = await startS3rver(['vault']);
      app = await startTestApp(backend, {
        env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
      });
      for (const workspaceId of ['ops', 'doomed']) await createWorkspace(app, workspaceId);
      await app.server.drives.ensureDefaults();
      await app.server.workspaceKeys.encryptorFor('ops');
      const owner = (await ownerSession(app, undefined, 'ops')).session;
      doomedOwner = (await ownerSession(app, undefined, 'doomed')).session;
      // What the shredded workspace holds: a dataset and a secret, both readable before.
      const put = await doomedOwner.req('/api/v1/workspaces/doomed/datasets/canary/versions', {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: CANARY,
      });
      assert.equal(put.status, 201, put.body);
      const secret = await doomedOwner.req(
        '/api/v1/workspaces/doomed/secrets/data/db/password',
        jsonBody({ type: 'password', value: { password: CANARY } }, 'PUT'),
      );
      assert.ok(secret.status === 200 || secret.status === 201, secret.body);
      // The backup target lives on another workspace's drive (its credentials in that vault).
      const added = await owner.req(
        '/api/v1/workspaces/ops/drives',
        jsonBody({
          name: 'offsite',
          kind: 's3',
          config: { bucket: 'vault', endpoint: s3.endpoint, pathStyle: true, prefix: 'site-a' },
          credentials: { provider: 's3', ...S3RVER_CREDENTIALS },
        }),
      );
      assert.equal(added.status, 201, added.body);
    });
    after(async () => {
      await app?.close();
      await s3?.stop();
      for (const d of scratch) await rm(d, { recursive: true, force: true });
    });

    test('backup to the bucket, drill, then restore from the bucket alone with the recovery key; shreds hold', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL/s3rver', false, skip)) return;
      const target = await app.asOperator(
        '/api/v1/backups/targets',
        jsonBody({ name: 'cloud', workspace: 'ops', drive: 'offsite', prefix: 'backups' }),
      );
      assert.equal(target.status, 201, target.body);
      const recoveryKey = body(await app.asOperator('/api/v1/backups/recovery-key', post)).recoveryKey as string;
      const created = await app.asOperator('/api/v1/backups', jsonBody({ target: 'cloud' }));
      assert.equal(created.status, 201, created.body);
      const id = body(created).id as string;
      await expectAudit(app, { action: 'backups.backup.create', outcome: 'success' });

      // The bucket holds the object and the manifest under the drive's prefix; the object is ciphertext.
      const inBucket = (await filesUnder(s3.directory)).filter((f) => f.includes(id));
      assert.ok(
        inBucket.some((f) => f.includes('data.sro')),
        `data.sro in the bucket: ${inBucket.join(', ')}`,
      );
      assert.ok(inBucket.some((f) => f.includes('manifest.json')));
      for (const f of inBucket.filter((x) => x.includes('data.sro') && !x.endsWith('metadata.json')))
        assert.ok(!(await readFile(f)).includes(Buffer.from('workspace_keys')), 'the object is ciphertext');

      const drill = await app.asOperator(`/api/v1/backups/${id}/verify`, post);
      assert.equal(drill.status, 200, drill.body);
      assert.equal(body(drill).ok, true);

      // A workspace key destroyed after the backup: the ledger reaches the bucket.
      const { token } = await app.server.workspaceKeys.requestDestroy('doomed');
      await app.server.workspaceKeys.confirmDestroy('doomed', token);
      assert.equal((await app.server.backups.syncLedger()).entries, 1);

      // Disaster: only the bucket and the recovery key are left.
      const bucket = createS3Driver({
        bucket: 'vault',
        region: 'us-east-1',
        endpoint: s3.endpoint,
        forcePathStyle: true,
        prefix: 'site-a',
        credentials: { ...S3RVER_CREDENTIALS },
      });
      const home = path.join(await mkdtemp(path.join(os.tmpdir(), 'sr-cloud-restore-')), 'h');
      scratch.push(path.dirname(home));
      const manifest = body(await app.asOperator(`/api/v1/backups/${id}`)).manifest;
      const report = await restoreInstallation({
        source: { driver: bucket, folder: `backups/${id}` },
        ledger: { driver: bucket, folder: `backups/${LEDGER_FOLDER}` },
        home,
        key: { recoveryKey },
      });
      await bucket.close();
      assert.equal(report.backupId, id);
      assert.deepEqual(report.shredsApplied, ['doomed']);
      assert.equal(
        report.rows,
        manifest.tables.reduce((n: number, x: { rows: number }) => n + x.rows, 0),
      );
      const db = await openDatabase({ kind: 'pglite', dataDir: path.join(home, 'db') });
      try {
        const keys = await db.db.selectFrom('workspace_keys').select(['workspace_id', 'sealed']).execute();
        assert.equal(keys.find((k) => k.workspace_id === 'doomed')!.sealed, null, 'the shredded key stays gone');
        assert.ok(keys.find((k) => k.workspace_id === 'ops')!.sealed);
        const audit = createAuditModule({ db: db.db, barrier: createBarrier(), logDir: path.join(home, 'logs') });
        const last = (await audit.tail(1))[0]!;
        assert.equal(last.action, 'system.backup.restored');
        assert.equal(last.resource.id, id);
        const v = await audit.verify();
        assert.deepEqual(
          v.problems.filter((p) => p.kind !== 'export-mismatch'),
          [],
        );
      } finally {
        await db.close();
      }

      // The restored installation serves: the shredded workspace's data stays unreadable (410).
      const config = loadConfig({
        STRONGROOM_HOME: home,
        STRONGROOM_HTTPS_PORT: '0',
        STRONGROOM_HTTP_PORT: 'off',
        STRONGROOM_METRICS_PORT: 'off',
        STRONGROOM_LOG_LEVEL: 'silent',
        STRONGROOM_DRIVE_HEALTH_SECONDS: '0',
      });
      const restored = await startServer(config);
      try {
        const ca = await readFile(tlsFilesFor(config).certFile, 'utf8');
        const asDoomed = (p: string, o: { method?: string } = {}) =>
          request(`https://localhost:${restored.httpsPort}${p}`, {
            ...o,
            ca,
            headers: { cookie: doomedOwner.cookie, ...(o.method ? { 'x-csrf-token': doomedOwner.csrf } : {}) },
          });
        const data = await asDoomed('/api/v1/workspaces/doomed/datasets/canary/versions/1/content');
        assert.equal(data.status, 410, data.body);
        assert.equal(data.json<{ code: string }>().code, 'KEY_DESTROYED');
        assert.ok(!data.body.includes(CANARY));
        const secret = await asDoomed('/api/v1/workspaces/doomed/secrets/reveal/db/password', { method: 'POST' });
        // Vault values are barrier-sealed (not under the workspace key): destroyed with the key.
        assert.equal(secret.status, 410, secret.body);
        assert.equal(secret.json<{ code: string }>().code, 'KEY_DESTROYED');
        assert.ok(!secret.body.includes(CANARY));
      } finally {
        await restored.close();
      }
    });
  });
}
