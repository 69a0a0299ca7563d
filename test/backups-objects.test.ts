/**
 * The incremental copy of dataset ciphertext objects to a backup target (issue 20), on both
 * backends, to a local drive and to an Azure drive (Azurite):
 * - off by default; turned on per target (audited); the backup then copies every committed
 *   version's ciphertext byte for byte, records it, and puts the counts in its manifest, its
 *   answer and the listing; the progress is in a `backup-objects` task log;
 * - the second run copies 0 unchanged objects; a new version is copied alone; a changed source
 *   is copied again;
 * - `backup verify` reads every copy back: a flipped byte is reported (422 BACKUP_INVALID naming
 *   the version), and the next backup copies that version again;
 * - crypto-shredding: the copy of a destroyed workspace's object is ciphertext (no plaintext in
 *   it), its data stays unreadable (410), and the next backup removes the copy;
 * - a deleted dataset's copy is kept while kept backups predate its deletion;
 * - `backup restore-objects` copies lost objects back from the target, verified.
 */
import assert from 'node:assert/strict';
import { readFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { createWorkspace, jsonBody, ownerSession, type Session } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  azuriteMissing,
  startAzurite,
  type AzuritePeer,
} from './peers/azurite/azurite.ts';

type Any = any;
const body = (r: { json(): unknown }): Any => r.json();
const post = { method: 'POST' };
const CANARY = 'canary-5d1e-shredded-dataset-value';

async function upload(s: Session, ws: string, name: string, content: string): Promise<void> {
  const put = await s.req(`/api/v1/workspaces/${ws}/datasets/${name}/versions`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: content,
  });
  assert.equal(put.status, 201, put.body);
}

/** Reads and writes the target's copies, wherever the target is. */
interface TargetBytes {
  read(copyKey: string): Promise<Buffer>;
  write(copyKey: string, bytes: Buffer): Promise<void>;
  exists(copyKey: string): Promise<boolean>;
}

