/**
 * Resumable upload sessions (C8) over HTTPS on both backends, on the local drive and on every
 * cloud peer (s3rver, Azurite, the project's GCS server): parts out of order and in parallel, a
 * resent part, a part cut off mid-request and sent again, a changed retry refused (no nonce is
 * ever reused), completion verifying every byte, bad input, cancel, expiry cleanup, other users,
 * audit events, and no plaintext on any drive.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { DEFAULT_SEGMENT_SIZE, createObjectCipher } from '../src/core/crypto/object-format.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';
import { createUser, jsonBody, login, ownerSession, type Session } from './helpers/identity.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3Peer } from './peers/s3/s3rver.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type AzuritePeer } from './peers/azurite/azurite.ts';
import { startGcsPeer, type GcsPeer } from './peers/gcs/gcs-peer.ts';
import { registerServiceAccount } from './peers/gcs/service-account.ts';

const DS = '/api/v1/workspaces/default/datasets';
const MARKER = 'RESUMABLE-PLAINTEXT-7c41d2';
const SEG = 64 * 1024;
const PART = 2 * SEG;
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

interface SessionBody {
  id: string;
  version: number;
  size: number;
  partSize: number;
  partCount: number;
  received: number[];
  drive: string;
}
interface Problem {
  code: string;
  detail: string;
  status: number;
}

/** A file of `size` bytes with the marker written all over it. */
function markedFile(size: number): Buffer {
  const b = randomBytes(size);
  for (let at = 0; at + MARKER.length <= size; at += 4096) b.write(MARKER, at);
  return b;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  return out;
}

