/**
 * Encrypted datasets (C8) over HTTPS on both backends: streaming upload to the default local
 * drive and to an S3 drive (s3rver), versions, tabular detection, whole and ranged downloads, no
 * plaintext on any drive or in the data directory, bad input (empty, wrong size, wrong checksum,
 * bad names, wrong media type, a Range past the end, concurrent uploads, an interrupted upload),
 * deletion removing objects, the cleanup of crashed uploads, audit events, and crypto-shredding.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { DEFAULT_SEGMENT_SIZE, OBJECT_HEADER_LENGTH, encryptObject } from '../src/core/crypto/object-format.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';
import { jsonBody, ownerSession, type Session } from './helpers/identity.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3Peer } from './peers/s3/s3rver.ts';

const DS = '/api/v1/workspaces/default/datasets';
const MARKER = 'PLAINTEXT-MARKER-5f1e0c93';
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  return out;
}

async function scanFor(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const f of await filesUnder(dir)) if ((await readFile(f)).includes(needle)) hits.push(f);
  return hits;
}

for (const backend of BACKENDS) {
  describe(`datasets on ${backend}`, () => {
    let app: TestApp;
    let owner: Session;
    let s3: S3Peer;
    let skip = false;

    const upload = (name: string, body: Buffer | string, query = '', headers: Record<string, string> = {}) =>
      owner.req(`${DS}/${name}/versions${query}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', ...headers },
        body: typeof body === 'string' ? body : body,
      });
    const download = (name: string, v: number, headers: Record<string, string> = {}) =>
      owner.req(`${DS}/${name}/versions/${v}/content`, { headers });

    before(async () => {
      if (backend === 'postgres' && !(await postgresAvailable())) {
        skip = true;
        return;
      }
      s3 = await startS3rver(['lake']);
      app = await startTestApp(backend, {
        env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
      });
      owner = (await ownerSession(app)).session;
      const added = await owner.req(
        '/api/v1/workspaces/default/drives',
        jsonBody({
          name: 'lake',
          kind: 's3',
          config: { bucket: 'lake', endpoint: s3.endpoint, pathStyle: true },
          credentials: { provider: 's3', ...S3RVER_CREDENTIALS },
        }),
      );
      assert.equal(added.status, 201, added.body);
    });
    after(async () => {
      await app?.close();
      await s3?.stop();
    });

    test('a CSV upload becomes version 1 with its schema; the download is byte-identical; nothing plaintext on disk', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const rows = Array.from(
        { length: 3000 },
        (_, i) => `${i},${MARKER}-${i},${(i * 1.5).toFixed(1)},2026-11-${String((i % 28) + 1).padStart(2, '0')}`,
      );
      const csv = `id,label,score,day\n${rows.join('\n')}\n`;
      const res = await upload(
        'sales',
        csv,
        `?filename=sales.csv&mediaType=text/csv&sha256=${sha(csv)}&size=${Buffer.byteLength(csv)}&tag=finance`,
      );
      assert.equal(res.status, 201, res.body);
      const v = res.json<{
        version: {
          version: number;
          size: number;
          sha256: string;
          tabularFormat: string;
          schema: { columns: { name: string; type: string }[] };
        };
      }>().version;
      assert.equal(v.version, 1);
      assert.equal(v.size, Buffer.byteLength(csv));
      assert.equal(v.sha256, sha(csv));
      assert.equal(v.tabularFormat, 'csv');
      assert.deepEqual(
        v.schema.columns.map((c) => `${c.name}:${c.type}`),
        ['id:integer', 'label:string', 'score:number', 'day:timestamp'],
      );

      const got = await download('sales', 1);
      assert.equal(got.status, 200);
      assert.equal(got.headers['x-content-sha256'], sha(csv));
      assert.equal(got.headers['content-type'], 'application/octet-stream');
      assert.match(String(got.headers['content-disposition']), /attachment; filename\*=UTF-8''sales\.csv/);
      assert.equal(sha(got.raw), sha(csv));

      // Tag rules apply per dataset: `pii` needs clearance 2 and MFA; this owner has no clearance.
      assert.equal((await upload('people', 'name,email\nAda,ada@example.test\n', '?tag=pii')).status, 201);
      const denied = await download('people', 1);
      assert.equal(denied.status, 403, 'pii content is denied without clearance');
      assert.equal((await owner.req(`${DS}/people`)).status, 200, 'metadata stays readable');

      assert.deepEqual(await scanFor(app.home, MARKER), [], 'no plaintext in the data directory or the local drive');
      const objects = (await filesUnder(path.join(app.home, 'drives'))).filter((f) => f.includes('objects'));
      assert.equal(objects.length, 2, 'one object per version on the default drive');
      for (const o of objects) {
        assert.match(path.basename(o), /^[0-9a-f]{32}$/, 'object names are random');
        assert.ok(!o.includes('sales') && !o.includes('people'), 'dataset names are not in object names');
      }
    });

    test('ranges: only the needed segments, 206 with Content-Range; a range past the end is 416 problem+json', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const data = randomBytes(300_000);
      assert.equal((await upload('blob', data)).status, 201);
      for (const [h, from, to] of [
        ['bytes=0-0', 0, 0],
        ['bytes=65530-65545', 65530, 65545],
        ['bytes=131072-', 131072, 299_999],
        ['bytes=-10', 299_990, 299_999],
        ['bytes=299999-400000', 299_999, 299_999],
      ] as const) {
        const r = await download('blob', 1, { range: h });
        assert.equal(r.status, 206, h);
        assert.equal(r.headers['content-range'], `bytes ${from}-${to}/300000`, h);
        assert.deepEqual(r.raw, data.subarray(from, to + 1), h);
      }
      const bad = await download('blob', 1, { range: 'bytes=300000-' });
      assert.equal(bad.status, 416);
      assert.match(String(bad.headers['content-type']), /application\/problem\+json/);
      assert.equal(bad.headers['content-range'], 'bytes */300000');
      assert.equal((await download('blob', 1, { range: 'bytes=5-1' })).status, 416);
      assert.equal((await download('blob', 1, { range: 'items=1-2' })).status, 416);
    });

    test('an object keeps the segment size it was written with: another size reads whole and by range', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      // Readers take the segment size from each object's header (16 B … 16 MiB), never from this
      // writer's default: re-encrypt a stored version with 16 KiB segments under its own key.
      const data = randomBytes(300_000);
      assert.equal((await upload('segsize', data)).status, 201);
      const { db } = app.server.database;
      const row = await db
        .selectFrom('dataset_versions')
        .selectAll()
        .where('workspace_id', '=', 'default')
        .where('dataset', '=', 'segsize')
        .where('version', '=', 1)
        .executeTakeFirstOrThrow();
      const enc = await app.server.workspaceKeys.encryptorFor('default');
      const dataKey = enc.unwrapDataKey(row.object_id, Buffer.from(row.wrapped_dek));
      const segmentSize = 16 * 1024;
      assert.notEqual(segmentSize, DEFAULT_SEGMENT_SIZE);
      const object = encryptObject(
        { dataKey, workspaceId: 'default', objectId: row.object_id, keyTerm: row.key_term, segmentSize },
        data,
      );
      const driver = await app.server.drives.open('default', row.drive);
      try {
        await driver.put(row.object_key, object, { contentLength: object.length });
      } finally {
        await driver.close();
      }
      await db
        .updateTable('dataset_versions')
        .set({ header: object.subarray(0, OBJECT_HEADER_LENGTH) })
        .where('object_id', '=', row.object_id)
        .execute();

      const whole = await download('segsize', 1);
      assert.equal(whole.status, 200);
      assert.deepEqual(whole.raw, data);
      for (const [h, from, to] of [
        ['bytes=0-0', 0, 0],
        ['bytes=16380-16390', 16380, 16390],
        ['bytes=65530-65545', 65530, 65545],
        ['bytes=131072-', 131072, 299_999],
        ['bytes=-10', 299_990, 299_999],
      ] as const) {
        const r = await download('segsize', 1, { range: h });
        assert.equal(r.status, 206, h);
        assert.deepEqual(r.raw, data.subarray(from, to + 1), h);
      }
    });

    test('an S3 drive: 3 MiB round trip, a second version, ranges across segment boundaries, ciphertext only in the bucket', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const a = Buffer.concat([Buffer.from(MARKER), randomBytes(3 * 1024 * 1024)]);
      const b = Buffer.concat([Buffer.from(MARKER), randomBytes(70_000)]);
      assert.equal((await upload('remote', a, '?drive=lake')).status, 201);
      const second = await upload('remote', b, '?drive=lake');
      assert.equal(second.status, 201);
      assert.equal(second.json<{ version: { version: number; drive: string } }>().version.version, 2);
      assert.equal(sha((await download('remote', 1)).raw), sha(a));
      assert.equal(sha((await download('remote', 2)).raw), sha(b));
      const r = await download('remote', 1, { range: 'bytes=65000-200000' });
      assert.deepEqual(r.raw, a.subarray(65000, 200001));
      const listed = (await owner.req(`${DS}/remote`)).json<{ versions: { version: number; drive: string }[] }>();
      assert.deepEqual(
        listed.versions.map((v) => [v.version, v.drive]),
        [
          [1, 'lake'],
          [2, 'lake'],
        ],
      );
      const driver = await app.server.drives.open('default', 'lake');
      const keys = (await driver.list('')).items.map((i) => i.key);
      assert.equal(keys.length, 2);
      for (const k of keys) {
        const bytes = Buffer.concat(await (await driver.get(k)).body.toArray());
        assert.ok(!bytes.includes(MARKER), 'no plaintext in the bucket');
        assert.equal(bytes.subarray(0, 4).toString('latin1'), 'SROB');
      }
      await driver.close();
      assert.equal(
        (await owner.req('/api/v1/workspaces/default/drives/lake', { method: 'DELETE' })).status,
        409,
        'a drive holding datasets cannot be removed',
      );
    });

    test('bad input: each a 4xx problem+json, nothing visible, no leftover objects', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const before = (await filesUnder(path.join(app.home, 'drives'))).length;
      // One at a time: concurrent uploads of one dataset are refused by design (409).
      const cases: [
        string,
        () => Promise<{ status: number; headers: Record<string, unknown>; body: string }>,
        number,
      ][] = [
        ['empty body', () => upload('bad', ''), 422],
        ['wrong declared size', () => upload('bad', 'hello world', '?size=5'), 422],
        ['wrong checksum', () => upload('bad', 'hello world', `?sha256=${'0'.repeat(64)}`), 422],
        ['json media type', () => owner.req(`${DS}/bad/versions`, jsonBody({ a: 1 }, 'PUT')), 415],
        ['dot-dot name', () => upload('..', 'x'), 404],
        ['traversal name', () => upload('..%2Fetc', 'x'), 422],
        ['control character name', () => upload('a%01b', 'x'), 422],
        ['unknown drive', () => upload('bad', 'x', '?drive=nope'), 422],
        ['unknown query field', () => upload('bad', 'x', '?evil=1'), 422],
        ['bad sha format', () => upload('bad', 'x', '?sha256=xyz'), 422],
        ['negative size', () => upload('bad', 'x', '?size=-1'), 422],
      ];
      for (const [label, p, status] of cases) {
        const r = await p();
        assert.equal(r.status, status, `${label}: ${r.status} ${r.body}`);
        assert.match(String(r.headers['content-type']), /application\/problem\+json/, label);
      }
      assert.equal((await owner.req(`${DS}/bad`)).status, 404, 'no visible version, no dataset with versions');
      assert.equal((await filesUnder(path.join(app.home, 'drives'))).length, before, 'no leftover objects');
      assert.equal((await download('sales', 99)).status, 404);
    });

    test('concurrent uploads of one dataset: one wins, the other is 409; an interrupted upload leaves nothing', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      // A slow upload holds the dataset while a second one arrives.
      const slow = new Promise<number>((resolve, reject) => {
        const req = https.request(
          {
            host: '127.0.0.1',
            port: app.server.httpsPort,
            path: `${DS}/race/versions`,
            method: 'PUT',
            ca: app.ca,
            servername: 'localhost',
            agent: false,
            headers: {
              cookie: owner.cookie,
              'x-csrf-token': owner.csrf,
              'content-type': 'application/octet-stream',
              'content-length': String(2 * 1024 * 1024),
            },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.write(randomBytes(1024 * 1024));
        setTimeout(() => req.end(randomBytes(1024 * 1024)), 700);
      });
      await new Promise((r) => setTimeout(r, 300));
      const second = await upload('race', 'second');
      assert.equal(second.status, 409, second.body);
      assert.equal(await slow, 201);

      const before = (await filesUnder(path.join(app.home, 'drives'))).length;
      await new Promise<void>((resolve) => {
        const req = https.request({
          host: '127.0.0.1',
          port: app.server.httpsPort,
          path: `${DS}/cut/versions`,
          method: 'PUT',
          ca: app.ca,
          servername: 'localhost',
          agent: false,
          headers: {
            cookie: owner.cookie,
            'x-csrf-token': owner.csrf,
            'content-type': 'application/octet-stream',
            'content-length': String(8 * 1024 * 1024),
          },
        });
        req.on('error', () => resolve());
        req.write(randomBytes(2 * 1024 * 1024), () =>
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 200),
        );
      });
      // The server notices the dropped connection and removes the partial upload.
      for (
        let i = 0;
        i < 50 &&
        (
          await app.server.database.db
            .selectFrom('dataset_versions')
            .select('version')
            .where('dataset', '=', 'cut')
            .execute()
        ).length > 0;
        i++
      )
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(
        (
          await app.server.database.db
            .selectFrom('dataset_versions')
            .select('version')
            .where('dataset', '=', 'cut')
            .execute()
        ).length,
        0,
      );
      assert.equal(
        (await owner.req(`${DS}/cut`)).status === 404 ||
          (await owner.req(`${DS}/cut`)).json<{ versions: unknown[] }>().versions.length === 0,
        true,
      );
      assert.equal((await filesUnder(path.join(app.home, 'drives'))).length, before, 'the partial object is gone');
    });

    test('a crashed upload (row and partial object left behind) is removed by the cleanup; committed versions stay', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const srv = app.server;
      const actor = { id: 'crash-test', kind: 'user' } as never;
      const handle = await srv.datasets.begin(actor, 'default', 'crashy', {
        drive: 'default',
        mediaType: 'application/octet-stream',
      });
      const driver = await srv.drives.open('default', 'default');
      await driver.put(handle.objectKey, Buffer.from('partial ciphertext'));
      await driver.close();
      assert.equal(
        (await owner.req(`${DS}/crashy`)).json<{ versions: unknown[] }>().versions.length,
        0,
        'an uploading version is never listed',
      );
      assert.equal((await download('crashy', handle.version)).status, 404, 'nor served');
      // Its lease is live (this process owns it): the cleanup leaves it alone, whatever the orphan age.
      await srv.datasets.cleanup(0);
      assert.equal(
        (await srv.database.db.selectFrom('dataset_versions').select('state').where('dataset', '=', 'crashy').execute())
          .length,
        1,
        'a live upload is never swept',
      );
      // The crash: its lease runs out without being renewed.
      await srv.database.db
        .updateTable('dataset_versions')
        .set({ lease_expires_at: new Date(Date.now() - 1000) })
        .where('dataset', '=', 'crashy')
        .execute();
      const swept = await srv.datasets.cleanup(0);
      assert.ok(swept.removed >= 1);
      const d2 = await srv.drives.open('default', 'default');
      assert.equal(await d2.head(handle.objectKey), null, 'the partial object is deleted');
      await d2.close();
      assert.equal((await download('sales', 1)).status, 200, 'committed versions are intact');
    });

    test('deleting a version removes its object; deleting the dataset removes the rest; all audited', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const del = await owner.req(`${DS}/remote/versions/1`, { method: 'DELETE' });
      assert.equal(del.status, 200, del.body);
      assert.equal((await download('remote', 1)).status, 404);
      const driver = await app.server.drives.open('default', 'lake');
      assert.equal((await driver.list('')).items.length, 1);
      assert.equal((await owner.req(`${DS}/remote`, { method: 'DELETE' })).status, 200);
      assert.equal((await driver.list('')).items.length, 0);
      await driver.close();
      assert.equal((await owner.req(`${DS}/remote`)).status, 404);
      await app.server.audit.chainPending();
      const actions = new Set(
        (
          await app.server.database.db
            .selectFrom('audit_events')
            .select(['action', 'outcome'])
            .where('action', 'like', 'dataset.%')
            .execute()
        ).map((r) => `${r.action}:${r.outcome}`),
      );
      for (const a of [
        'dataset.version.create:success',
        'dataset.version.create:failure',
        'dataset.version.read:success',
        'dataset.version.read:failure',
        'dataset.version.delete:success',
        'dataset.dataset.delete:success',
        'dataset.dataset.read:success',
      ])
        assert.ok(actions.has(a), a);
    });

    test('destroying the workspace key makes every dataset unreadable (crypto-shredding)', async (t) => {
      if (skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432')) return;
      const req = await app.asOperator('/api/v1/keys/workspaces/default/destroy', { method: 'POST' });
      assert.equal(req.status, 200, req.body);
      const confirm = await app.asOperator(
        '/api/v1/keys/workspaces/default/destroy/confirm',
        jsonBody({ token: req.json<{ token: string }>().token }),
      );
      assert.equal(confirm.status, 200, confirm.body);
      const gone = await download('sales', 1);
      assert.equal(gone.status, 410);
      assert.equal(gone.json<{ code: string }>().code, 'KEY_DESTROYED');
    });
  });
}