for (const backend of BACKENDS) {
  describe(`dataset object copies on ${backend}, local drive target`, () => {
    let app: TestApp;
    let skip = '';
    let acme: Session;
    let doomed: Session;
    let home = '';
    const drive = (ws: string) => path.join(home, 'drives', ws, 'default');
    const onTarget: TargetBytes = {
      read: (k) => readFile(path.join(drive('ops'), k)),
      write: (k, b) => writeFile(path.join(drive('ops'), k), b),
      exists: (k) =>
        readFile(path.join(drive('ops'), k)).then(
          () => true,
          () => false,
        ),
    };

    before(async () => {
      if (backend === 'postgres' && !(await postgresAvailable()))
        return void (skip = 'start PostgreSQL at 127.0.0.1:5432');
      app = await startTestApp(backend, { env: { STRONGROOM_DRIVE_HEALTH_SECONDS: '0' } });
      home = app.config.STRONGROOM_HOME;
      for (const ws of ['ops', 'acme', 'doomed']) await createWorkspace(app, ws);
      await app.server.drives.ensureDefaults();
      acme = (await ownerSession(app, undefined, 'acme')).session;
      doomed = (await ownerSession(app, undefined, 'doomed')).session;
      await upload(acme, 'acme', 'alpha', 'id,name\n1,first\n');
      await upload(acme, 'acme', 'alpha', 'id,name\n1,first\n2,second\n');
      await upload(acme, 'acme', 'beta', 'x\n42\n');
      await upload(doomed, 'doomed', 'canary', CANARY);
    });
    after(async () => {
      await app?.close();
    });

    test('off by default, on per target; copies once, then only what is new or changed; verify finds a flipped byte', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, skip)) return;
      const added = await app.asOperator(
        '/api/v1/backups/targets',
        jsonBody({ name: 'local', workspace: 'ops', drive: 'default', prefix: 'bk' }),
      );
      assert.equal(added.status, 201, added.body);
      assert.deepEqual(
        body(await app.asOperator('/api/v1/backups/targets')).targets.map((x: Any) => x.copyObjects),
        [false],
      );
      const plain = await app.asOperator('/api/v1/backups', jsonBody({}));
      assert.equal(plain.status, 201, plain.body);
      assert.equal(body(plain).objects, undefined, 'no copy asked for, none made');
      assert.equal(await onTarget.exists('bk/objects'), false);

      const bad = await app.asOperator('/api/v1/backups/targets/local', jsonBody({ copyObjects: 'yes' }, 'PATCH'));
      assert.equal(bad.status, 422, bad.body);
      const missing = await app.asOperator('/api/v1/backups/targets/nope', jsonBody({ copyObjects: true }, 'PATCH'));
      assert.equal(missing.status, 404, missing.body);
      const on = await app.asOperator('/api/v1/backups/targets/local', jsonBody({ copyObjects: true }, 'PATCH'));
      assert.equal(on.status, 200, on.body);
      assert.deepEqual(body(on), { name: 'local', copyObjects: true });
      await expectAudit(app, {
        action: 'backups.target.update',
        actorId: 'operator',
        outcome: 'success',
        resource: { type: 'backup-target', id: 'local' },
      });

      const versions = await app.server.database.db
        .selectFrom('dataset_versions')
        .select(['workspace_id', 'dataset', 'version', 'object_key', 'object_id', 'stored_size'])
        .orderBy('workspace_id')
        .orderBy('dataset')
        .orderBy('version')
        .execute();
      assert.equal(versions.length, 4);
      const totalBytes = versions.reduce((n, v) => n + Number(v.stored_size), 0);

      // First run: every version's ciphertext, byte for byte.
      const first = await app.asOperator('/api/v1/backups', jsonBody({}));
      assert.equal(first.status, 201, first.body);
      const firstId = body(first).id as string;
      assert.deepEqual(body(first).objects, {
        total: 4,
        copied: 4,
        bytes: totalBytes,
        unchanged: 0,
        skipped: 0,
        gone: 0,
        removed: 0,
      });
      for (const v of versions) {
        const source = await readFile(path.join(drive(v.workspace_id), v.object_key));
        const copy = await onTarget.read(`bk/objects/${v.workspace_id}/${v.object_id}.sro`);
        assert.ok(copy.equals(source), `${v.dataset} v${v.version}: the copy is the source ciphertext`);
      }
      const canaryCopy = await onTarget.read(
        `bk/objects/doomed/${versions.find((v) => v.workspace_id === 'doomed')!.object_id}.sro`,
      );
      assert.ok(!canaryCopy.includes(Buffer.from(CANARY)), 'the copy is ciphertext');
      const manifest = JSON.parse(await readFile(path.join(drive('ops'), 'bk', firstId, 'manifest.json'), 'utf8'));
      assert.equal(manifest.objects.copied, 4, 'the counts are in the MAC-covered manifest');
      const listed = body(await app.asOperator('/api/v1/backups')).backups.find((b: Any) => b.id === firstId);
      assert.equal(listed.objects.copied, 4);
      assert.equal(listed.objects.bytes, totalBytes);

      // The progress is in a task log, one entry per copied version (counts and ids only).
      const runs = await app.server.tasks.list('backup-objects', 10);
      assert.equal(runs.length, 1);
      const entries = await app.server.tasks.read(runs[0]!.id);
      assert.deepEqual(
        entries.filter((e) => e.event === 'copied').map((e) => e.version),
        ['acme/alpha v1', 'acme/alpha v2', 'acme/beta v1', 'doomed/canary v1'],
      );
      assert.equal(entries.at(-1)!.event, 'finished');
      assert.ok(!JSON.stringify(entries).includes(CANARY));

      // Second run: nothing unchanged is copied again.
      const second = body(await app.asOperator('/api/v1/backups', jsonBody({})));
      assert.equal(second.objects.copied, 0);
      assert.equal(second.objects.bytes, 0);
      assert.equal(second.objects.unchanged, 4);
      t.diagnostic(
        `local: first run ${JSON.stringify(body(first).objects)}; second run ${JSON.stringify(second.objects)}`,
      );

      // A new version is copied alone; a changed source object is copied again.
      await upload(acme, 'acme', 'alpha', 'id,name\n1,first\n2,second\n3,third\n');
      const beta = versions.find((v) => v.dataset === 'beta')!;
      const later = new Date(Date.now() + 60_000);
      await utimes(path.join(drive('acme'), beta.object_key), later, later);
      const third = body(await app.asOperator('/api/v1/backups', jsonBody({})));
      assert.equal(third.objects.total, 5);
      assert.equal(third.objects.copied, 2);
      assert.equal(third.objects.unchanged, 3);

      // Verify reads every copy back; one flipped byte is reported, naming the version.
      const ok = await app.asOperator(`/api/v1/backups/${third.id}/verify`, post);
      assert.equal(ok.status, 200, ok.body);
      assert.deepEqual(body(ok).objects.checked, 5);
      const alpha1 = `bk/objects/acme/${versions[0]!.object_id}.sro`;
      const bytes = await onTarget.read(alpha1);
      bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
      await onTarget.write(alpha1, bytes);
      const flipped = await app.asOperator(`/api/v1/backups/${third.id}/verify`, post);
      assert.equal(flipped.status, 422, flipped.body);
      assert.equal(body(flipped).code, 'BACKUP_INVALID');
      assert.match(body(flipped).detail, /1 of 5 copied dataset objects .* acme\/alpha v1 \(its SHA-256 differs/);
      const failedDrill = body(await app.asOperator('/api/v1/backups')).backups.find((b: Any) => b.id === third.id);
      assert.equal(failedDrill.verification.ok, false);
      // The next backup copies it again, and the verification passes.
      const repaired = body(await app.asOperator('/api/v1/backups', jsonBody({})));
      assert.equal(repaired.objects.copied, 1);
      assert.ok(
        (await onTarget.read(alpha1)).equals(await readFile(path.join(drive('acme'), versions[0]!.object_key))),
      );
      const again = await app.asOperator(`/api/v1/backups/${repaired.id}/verify`, post);
      assert.equal(again.status, 200, again.body);
    });

    test('crypto-shredding holds: a destroyed workspace key leaves its copy unreadable, and the next backup removes it', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, skip)) return;
      const v = await app.server.database.db
        .selectFrom('dataset_versions')
        .select(['object_id', 'object_key'])
        .where('workspace_id', '=', 'doomed')
        .executeTakeFirstOrThrow();
      const copyKey = `bk/objects/doomed/${v.object_id}.sro`;
      const before = await onTarget.read(copyKey);
      const { token } = await app.server.workspaceKeys.requestDestroy('doomed');
      await app.server.workspaceKeys.confirmDestroy('doomed', token);
      // The copy is the same ciphertext as before; the only key that opened it is gone.
      assert.ok((await onTarget.read(copyKey)).equals(before));
      assert.ok(!before.includes(Buffer.from(CANARY)));
      const data = await doomed.req('/api/v1/workspaces/doomed/datasets/canary/versions/1/content');
      assert.equal(data.status, 410, data.body);
      assert.equal(body(data).code, 'KEY_DESTROYED');
      const next = body(await app.asOperator('/api/v1/backups', jsonBody({})));
      assert.equal(next.objects.removed, 1);
      assert.equal(next.objects.total, 4, 'the shredded workspace is not copied');
      assert.equal(await onTarget.exists(copyKey), false, 'the copy is gone from the target');
      const rows = await app.server.database.db
        .selectFrom('backup_object_copies')
        .select('workspace_id')
        .where('workspace_id', '=', 'doomed')
        .execute();
      assert.deepEqual(rows, []);
    });

    test('a deleted dataset: its copy is marked gone and kept while older backups are kept', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, skip)) return;
      const beta = await app.server.database.db
        .selectFrom('dataset_versions')
        .select('object_id')
        .where('dataset', '=', 'beta')
        .executeTakeFirstOrThrow();
      const del = await acme.req('/api/v1/workspaces/acme/datasets/beta', { method: 'DELETE', headers: {} });
      assert.ok(del.status === 200 || del.status === 204, del.body);
      const next = body(await app.asOperator('/api/v1/backups', jsonBody({})));
      assert.equal(next.objects.gone, 1);
      const pruned = body(await app.asOperator('/api/v1/backups/prune', post));
      assert.equal(pruned.objectsRemoved, 0, 'kept backups from before the deletion still name it');
      assert.equal(await onTarget.exists(`bk/objects/acme/${beta.object_id}.sro`), true);
    });

    test('restore-objects copies lost dataset objects back from the target, checked against the recorded SHA-256', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, skip)) return;
      const alpha = await app.server.database.db
        .selectFrom('dataset_versions')
        .select(['version', 'object_key'])
        .where('workspace_id', '=', 'acme')
        .where('dataset', '=', 'alpha')
        .orderBy('version')
        .execute();
      const lost = path.join(drive('acme'), alpha[1]!.object_key);
      const original = await readFile(lost);
      await rm(lost);
      const broken = await acme.req('/api/v1/workspaces/acme/datasets/alpha/versions/2/content');
      assert.notEqual(broken.status, 200);
      const r = await app.asOperator('/api/v1/backups/targets/local/restore-objects', jsonBody({}));
      assert.equal(r.status, 200, r.body);
      assert.equal(body(r).restored, 1);
      assert.equal(body(r).failed, 0);
      assert.ok((await readFile(lost)).equals(original));
      const back = await acme.req('/api/v1/workspaces/acme/datasets/alpha/versions/2/content');
      assert.equal(back.status, 200, back.body);
      assert.equal(back.body, 'id,name\n1,first\n2,second\n');
      await expectAudit(app, { action: 'backups.objects.restore', actorId: 'operator', outcome: 'success' });
    });
  });

  describe(`dataset object copies on ${backend}, Azure drive target (Azurite)`, () => {
    let app: TestApp;
    let az: AzuritePeer;
    let container: ContainerClient;
    let skip = '';
    let acme: Session;

    before(async () => {
      const missing = azuriteMissing();
      if (missing) return void (skip = missing);
      if (backend === 'postgres' && !(await postgresAvailable()))
        return void (skip = 'start PostgreSQL at 127.0.0.1:5432');
      az = await startAzurite();
      container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('vault');
      await container.create();
      app = await startTestApp(backend, {
        env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
      });
      for (const ws of ['ops', 'acme']) await createWorkspace(app, ws);
      await app.server.drives.ensureDefaults();
      const owner = (await ownerSession(app, undefined, 'ops')).session;
      acme = (await ownerSession(app, undefined, 'acme')).session;
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
      await upload(acme, 'acme', 'alpha', 'id\n1\n');
      await upload(acme, 'acme', 'gamma', `${'row,'.repeat(50_000)}\n`);
    });
    after(async () => {
      await app?.close();
      await az?.stop();
    });

    test('copies to the container, the second run copies 0, a flipped byte in the container is reported by verify', async (t) => {
      if (skip && !requirePeer(t, 'azurite/PostgreSQL', false, skip)) return;
      const added = await app.asOperator(
        '/api/v1/backups/targets',
        jsonBody({ name: 'cloud', workspace: 'ops', drive: 'offsite', prefix: 'backups', copyObjects: true }),
      );
      assert.equal(added.status, 201, added.body);
      const versions = await app.server.database.db
        .selectFrom('dataset_versions')
        .select(['object_key', 'object_id', 'stored_size'])
        .orderBy('dataset')
        .execute();
      const first = await app.asOperator('/api/v1/backups', jsonBody({ target: 'cloud' }));
      assert.equal(first.status, 201, first.body);
      assert.equal(body(first).objects.copied, 2);
      assert.equal(
        body(first).objects.bytes,
        versions.reduce((n, v) => n + Number(v.stored_size), 0),
      );
      const local = path.join(app.config.STRONGROOM_HOME, 'drives', 'acme', 'default');
      for (const v of versions) {
        const blob = container.getBlockBlobClient(`site-a/backups/objects/acme/${v.object_id}.sro`);
        assert.ok((await blob.downloadToBuffer()).equals(await readFile(path.join(local, v.object_key))));
      }
      const second = body(await app.asOperator('/api/v1/backups', jsonBody({ target: 'cloud' })));
      assert.equal(second.objects.copied, 0);
      assert.equal(second.objects.unchanged, 2);
      t.diagnostic(
        `azure: first run ${JSON.stringify(body(first).objects)}; second run ${JSON.stringify(second.objects)}`,
      );
      const ok = await app.asOperator(`/api/v1/backups/${second.id}/verify`, post);
      assert.equal(ok.status, 200, ok.body);
      assert.equal(body(ok).objects.checked, 2);

      const blob = container.getBlockBlobClient(`site-a/backups/objects/acme/${versions[1]!.object_id}.sro`);
      const bytes = await blob.downloadToBuffer();
      bytes[100]! ^= 0x80;
      await blob.uploadData(bytes);
      const flipped = await app.asOperator(`/api/v1/backups/${second.id}/verify`, post);
      assert.equal(flipped.status, 422, flipped.body);
      assert.match(body(flipped).detail, /1 of 2 copied dataset objects .* acme\/gamma v1/);
      const third = body(await app.asOperator('/api/v1/backups', jsonBody({ target: 'cloud' })));
      assert.equal(third.objects.copied, 1, 'the damaged copy is copied again');
      assert.equal((await app.asOperator(`/api/v1/backups/${third.id}/verify`, post)).status, 200);
    });
  });
}