for (const backend of BACKENDS) {
  describe(`resumable uploads on ${backend}`, () => {
    let app: TestApp;
    let owner: Session;
    let s3: S3Peer;
    let az: AzuritePeer;
    let gcs: GcsPeer;
    let skip = false;

    const openSession = (name: string, body: Record<string, unknown>, who = owner) =>
      who.req(`${DS}/${name}/uploads`, jsonBody(body));
    const putPart = (name: string, id: string, n: number, bytes: Buffer, who = owner) =>
      who.req(`${DS}/${name}/uploads/${id}/parts/${n}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
      });
    const complete = (name: string, id: string, who = owner) =>
      who.req(`${DS}/${name}/uploads/${id}/complete`, { method: 'POST' });
    const partOf = (file: Buffer, n: number, partSize = PART) => file.subarray((n - 1) * partSize, n * partSize);

    before(async () => {
      if (backend === 'postgres' && !(await postgresAvailable())) {
        skip = true;
        return;
      }
      [s3, az, gcs] = await Promise.all([
        startS3rver(['lake']),
        startAzurite(),
        startGcsPeer({ buckets: ['gcs-bucket'] }),
      ]);
      await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('datasets').create();
      app = await startTestApp(backend, {
        env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
      });
      owner = (await ownerSession(app)).session;
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
          credentials: {
            provider: 'azure',
            kind: 'account-key',
            accountName: AZURITE_ACCOUNT,
            accountKey: AZURITE_KEY,
          },
        },
        {
          name: 'gcs',
          kind: 'gcs',
          config: { bucket: 'gcs-bucket', endpoint: gcs.url, prefix: 'sr' },
          credentials: {
            provider: 'gcs',
            kind: 'service-account',
            serviceAccount: await registerServiceAccount(gcs, { access: 'write' }),
          },
        },
      ];
      for (const d of drives) {
        const added = await owner.req('/api/v1/workspaces/default/drives', jsonBody(d));
        assert.equal(added.status, 201, added.body);
      }
    });
    after(async () => {
      await app?.close();
      await Promise.all([s3?.stop(), az?.stop(), gcs?.stop()]);
    });

    for (const drive of ['default', 'lake', 'blob', 'gcs']) {
      test(`${drive} drive: parts out of order and in parallel, a resent part, status, complete, identical download and ranges`, async (t) => {
        if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
        const name = `big-${drive}`;
        const file = markedFile(2 * PART + 1234);
        const opened = await openSession(name, {
          size: file.length,
          partSize: PART,
          sha256: sha(file),
          drive,
          filename: 'big.bin',
        });
        assert.equal(opened.status, 201, opened.body);
        const s = opened.json<SessionBody>();
        assert.match(s.id, /^up_[0-9a-f]{32}$/);
        assert.deepEqual(
          [s.version, s.size, s.partSize, s.partCount, s.received, s.drive],
          [1, file.length, PART, 3, [], drive],
        );
        // The version is not visible while the session is open.
        assert.equal((await owner.req(`${DS}/${name}`)).json<{ versions: unknown[] }>().versions.length, 0);

        const last = await putPart(name, s.id, 3, partOf(file, 3));
        assert.equal(last.status, 200, last.body);
        assert.deepEqual(last.json(), { part: 3, size: 1234, alreadyStored: false });
        const [p1, p2] = await Promise.all([
          putPart(name, s.id, 1, partOf(file, 1)),
          putPart(name, s.id, 2, partOf(file, 2)),
        ]);
        assert.equal(p1.status, 200, p1.body);
        assert.equal(p2.status, 200, p2.body);
        const again = await putPart(name, s.id, 2, partOf(file, 2));
        assert.deepEqual(
          again.json(),
          { part: 2, size: PART, alreadyStored: true },
          'resending the same bytes is a no-op',
        );
        assert.deepEqual((await owner.req(`${DS}/${name}/uploads/${s.id}`)).json<SessionBody>().received, [1, 2, 3]);

        const done = await complete(name, s.id);
        assert.equal(done.status, 201, done.body);
        const v = done.json<{
          version: { version: number; size: number; sha256: string; drive: string; filename: string };
        }>().version;
        assert.deepEqual(
          [v.version, v.size, v.sha256, v.drive, v.filename],
          [1, file.length, sha(file), drive, 'big.bin'],
        );
        const got = await owner.req(`${DS}/${name}/versions/1/content`);
        assert.equal(got.status, 200);
        assert.ok(got.raw.equals(file), 'the download is byte-identical');
        const mid = await owner.req(`${DS}/${name}/versions/1/content`, {
          headers: { range: `bytes=${PART - 10}-${PART + 9}` },
        });
        assert.equal(mid.status, 206);
        assert.ok(mid.raw.equals(file.subarray(PART - 10, PART + 10)), 'a range across the part boundary');
        // The session is spent: its id no longer answers, and a second complete is refused.
        assert.equal((await owner.req(`${DS}/${name}/uploads/${s.id}`)).status, 404);
        assert.equal((await complete(name, s.id)).status, 404);
        if (drive === 'default') {
          const files = await filesUnder(path.join(app.home, 'drives'));
          assert.deepEqual(
            files.filter((f) => f.includes(`${path.sep}uploads${path.sep}`)),
            [],
            'part objects are removed after completion',
          );
          for (const f of files)
            assert.equal((await readFile(f)).includes(MARKER), false, `plaintext marker found in ${f}`);
        }
      });
    }

    test('a part cut off mid-request is not stored; sending it again completes the upload', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const file = markedFile(3 * PART);
      const s = (await openSession('cut', { size: file.length, partSize: PART })).json<SessionBody>();
      assert.equal((await putPart('cut', s.id, 1, partOf(file, 1))).status, 200);
      // Send half of part 2, then drop the connection.
      await new Promise<void>((resolve) => {
        const req = https.request({
          host: '127.0.0.1',
          port: app.server.httpsPort,
          path: `${DS}/cut/uploads/${s.id}/parts/2`,
          method: 'PUT',
          ca: app.ca,
          servername: 'localhost',
          agent: false,
          headers: {
            cookie: owner.cookie,
            'x-csrf-token': owner.csrf,
            'content-type': 'application/octet-stream',
            'content-length': String(PART),
          },
        });
        req.on('error', () => resolve());
        req.write(partOf(file, 2).subarray(0, PART / 2), () =>
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 200),
        );
      });
      let received: number[] = [];
      for (let i = 0; i < 20; i++) {
        received = (await owner.req(`${DS}/cut/uploads/${s.id}`)).json<SessionBody>().received;
        if (received.length === 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(received, [1], 'the cut part is not stored');
      const early = await complete('cut', s.id);
      assert.equal(early.status, 409);
      assert.match(early.json<Problem>().detail, /missing: 2, 3/);
      assert.equal((await putPart('cut', s.id, 2, partOf(file, 2))).status, 200);
      assert.equal((await putPart('cut', s.id, 3, partOf(file, 3))).status, 200);
      const done = await complete('cut', s.id);
      assert.equal(done.status, 201, done.body);
      assert.equal(done.json<{ version: { sha256: string } }>().version.sha256, sha(file));
      assert.ok((await owner.req(`${DS}/cut/versions/1/content`)).raw.equals(file));
    });

    test('at most 16 parts are received at once; the 17th is told to retry (429), and is accepted once the others are done', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const file = markedFile(20 * SEG);
      const s = (await openSession('crowd', { size: file.length, partSize: SEG })).json<SessionBody>();
      const held = Array.from({ length: 16 }, (_, i) =>
        https
          .request({
            host: '127.0.0.1',
            port: app.server.httpsPort,
            path: `${DS}/crowd/uploads/${s.id}/parts/${i + 1}`,
            method: 'PUT',
            ca: app.ca,
            servername: 'localhost',
            agent: false,
            headers: {
              cookie: owner.cookie,
              'x-csrf-token': owner.csrf,
              'content-type': 'application/octet-stream',
              'content-length': String(SEG),
            },
          })
          .on('error', () => undefined),
      );
      for (const [i, req] of held.entries()) req.write(partOf(file, i + 1, SEG).subarray(0, 1000));
      for (let i = 0; i < 600 && app.server.uploads.partsInFlight() < 16; i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(app.server.uploads.partsInFlight(), 16, 'the 16 held parts are being received');
      const refused = await putPart('crowd', s.id, 17, partOf(file, 17, SEG));
      assert.equal(refused.status, 429, refused.body);
      assert.match(refused.json<Problem>().detail, /again/);
      const answers = held.map(
        (req) =>
          new Promise<number>((resolve) => req.on('response', (res) => (res.resume(), resolve(res.statusCode ?? 0)))),
      );
      for (const [i, req] of held.entries()) req.end(partOf(file, i + 1, SEG).subarray(1000));
      assert.deepEqual(await Promise.all(answers), Array(16).fill(200));
      assert.equal((await putPart('crowd', s.id, 17, partOf(file, 17, SEG))).status, 200);
      assert.equal((await owner.req(`${DS}/crowd/uploads/${s.id}`, { method: 'DELETE' })).status, 204);
    });

    test('a part resent with different bytes is refused before anything is sealed; the stored part is unchanged', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const file = markedFile(2 * PART);
      const s = (await openSession('changed', { size: file.length, partSize: PART })).json<SessionBody>();
      assert.equal((await putPart('changed', s.id, 1, partOf(file, 1))).status, 200);
      const partFile = (await filesUnder(path.join(app.home, 'drives'))).find(
        (f) => f.endsWith(`${path.sep}00001`) && f.includes('uploads'),
      );
      assert.ok(partFile, 'the sealed part is a file under uploads/');
      const sealed = await readFile(partFile);
      const other = Buffer.from(partOf(file, 1));
      other[5]! ^= 1;
      const res = await putPart('changed', s.id, 1, other);
      assert.equal(res.status, 409, res.body);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.match(res.json<Problem>().detail, /different|changed/i);
      assert.ok((await readFile(partFile)).equals(sealed), 'the stored ciphertext was not replaced');
      assert.equal((await owner.req(`${DS}/changed/uploads/${s.id}`, { method: 'DELETE' })).status, 204);
    });

    test('a session keeps the segment size of its header: parts, completion and reads follow it', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      // The header (and its segment size) is fixed when a session opens; everything after reads
      // it from there, not from this writer's default. Give a fresh session a 16 KiB-segment
      // header under its own data key before any part is sealed.
      const file = markedFile(2 * PART + 1234);
      const s = (await openSession('segsize', { size: file.length, partSize: PART })).json<SessionBody>();
      const { db } = app.server.database;
      const row = await db
        .selectFrom('dataset_versions')
        .selectAll()
        .where('workspace_id', '=', 'default')
        .where('dataset', '=', 'segsize')
        .where('version', '=', s.version)
        .executeTakeFirstOrThrow();
      const segmentSize = 16 * 1024;
      assert.notEqual(segmentSize, DEFAULT_SEGMENT_SIZE);
      const enc = await app.server.workspaceKeys.encryptorFor('default');
      const dataKey = enc.unwrapDataKey(row.object_id, Buffer.from(row.wrapped_dek));
      const cipher = createObjectCipher({
        dataKey,
        workspaceId: 'default',
        objectId: row.object_id,
        keyTerm: row.key_term,
        segmentSize,
      });
      cipher.contentKey.fill(0);
      await db
        .updateTable('dataset_versions')
        .set({ header: cipher.headerBytes })
        .where('object_id', '=', row.object_id)
        .execute();
      for (let n = 1; n <= 3; n++) assert.equal((await putPart('segsize', s.id, n, partOf(file, n))).status, 200);
      const changed = Buffer.from(partOf(file, 2));
      changed[0]! ^= 1;
      const refused = await putPart('segsize', s.id, 2, changed);
      assert.equal(refused.status, 409, refused.body);
      assert.equal(refused.json<{ segment?: number }>().segment, PART / segmentSize, 'part 2 starts at segment 8');
      const done = await complete('segsize', s.id);
      assert.equal(done.status, 201, done.body);
      const whole = await owner.req(`${DS}/segsize/versions/${s.version}/content`);
      assert.equal(whole.status, 200);
      assert.ok(whole.raw.equals(file));
      const r = await owner.req(`${DS}/segsize/versions/${s.version}/content`, {
        headers: { range: `bytes=${PART - 10}-${PART + 20000}` },
      });
      assert.equal(r.status, 206);
      assert.ok(r.raw.equals(file.subarray(PART - 10, PART + 20001)));
    });

    test('a part altered on the drive fails completion closed (DECRYPTION_FAILED), nothing visible', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const file = markedFile(2 * PART + 5);
      const s = (await openSession('tampered', { size: file.length, partSize: PART })).json<SessionBody>();
      for (const n of [1, 2, 3]) assert.equal((await putPart('tampered', s.id, n, partOf(file, n))).status, 200);
      const row = await app.server.database.db
        .selectFrom('dataset_versions')
        .select(['object_id', 'object_key'])
        .where('dataset', '=', 'tampered')
        .executeTakeFirstOrThrow();
      const partFile = (await filesUnder(path.join(app.home, 'drives'))).find((f) =>
        f.endsWith(path.join('uploads', row.object_id, '00002')),
      )!;
      const bytes = await readFile(partFile);
      bytes[1000]! ^= 0x40;
      await writeFile(partFile, bytes);
      const res = await complete('tampered', s.id);
      assert.equal(res.status, 409, res.body);
      assert.equal(res.json<Problem>().code, 'DECRYPTION_FAILED');
      assert.equal((await owner.req(`${DS}/tampered`)).json<{ versions: unknown[] }>().versions.length, 0);
      assert.equal(
        (await filesUnder(path.join(app.home, 'drives'))).some((f) =>
          f.endsWith(row.object_key.split('/').join(path.sep)),
        ),
        false,
        'no joined object was left',
      );
      assert.equal((await owner.req(`${DS}/tampered/uploads/${s.id}`, { method: 'DELETE' })).status, 204);
    });

    test('bad input: each a 4xx problem+json; nothing becomes visible', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const bad = async (
        res: Promise<{ status: number; headers: Record<string, unknown>; body: string }>,
        status: number,
      ) => {
        const r = await res;
        assert.equal(r.status, status, r.body);
        assert.match(String(r.headers['content-type']), /application\/problem\+json/);
        assert.doesNotMatch(r.body, /at .*\.ts:\d+/, 'no stack trace');
      };
      await bad(openSession('bad', { size: 0 }), 422);
      await bad(openSession('bad', { size: 10, partSize: SEG + 1 }), 422);
      await bad(openSession('bad', { size: 10, partSize: 64 * 1024 * 1024 }), 422);
      await bad(openSession('bad', { size: '10' }), 422);
      await bad(openSession('bad', { size: 10, extra: true }), 422);
      await bad(openSession('bad', { size: 10, drive: 'nope' }), 422);
      await bad(openSession('..%2Fetc', { size: 10 }), 422);
      await bad(openSession('bad', { size: 10, filename: '../../etc/passwd' }), 422);
      await bad(openSession('bad', { size: 10, partSize: SEG, sha256: 'xyz' }), 422);
      await bad(openSession('bad', { size: SEG * 10_001, partSize: SEG }), 422);

      const file = markedFile(PART + 100);
      const s = (
        await openSession('bad', { size: file.length, partSize: PART, sha256: sha(Buffer.from('not this')) })
      ).json<SessionBody>();
      await bad(openSession('bad', { size: 10 }), 409); // one open upload per dataset
      await bad(putPart('bad', s.id, 1, partOf(file, 1).subarray(1)), 422); // short
      await bad(putPart('bad', s.id, 2, file.subarray(0, 101)), 422); // long
      await bad(putPart('bad', s.id, 3, Buffer.alloc(1)), 422); // beyond the last part
      await bad(putPart('bad', s.id, 0, Buffer.alloc(1)), 422);
      await bad(putPart('bad', s.id, 1, Buffer.alloc(0)), 422); // empty
      await bad(
        owner.req(`${DS}/bad/uploads/${s.id}/parts/1`, {
          method: 'PUT',
          headers: { 'content-type': 'text/plain' },
          body: 'x',
        }),
        415,
      );
      await bad(owner.req(`${DS}/bad/uploads/up_${'0'.repeat(32)}`), 404);
      await bad(owner.req(`${DS}/bad/uploads/not-an-id`), 422);
      await bad(owner.req(`${DS}/other/uploads/${s.id}`), 404); // the id belongs to another dataset
      await bad(complete('bad', s.id), 409); // parts missing
      assert.equal((await putPart('bad', s.id, 1, partOf(file, 1))).status, 200);
      assert.equal((await putPart('bad', s.id, 2, partOf(file, 2))).status, 200);
      const wrongSha = await complete('bad', s.id);
      assert.equal(wrongSha.status, 422, wrongSha.body);
      assert.match(wrongSha.json<Problem>().detail, /SHA-256/);
      assert.equal(
        (await owner.req(`${DS}/bad`)).json<{ versions: unknown[] }>().versions.length,
        0,
        'nothing visible',
      );
      assert.equal((await owner.req(`${DS}/bad/uploads/${s.id}`, { method: 'DELETE' })).status, 204);
    });

    test('only the session owner may use it; a viewer may not open one', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const s = (await openSession('mine', { size: 10, partSize: SEG })).json<SessionBody>();
      await createUser(app, 'engineer-up@corp.test', { role: 'engineer' });
      const eng = await login(app, 'engineer-up@corp.test');
      assert.equal(
        (await putPart('mine', s.id, 1, Buffer.alloc(10), eng)).status,
        404,
        'another user cannot add to it',
      );
      assert.equal((await complete('mine', s.id, eng)).status, 404);
      assert.equal((await eng.req(`${DS}/mine/uploads/${s.id}`, { method: 'DELETE' })).status, 404);
      await createUser(app, 'viewer-up@corp.test', { role: 'viewer' });
      const viewer = await login(app, 'viewer-up@corp.test');
      const denied = await openSession('viewer-ds', { size: 10 }, viewer);
      assert.equal(denied.status, 403, denied.body);
      assert.equal((await owner.req(`${DS}/mine/uploads/${s.id}`, { method: 'DELETE' })).status, 204);
    });

    test('cancel removes the parts and the reserved version; expired sessions are cleaned up', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const db = app.server.database.db;
      const uploadFiles = async () =>
        (await filesUnder(path.join(app.home, 'drives'))).filter((f) => f.includes(`${path.sep}uploads${path.sep}`));
      const base = (await uploadFiles()).length;
      const file = markedFile(2 * PART);
      const s = (await openSession('cancelled', { size: file.length, partSize: PART })).json<SessionBody>();
      assert.equal((await putPart('cancelled', s.id, 1, partOf(file, 1))).status, 200);
      assert.equal((await uploadFiles()).length, base + 1);
      assert.equal((await owner.req(`${DS}/cancelled/uploads/${s.id}`, { method: 'DELETE' })).status, 204);
      assert.equal((await uploadFiles()).length, base, 'its part is gone');
      assert.equal(
        (await db.selectFrom('dataset_versions').select('version').where('dataset', '=', 'cancelled').execute()).length,
        0,
      );
      assert.equal((await owner.req(`${DS}/cancelled/uploads/${s.id}`)).status, 404);

      const e = (await openSession('expiring', { size: file.length, partSize: PART })).json<SessionBody>();
      assert.equal((await putPart('expiring', e.id, 2, partOf(file, 2))).status, 200);
      const r0 = await app.server.uploads.cleanup();
      assert.equal(r0.removed, 0, 'an open session is left alone');
      assert.equal((await app.server.datasets.cleanup(0)).removed, 0, 'and the orphan sweep does not touch it either');
      await db
        .updateTable('dataset_uploads')
        .set({ expires_at: new Date(Date.now() - 1000) })
        .where('id', '=', e.id)
        .execute();
      assert.equal(
        (await putPart('expiring', e.id, 1, partOf(file, 1))).status,
        404,
        'an expired session takes nothing',
      );
      const r1 = await app.server.uploads.cleanup();
      assert.equal(r1.removed, 1);
      assert.equal((await uploadFiles()).length, base);
      assert.equal(
        (await db.selectFrom('dataset_versions').select('version').where('dataset', '=', 'expiring').execute()).length,
        0,
      );
    });

    test('a browser form (multipart/form-data) upload streams into a version; bad forms are 4xx', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const form = async (fill: (fd: FormData) => void) => {
        const fd = new FormData();
        fill(fd);
        const encoded = new Response(fd);
        return { body: Buffer.from(await encoded.arrayBuffer()), type: encoded.headers.get('content-type')! };
      };
      const post = async (name: string, f: { body: Buffer; type: string }, o: { csrf?: false } = {}) =>
        owner.req(`${DS}/${name}/versions`, {
          method: 'POST',
          headers: { 'content-type': f.type },
          body: f.body,
          ...o,
        });
      const file = markedFile(3 * 1024 * 1024 + 7);
      const ok = await post(
        'form-upload',
        await form((fd) => {
          fd.append('description', 'from the browser');
          fd.append('tag', 'finance');
          fd.append('sha256', sha(file));
          fd.append('file', new Blob([file], { type: 'text/csv' }), '../../etc/report.csv');
          fd.append('drive', 'ignored-after-the-file');
        }),
      );
      assert.equal(ok.status, 201, ok.body);
      const v = ok.json<{
        version: { version: number; size: number; sha256: string; filename: string; mediaType: string };
      }>().version;
      assert.deepEqual(
        [v.version, v.size, v.sha256, v.filename, v.mediaType],
        [1, file.length, sha(file), 'report.csv', 'text/csv'],
      );
      const meta = (await owner.req(`${DS}/form-upload`)).json<{ description: string; tags: string[] }>();
      assert.deepEqual([meta.description, meta.tags], ['from the browser', ['finance']]);
      assert.ok((await owner.req(`${DS}/form-upload/versions/1/content`)).raw.equals(file));
      for (const f of await filesUnder(path.join(app.home, 'drives')))
        assert.equal((await readFile(f)).includes(MARKER), false, `plaintext marker found in ${f}`);

      const bad = async (
        f: { body: Buffer; type: string },
        status: number,
        detail: RegExp,
        o: { csrf?: false } = {},
      ) => {
        const r = await post('form-bad', f, o);
        assert.equal(r.status, status, r.body);
        assert.match(String(r.headers['content-type']), /application\/problem\+json/);
        assert.match(r.json<Problem>().detail, detail);
      };
      await bad(await form((fd) => fd.append('description', 'no file')), 422, /no file/);
      await bad(await form((fd) => fd.append('upload', new Blob([file]), 'a.bin')), 422, /field named "file"/);
      await bad(
        await form((fd) => {
          fd.append('sha256', 'not-hex');
          fd.append('file', new Blob([file]), 'a.bin');
        }),
        422,
        /sha256/,
      );
      await bad(
        await form((fd) => {
          fd.append('sha256', sha('other'));
          fd.append('file', new Blob([file]), 'a.bin');
        }),
        422,
        /SHA-256/,
      );
      await bad(
        await form((fd) => {
          fd.append('unknown', 'x');
          fd.append('file', new Blob([file]), 'a.bin');
        }),
        422,
        /unknown|Unrecognized/i,
      );
      await bad(await form((fd) => fd.append('file', new Blob([]), 'empty.bin')), 422, /empty/);
      await bad(
        {
          body: Buffer.from('--nope\r\ncontent-disposition: form-data; name="file"\r\n\r\nabc'),
          type: 'multipart/form-data; boundary=other',
        },
        400,
        /could not be read/,
      );
      await bad({ body: Buffer.from('x'), type: 'text/plain' }, 415, /multipart/);
      const noCsrf = await post('form-bad', await form((fd) => fd.append('file', new Blob([file]), 'a.bin')), {
        csrf: false,
      });
      assert.equal(noCsrf.status, 403);
      assert.equal((await owner.req(`${DS}/form-bad`)).status, 404, 'nothing of the refused forms is visible');
    });

    test('every step is audited: open, parts, the version, cancel', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const file = markedFile(PART + 1);
      const s = (await openSession('audited', { size: file.length, partSize: PART })).json<SessionBody>();
      await putPart('audited', s.id, 1, partOf(file, 1));
      await putPart('audited', s.id, 2, partOf(file, 2));
      assert.equal((await complete('audited', s.id)).status, 201);
      await app.server.audit.chainPending();
      const rows = await app.server.database.db
        .selectFrom('audit_events')
        .select(['action', 'outcome'])
        .where('resource_id', '=', 'audited')
        .orderBy('seq')
        .execute();
      assert.deepEqual(
        rows.map((r) => `${r.action}:${r.outcome}`),
        [
          'dataset.upload.open:success',
          'dataset.upload.part:success',
          'dataset.upload.part:success',
          'dataset.version.create:success',
        ],
      );
    });
  });
}
