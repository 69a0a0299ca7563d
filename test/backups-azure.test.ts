/**
 * Backups to an Azure drive (the Azurite peer), on both backends: the target is a workspace's Azure drive,
 * the backup, its manifest and the target's owner marker land in the container, the drill passes,
 * and `strongroom backup restore --from azure://…` restores straight from the container with the
 * recovery key (credentials from the environment). The same backup copied under another
 * installation's target is refused (BACKUP_FOREIGN) unless `--allow-foreign-installation`, which
 * the restored trail records; `--installation` names the expected installation explicitly.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { openDatabase } from '../src/db/database.ts';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { cliAsync } from './helpers/cli.ts';
import { createWorkspace, jsonBody, ownerSession } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  azuriteMissing,
  startAzurite,
  type AzuritePeer,
} from './peers/azurite/azurite.ts';

type Any = any;
const post = { method: 'POST' };

for (const backend of BACKENDS) {
  describe(`backups on ${backend}, Azure drive (Azurite), restore from the container with the CLI`, () => {
    let app: TestApp;
    let az: AzuritePeer;
    let skip = '';
    const scratch: string[] = [];
    const tmp = async () => {
      const d = await mkdtemp(path.join(os.tmpdir(), 'sr-azure-restore-'));
      scratch.push(d);
      return d;
    };

    before(async () => {
      const missing = azuriteMissing();
      if (missing) return void (skip = missing);
      if (backend === 'postgres' && !(await postgresAvailable()))
        return void (skip = 'start PostgreSQL at 127.0.0.1:5432');
      az = await startAzurite();
      await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('vault').create();
      app = await startTestApp(backend, {
        env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
      });
      await createWorkspace(app, 'ops');
      const owner = (await ownerSession(app, undefined, 'ops')).session;
      const added = await owner.req(
        '/api/v1/workspaces/ops/drives',
        jsonBody({
          name: 'offsite',
          kind: 'azure',
          config: { container: 'vault', endpoint: az.blobEndpoint, prefix: 'site-a' },
          credentials: {
            provider: 'azure',
            kind: 'account-key',
            accountName: AZURITE_ACCOUNT,
            accountKey: AZURITE_KEY,
          },
        }),
      );
      assert.equal(added.status, 201, added.body);
    });
    after(async () => {
      await app?.close();
      await az?.stop();
      for (const d of scratch) await rm(d, { recursive: true, force: true });
    });

    test('backup, drill, CLI restore from azure://; a foreign installation is refused unless allowed', async (t) => {
      if (skip && !requirePeer(t, 'azurite/PostgreSQL', false, skip)) return;
      const target = await app.asOperator(
        '/api/v1/backups/targets',
        jsonBody({ name: 'cloud', workspace: 'ops', drive: 'offsite', prefix: 'backups' }),
      );
      assert.equal(target.status, 201, target.body);
      const recoveryKey = (await app.asOperator('/api/v1/backups/recovery-key', post)).json<Any>()
        .recoveryKey as string;
      const created = await app.asOperator('/api/v1/backups', jsonBody({ target: 'cloud' }));
      assert.equal(created.status, 201, created.body);
      const id = created.json<Any>().id as string;
      const drill = await app.asOperator(`/api/v1/backups/${id}/verify`, post);
      assert.equal(drill.status, 200, drill.body);
      assert.equal(drill.json<Any>().ok, true);

      // The container: the object, the manifest and the target's owner marker under the drive's prefix.
      const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('vault');
      const names: string[] = [];
      for await (const b of container.listBlobsFlat({ prefix: 'site-a/backups/' })) names.push(b.name);
      assert.ok(names.includes(`site-a/backups/${id}/data.sro`), names.join(', '));
      assert.ok(names.includes(`site-a/backups/${id}/manifest.json`));
      const installationId = (
        await app.server.database.db.selectFrom('system_info').select('instance_id').executeTakeFirstOrThrow()
      ).instance_id;
      const marker = JSON.parse(
        (await container.getBlockBlobClient('site-a/backups/installation.json').downloadToBuffer()).toString(),
      );
      assert.deepEqual(marker, { installationId });

      const dir = await tmp();
      const keyFile = path.join(dir, 'recovery.key');
      await writeFile(keyFile, `${recoveryKey}\n`, { mode: 0o600 });
      const env = { AZURE_STORAGE_ACCOUNT: AZURITE_ACCOUNT, AZURE_STORAGE_KEY: AZURITE_KEY };
      const restore = (from: string, home: string, extra: string[] = []) =>
        cliAsync(
          [
            'backup',
            'restore',
            '--from',
            from,
            '--endpoint',
            az.blobEndpoint,
            '--home',
            home,
            '--recovery-key-file',
            keyFile,
            ...extra,
          ],
          env,
        );

      // Disaster: only the container and the recovery key are left.
      const ok = await restore(`azure://vault/site-a/backups/${id}`, path.join(dir, 'a'));
      assert.equal(ok.status, 0, ok.stderr);
      const report = JSON.parse(ok.stdout);
      assert.equal(report.backupId, id);
      assert.equal(report.installationId, installationId);
      assert.equal(report.foreignInstallation, false);

      // Naming another installation explicitly: refused, nothing restored.
      const wrongId = await restore(`azure://vault/site-a/backups/${id}`, path.join(dir, 'b'), [
        '--installation',
        'someone-else',
      ]);
      assert.equal(wrongId.status, 1);
      assert.match(wrongId.stderr, new RegExp(`made by installation ${installationId}, not someone-else`));
      assert.match(wrongId.stderr, /--allow-foreign-installation/);

      // The same backup copied under a target that another installation owns.
      for (const f of ['data.sro', 'manifest.json']) {
        const bytes = await container.getBlockBlobClient(`site-a/backups/${id}/${f}`).downloadToBuffer();
        await container.getBlockBlobClient(`site-b/backups/${id}/${f}`).uploadData(bytes);
      }
      const other = Buffer.from(JSON.stringify({ installationId: 'installation-b' }));
      await container.getBlockBlobClient('site-b/backups/installation.json').uploadData(other);
      const foreign = await restore(`azure://vault/site-b/backups/${id}`, path.join(dir, 'c'));
      assert.equal(foreign.status, 1, foreign.stdout);
      assert.match(foreign.stderr, /another installation|made by installation .* not installation-b/);
      assert.doesNotMatch(foreign.stderr, /at .*\.ts:\d+/, 'a plain message, not a stack');

      const allowed = await restore(`azure://vault/site-b/backups/${id}`, path.join(dir, 'c'), [
        '--allow-foreign-installation',
      ]);
      assert.equal(allowed.status, 0, allowed.stderr);
      assert.equal(JSON.parse(allowed.stdout).foreignInstallation, true);
      const db = await openDatabase({ kind: 'pglite', dataDir: path.join(dir, 'c', 'db') });
      try {
        const ev = await db.db
          .selectFrom('audit_events')
          .select(['action', 'details'])
          .where('action', '=', 'system.backup.restored')
          .executeTakeFirstOrThrow();
        const details = typeof ev.details === 'string' ? JSON.parse(ev.details) : ev.details;
        assert.equal(details.foreignInstallation, true);
        assert.equal(details.expectedInstallation, 'installation-b');
        assert.equal(details.installationId, installationId);
      } finally {
        await db.close();
      }
    });
  });
}
