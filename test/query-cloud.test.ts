/**
 * Governed reads (issue 16) on the cloud peers that test/query.test.ts does not cover: an Azure
 * drive on Azurite and a GCS drive on the project's GCS test server. For each: a preview that
 * decrypts only a prefix of a CSV (ranged reads through the drive), queries over CSV, JSON lines
 * and Parquet versions whose rows equal DuckDB run on the plaintext, a join across both drives,
 * exports (read back by DuckDB and compared), a query result saved as a version on the drive, a
 * GCS object altered in transit refused without caching a copy, and no plaintext marker in the
 * data directory, the query scratch or any object the peers hold.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { DuckDBInstance, JsonDuckDBValueConverter } from '@duckdb/node-api';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { jsonBody, ownerSession, type Session } from './helpers/identity.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type AzuritePeer } from './peers/azurite/azurite.ts';
import { startGcsPeer, type GcsPeer } from './peers/gcs/gcs-peer.ts';
import { storageForPeer } from './peers/gcs/sdk.ts';
import { registerServiceAccount } from './peers/gcs/service-account.ts';

const WS = '/api/v1/workspaces/default';
const MARKER = 'CLOUD-MARKER-3b7e90';
const DRIVES = ['blob', 'gcs'] as const;
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Rows of `sql` run by DuckDB itself (no Strongroom in between). */
async function duckdb(sql: string): Promise<unknown[][]> {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  try {
    return (await conn.runAndReadAll(sql)).convertRows(JsonDuckDBValueConverter) as unknown[][];
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

async function filesHolding(dir: string, needle: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  const hits: string[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const f = path.join(e.parentPath, e.name);
    if ((await readFile(f).catch(() => Buffer.alloc(0))).includes(needle)) hits.push(f);
  }
  return hits;
}

describe('governed reads on the Azure (Azurite) and GCS drives', () => {
  let app: TestApp;
  let owner: Session;
  let az: AzuritePeer;
  let gcs: GcsPeer;
  let fixtures: string;
  const files: Record<'csv' | 'jsonl' | 'parquet', string> = { csv: '', jsonl: '', parquet: '' };
  const csv =
    'id,label,country,amount,day\r\n' +
    Array.from(
      { length: 40_000 },
      (_, i) =>
        `${i},${MARKER}-${i},${['de', 'fr', 'us'][i % 3]},${((i * 7) % 1000) / 4},2026-0${(i % 9) + 1}-1${i % 10}\r\n`,
    ).join('');
  const jsonl = Array.from({ length: 600 }, (_, i) =>
    JSON.stringify({ id: i, tag: `${MARKER}-t${i % 7}`, ok: i % 2 === 0 }),
  ).join('\n');

  const put = (name: string, body: string | Buffer, query: string) =>
    owner.req(`${WS}/datasets/${name}/versions${query}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
  const query = (body: Record<string, unknown>) => owner.req(`${WS}/query`, jsonBody(body));
  /** `{sales}`, `{events}`, `{people}` → the datasets on `drive`, or DuckDB scans of the plaintext. */
  const ours = (sql: string, drive: string) => sql.replace(/\{(sales|events|people)\}/g, `$1_${drive}`);
  const plain = (sql: string) =>
    sql
      .replaceAll('{sales}', `read_csv('${files.csv}')`)
      .replaceAll('{events}', `read_json('${files.jsonl}', format='newline_delimited')`)
      .replaceAll('{people}', `read_parquet('${files.parquet}')`);

  before(async () => {
    [az, gcs] = await Promise.all([startAzurite(), startGcsPeer({ buckets: ['gcs-bucket'] })]);
    await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('datasets').create();
    app = await startTestApp('pglite', {
      env: {
        STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32',
        STRONGROOM_DRIVE_HEALTH_SECONDS: '0',
        STRONGROOM_QUERY_TIMEOUT_MS: '20000',
      },
    });
    owner = (await ownerSession(app)).session;
    const drives = [
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
      const added = await owner.req(`${WS}/drives`, jsonBody(d));
      assert.equal(added.status, 201, added.body);
    }
    fixtures = await mkdtemp(path.join(os.tmpdir(), 'strongroom-query-cloud-'));
    files.csv = path.join(fixtures, 'sales.csv');
    files.jsonl = path.join(fixtures, 'events.jsonl');
    files.parquet = path.join(fixtures, 'people.parquet');
    await writeFile(files.csv, csv);
    await writeFile(files.jsonl, jsonl);
    await duckdb(
      `COPY (SELECT i AS id, '${MARKER}-p' || i AS email, i % 5 AS grp FROM range(3000) t(i)) TO '${files.parquet}' (FORMAT parquet)`,
    );
    const pq = await readFile(files.parquet);
    for (const drive of DRIVES) {
      const uploads: [string, string | Buffer, string][] = [
        [`sales_${drive}`, csv, `?filename=sales.csv&sha256=${sha(csv)}`],
        [`events_${drive}`, jsonl, '?filename=events.jsonl'],
        [`people_${drive}`, pq, `?filename=people.parquet&sha256=${sha(pq)}`],
      ];
      for (const [name, body, q] of uploads) {
        const res = await put(name, body, `${q}&drive=${drive}`);
        assert.equal(res.status, 201, `${name}: ${res.body}`);
        assert.equal(res.json<{ version: { drive: string } }>().version.drive, drive);
      }
    }
  });
  after(async () => {
    await app?.close();
    await Promise.all([az?.stop(), gcs?.stop()]);
    if (fixtures) await rm(fixtures, { recursive: true, force: true });
  });

  for (const drive of DRIVES) {
    test(`${drive}: preview decrypts a prefix of a CSV; JSON lines and Parquet previews`, async () => {
      const res = await owner.req(`${WS}/datasets/sales_${drive}/versions/1/preview?limit=3&offset=2`);
      assert.equal(res.status, 200, res.body);
      const p = res.json<{ columns: { name: string; type: string }[]; rows: unknown[][]; decryptedBytes: number }>();
      assert.deepEqual(
        p.columns.map((c) => `${c.name}:${c.type}`),
        ['id:BIGINT', 'label:VARCHAR', 'country:VARCHAR', 'amount:DOUBLE', 'day:DATE'],
      );
      assert.deepEqual(p.rows, await duckdb(`SELECT * FROM read_csv('${files.csv}') LIMIT 3 OFFSET 2`));
      assert.deepEqual(p.rows[0], ['2', `${MARKER}-2`, 'us', 3.5, '2026-03-12']);
      assert.ok(
        p.decryptedBytes <= 1024 * 1024 && p.decryptedBytes < Buffer.byteLength(csv),
        `decrypted ${p.decryptedBytes} of ${csv.length}: a ranged read of the first MiB is enough`,
      );
      await expectAudit(app, {
        action: 'dataset.data.preview',
        outcome: 'success',
        resource: { type: 'dataset', id: `sales_${drive}` },
        details: { datasets: [`sales_${drive}@v1`], rows: 3 },
      });
      const ev = await owner.req(`${WS}/datasets/events_${drive}/versions/1/preview?limit=4`);
      assert.equal(ev.status, 200, ev.body);
      const evp = ev.json<{ rows: unknown[][]; rowCount: number }>();
      assert.deepEqual(evp.rows, await duckdb(`SELECT * FROM ${plain('{events}')} LIMIT 4`));
      assert.equal(evp.rowCount, 600, 'the whole JSON lines object fits the first prefix');
      const pq = await owner.req(`${WS}/datasets/people_${drive}/versions/1/preview?limit=2&offset=10`);
      assert.equal(pq.status, 200, pq.body);
      assert.deepEqual(pq.json<{ rows: unknown[][] }>().rows, [
        ['10', `${MARKER}-p10`, '0'],
        ['11', `${MARKER}-p11`, '1'],
      ]);
      assert.equal(pq.json<{ rowCount: number }>().rowCount, 3000);
    });

    test(`${drive}: query results equal DuckDB on the plaintext, in each result format`, async () => {
      const cases = [
        'SELECT country, count(*) AS n, sum(amount) AS total, min(day) AS first FROM {sales} GROUP BY country ORDER BY country',
        'SELECT s.id, s.country, e.tag, p.grp FROM {sales} s JOIN {events} e ON e.id = s.id JOIN {people} p ON p.id = s.id WHERE s.id % 40 = 0 ORDER BY s.id',
        'WITH big AS (SELECT * FROM {sales} WHERE amount > 200) SELECT country, rank() OVER (ORDER BY count(*) DESC) r FROM big GROUP BY country ORDER BY 1',
        'SELECT tag, bool_and(ok), count(*) FROM {events} GROUP BY ALL ORDER BY 1',
        'SELECT grp, count(*), max(email) FROM {people} WHERE id BETWEEN 100 AND 2500 GROUP BY grp ORDER BY grp',
        "SELECT id, label FROM {sales} WHERE label LIKE '%-3999_' ORDER BY id DESC",
      ];
      for (const c of cases) {
        const res = await query({ sql: ours(c, drive), limit: 5000 });
        assert.equal(res.status, 200, `${ours(c, drive)}: ${res.body}`);
        const got = res.json<{ rows: unknown[][]; truncated: boolean }>();
        assert.deepEqual(got.rows, await duckdb(plain(c)), ours(c, drive));
        assert.equal(got.truncated, false);
      }
      await expectAudit(app, {
        action: 'dataset.data.query',
        outcome: 'success',
        details: { datasets: [`sales_${drive}@v1`], rows: 10 },
      });
      const sql = ours('SELECT id, country FROM {sales} WHERE id < 3 ORDER BY id', drive);
      const asCsv = await query({ sql, format: 'csv' });
      assert.equal(asCsv.status, 200, asCsv.body);
      assert.equal(asCsv.body, 'id,country\n0,de\n1,fr\n2,us\n');
      const asJsonl = await query({
        sql: ours('SELECT id, ok FROM {events} WHERE id < 2 ORDER BY id', drive),
        format: 'jsonl',
      });
      assert.equal(asJsonl.body, '{"id":0,"ok":true}\n{"id":1,"ok":false}\n');
      const asParquet = await query({
        sql: ours('SELECT * FROM {people} ORDER BY id', drive),
        format: 'parquet',
        limit: 5000,
      });
      assert.equal(asParquet.status, 200, asParquet.body);
      const back = path.join(fixtures, `result-${drive}.parquet`);
      await writeFile(back, asParquet.raw);
      assert.deepEqual(
        await duckdb(`SELECT * FROM read_parquet('${back}') ORDER BY id`),
        await duckdb(plain('SELECT * FROM {people} ORDER BY id')),
      );
    });

    test(`${drive}: exports read back equal the plaintext; a result saved as a version on the drive`, async () => {
      for (const format of ['csv', 'parquet', 'jsonl'] as const) {
        const res = await owner.req(`${WS}/datasets/sales_${drive}/versions/1/export?format=${format}`);
        assert.equal(res.status, 200, `${format}: ${res.body}`);
        assert.equal(res.headers['x-row-count'], '40000');
        const file = path.join(fixtures, `export-${drive}.${format}`);
        await writeFile(file, res.raw);
        const scan = { csv: 'read_csv', parquet: 'read_parquet', jsonl: 'read_json' }[format];
        assert.deepEqual(
          await duckdb(`SELECT * FROM ${scan}('${file}') ORDER BY id`),
          await duckdb(plain('SELECT * FROM {sales} ORDER BY id')),
          `the ${format} export holds exactly the stored rows`,
        );
        await rm(file);
      }
      await expectAudit(app, {
        action: 'dataset.data.export',
        outcome: 'success',
        resource: { id: `sales_${drive}` },
        details: { datasets: [`sales_${drive}@v1`], rows: 40_000 },
      });

      const derived = ours("SELECT id, label, amount FROM {sales} WHERE country = 'fr' ORDER BY id", drive);
      const saved = await owner.req(
        `${WS}/datasets/fr_${drive}/versions/from-query`,
        jsonBody({ sql: derived, format: 'parquet', drive }),
      );
      assert.equal(saved.status, 201, saved.body);
      const v = saved.json<{ version: { version: number; drive: string }; rows: number }>();
      assert.deepEqual([v.version.version, v.version.drive, v.rows], [1, drive, 13_333]);
      const again = await query({ sql: `SELECT sum(amount), count(*), max(label) FROM fr_${drive}` });
      assert.equal(again.status, 200, again.body);
      assert.deepEqual(
        again.json<{ rows: unknown[][] }>().rows,
        await duckdb(plain("SELECT sum(amount), count(*), max(label) FROM {sales} WHERE country = 'fr'")),
      );
    });
  }

  test('a join across the Azure and GCS drives equals DuckDB on the plaintext', async () => {
    const sql =
      'SELECT a.country, count(*) AS n, sum(b.amount) AS total FROM {sales_blob} a JOIN {sales_gcs} b ON a.id = b.id + 1 ' +
      'JOIN {people_gcs} p ON p.id = a.id WHERE a.amount < b.amount GROUP BY a.country ORDER BY 1';
    const res = await query({ sql: sql.replace(/[{}]/g, '') });
    assert.equal(res.status, 200, res.body);
    const expected = await duckdb(plain(sql.replace(/\{(sales|people)_(blob|gcs)\}/g, '{$1}')));
    assert.deepEqual(res.json<{ rows: unknown[][] }>().rows, expected);
    await expectAudit(app, {
      action: 'dataset.data.query',
      outcome: 'success',
      details: { datasets: ['sales_blob@v1', 'sales_gcs@v1', 'people_gcs@v1'] },
    });
  });

  test('gcs: a version altered in transit answers a problem, caches no copy, and reads again after', async () => {
    const small = `id,label\r\n${Array.from({ length: 300 }, (_, i) => `${i},${MARKER}-x${i}`).join('\r\n')}\r\n`;
    assert.equal((await put('tampered_gcs', small, '?filename=t.csv&drive=gcs')).status, 201);
    await gcs.injectFault({ kind: 'corrupt-media' });
    const sql = 'SELECT count(*), max(label) FROM tampered_gcs';
    const bad = await query({ sql });
    assert.equal(bad.status, 409, bad.body);
    assert.equal(bad.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(bad.json<{ code: string }>().code, 'DECRYPTION_FAILED');
    assert.doesNotMatch(bad.body, new RegExp(MARKER));
    await expectAudit(app, {
      action: 'dataset.data.query',
      outcome: 'failure',
      details: { error: 'DECRYPTION_FAILED' },
    });
    // The failed read left no query copy behind: the next read fetches the object again.
    const good = await query({ sql });
    assert.equal(good.status, 200, good.body);
    assert.deepEqual(good.json<{ rows: unknown[][] }>().rows, [['300', `${MARKER}-x99`]]);
  });

  test('no plaintext marker in any Azurite blob, GCS object, the data directory or the scratch', async () => {
    const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('datasets');
    const blobs: string[] = [];
    for await (const b of container.listBlobsFlat()) {
      blobs.push(b.name);
      const body = await container.getBlobClient(b.name).downloadToBuffer();
      assert.ok(!body.includes(MARKER), `Azurite blob ${b.name} holds plaintext`);
    }
    const [objects] = await storageForPeer(gcs, gcs.adminToken).bucket('gcs-bucket').getFiles();
    for (const o of objects) {
      const [body] = await o.download();
      assert.ok(!body.includes(MARKER), `GCS object ${o.name} holds plaintext`);
    }
    // Each drive holds its three uploads and the saved result (segments may make more objects).
    assert.ok(blobs.length >= 4, `Azurite holds ${blobs.length} objects`);
    assert.ok(objects.length >= 4, `the GCS peer holds ${objects.length} objects`);
    assert.ok((await filesHolding(fixtures, MARKER)).includes(files.csv), 'the scan finds the marker in plaintext');
    assert.deepEqual(await filesHolding(app.home, MARKER), []);
    await app.close();
    const left = (await readdir('/dev/shm')).filter((d) => d.startsWith(`strongroom-query-${process.pid}-`));
    assert.deepEqual(left, [], 'the scratch (and its query copies) is removed at stop');
  });
});
