/**
 * Task-execution logs on the system drive: a rewrap started over the API writes its log as an
 * encrypted object under logs/tasks/ (the data directory by default), listed and read back over
 * the API (operator only, audited) and linked from its `task.run.finished` event; the same logs
 * on every drive kind (local, S3 via s3rver, Azure via Azurite, GCS via the project's peer) with
 * no plaintext on the drive (marker scan) and no secret in any log (canary).
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';
import { OBJECT_MAGIC } from '../src/core/crypto/object-format.ts';
import type { BlobDriver } from '../src/adapters/blob/driver.ts';
import { createLocalDriver } from '../src/adapters/blob/local.ts';
import { createS3Driver } from '../src/adapters/blob/s3.ts';
import { createAzureDriver } from '../src/adapters/blob/azure.ts';
import { GcsDriver } from '../src/adapters/blob/gcs.ts';
import { createTaskLogs } from '../src/modules/tasks/index.ts';
import type { AuditEventInput } from '../src/modules/audit/index.ts';
import { createTestDatabase } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { requirePeer } from './helpers/peers.ts';
import { S3RVER_CREDENTIALS, s3rverMissing, startS3rver } from './peers/s3/s3rver.ts';
import { azuriteMissing, startAzurite } from './peers/azurite/azurite.ts';
import { startGcsPeer } from './peers/gcs/gcs-peer.ts';
import { bearerAuthClient } from './peers/gcs/sdk.ts';

const CANARY = 'canary-7f3a9c-not-for-logs';
const MARKER = 'marker-plaintext-2b81';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

async function until(what: string, cond: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('task logs through the server (local system drive)', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('pglite', { env: { STRONGROOM_POSTURE_CHECK_SECONDS: '0' } });
  });
  after(() => app.close());

  test('a rewrap writes an encrypted log, listed and read back by the operator, linked from its event', async () => {
    const rotate = await app.asOperator('/api/v1/keys/rotate', { method: 'POST' });
    assert.equal(rotate.status, 200, rotate.body);
    const started = await app.asOperator('/api/v1/keys/rewrap', { method: 'POST' });
    assert.equal(started.status, 202, started.body);
    const { taskId, taskLog } = started.json<{ taskId: string; taskLog: string }>();
    assert.match(taskLog, /^local:logs\/tasks\/\d{4}-\d{2}-\d{2}\//);
    await until('the rewrap finished', async () => {
      const r = await app.asOperator(`/api/v1/tasks/${taskId}`);
      return r.json<{ status: string }>().status === 'succeeded';
    });
    const list = await app.asOperator('/api/v1/tasks?kind=rewrap');
    assert.equal(list.status, 200);
    assert.ok(list.json<{ tasks: { id: string }[] }>().tasks.some((t) => t.id === taskId));
    const log = await app.asOperator(`/api/v1/tasks/${taskId}/log`);
    assert.equal(log.status, 200, log.body);
    const events = log.json<{ entries: { event: string }[] }>().entries.map((e) => e.event);
    assert.equal(events[0], 'started');
    assert.equal(events.at(-1), 'finished');
    await expectAudit(app, { action: 'task.run.finished', outcome: 'success', resource: { type: 'task', id: taskId } });
    await expectAudit(app, { action: 'task.log.read', actorId: 'operator', resource: { id: taskId } });
    await expectAudit(app, { action: 'keys.keyring.rewrap', details: { taskId } });

    // On disk: only Strongroom-format objects; none of the log's words in the clear.
    const files = await filesUnder(path.join(app.home, 'logs', 'tasks'));
    assert.ok(files.length >= 1);
    for (const f of files) {
      const bytes = await readFile(f);
      assert.ok(bytes.subarray(0, 4).equals(OBJECT_MAGIC), `${f} is a Strongroom object`);
      for (const word of ['started', 'finished', 'rewrapped', taskId])
        assert.ok(!bytes.includes(word), `${word} in ${f}`);
    }
  });

  test('operator only: no credential 401 (audited), unknown task 404, bad id 422', async () => {
    assert.equal((await app.req('/api/v1/tasks')).status, 401);
    await expectAudit(app, { action: 'task.run.list', outcome: 'denied' });
    const missing = await app.asOperator('/api/v1/tasks/rewrap-nope/log');
    assert.equal(missing.status, 404);
    const bad = await app.asOperator('/api/v1/tasks/..%2F..%2Fetc');
    assert.equal(bad.status, 422);
  });
});

interface Kind {
  name: string;
  missing?: string | undefined;
  start(): Promise<{ open(): BlobDriver; stop(): Promise<void> }>;
}

const KINDS: Kind[] = [
  {
    name: 'local',
    async start() {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-tasklogs-'));
      return { open: () => createLocalDriver({ root: dir }), stop: () => rm(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 's3 (s3rver)',
    missing: s3rverMissing(),
    async start() {
      const peer = await startS3rver(['system']);
      const open = () =>
        createS3Driver({
          bucket: 'system',
          region: 'us-east-1',
          endpoint: peer.endpoint,
          forcePathStyle: true,
          credentials: { ...S3RVER_CREDENTIALS },
        });
      return { open, stop: () => peer.stop() };
    },
  },
  {
    name: 'azure (azurite)',
    missing: azuriteMissing(),
    async start() {
      const peer = await startAzurite();
      await BlobServiceClient.fromConnectionString(peer.connectionString).getContainerClient('system').create();
      const open = () =>
        createAzureDriver({
          container: 'system',
          auth: { kind: 'connection-string', connectionString: peer.connectionString },
        });
      return { open, stop: () => peer.stop() };
    },
  },
  {
    name: 'gcs (GCS peer)',
    async start() {
      const peer = await startGcsPeer({ buckets: ['system'] });
      const open = () =>
        new GcsDriver({ bucket: 'system', apiEndpoint: peer.url, authClient: bearerAuthClient(peer.adminToken) });
      return { open, stop: () => peer.stop() };
    },
  },
];

for (const kind of KINDS) {
  test(`task logs on a ${kind.name} system drive: encrypted, redacted, read back`, async (t) => {
    if (kind.missing && !requirePeer(t, kind.name, false, kind.missing)) return;
    const peer = await kind.start();
    const database = await createTestDatabase('pglite');
    const barrier = createBarrier();
    barrier.unseal(Keyring.create());
    const events: AuditEventInput[] = [];
    try {
      const tasks = createTaskLogs({
        db: database.db,
        barrier,
        systemDrive: { label: kind.name, open: async () => peer.open() },
        recordEvent: async (e) => void events.push(e),
        flushMs: 50,
      });
      const run = await tasks.start('drive-health');
      await run.write({ event: 'started', note: MARKER });
      await new Promise((r) => setTimeout(r, 150)); // an intermediate write while running
      await run.write({
        event: 'checked',
        drive: 'd1',
        password: CANARY,
        detail: `Bearer ${CANARY}`,
        url: `https://u:${CANARY}@h/`,
      });
      run.progress({ checked: 1, failing: 0 });
      await run.finish('succeeded');

      const drive = peer.open();
      const page = await drive.list('logs/tasks/');
      assert.equal(page.items.length, 1, 'the earlier object was replaced, not kept');
      const got = await drive.get(page.items[0]!.key);
      const chunks: Buffer[] = [];
      for await (const c of got.body) chunks.push(c as Buffer);
      const stored = Buffer.concat(chunks);
      assert.ok(stored.subarray(0, 4).equals(OBJECT_MAGIC));
      for (const word of [MARKER, CANARY, 'checked', 'drive-health'])
        assert.ok(!stored.includes(word), `${word} stored in the clear`);
      await drive.close();

      const entries = await tasks.read(run.id);
      assert.deepEqual(
        entries.map((e) => e.event),
        ['started', 'checked'],
      );
      assert.equal(entries[0]!.note, MARKER);
      assert.ok(!JSON.stringify(entries).includes(CANARY), 'the canary never reaches a log');
      assert.equal(entries[1]!.password, '[redacted]');
      const [row] = await tasks.list('drive-health', 10);
      assert.equal(row?.status, 'succeeded');
      assert.deepEqual(row?.progress, { checked: 1, failing: 0 });
      assert.equal(events.length, 1);
      assert.equal(events[0]!.action, 'task.run.finished');
      assert.equal(events[0]!.details?.log, `${kind.name}:${page.items[0]!.key.replace(/[^/]+$/, '')}`);
    } finally {
      await database.close();
      await peer.stop();
    }
  });
}
