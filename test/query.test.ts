/**
 * Governed reads (issue 16) over HTTPS: preview, SQL query and export of encrypted tabular
 * datasets on the local drive and an S3 drive (s3rver). Results are compared with DuckDB run on
 * the plaintext fixture; a table of SQL bypass attempts and a table of bad input must be refused
 * with their construct and position; events name datasets, versions, row counts and a statement
 * without literals; and no plaintext marker is left in the data directory, the drives, the S3
 * peer's directory or the query scratch.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import https from 'node:https';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance, JsonDuckDBValueConverter } from '@duckdb/node-api';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { createUser, createWorkspace, jsonBody, login, ownerSession, type Session } from './helpers/identity.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3Peer } from './peers/s3/s3rver.ts';

const WS = '/api/v1/workspaces/default';
const MARKER = 'QUERY-MARKER-8d41c2';
const SECRET_LITERAL = 'literal-7f3e-never-in-audit';
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function scanFor(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return hits;
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    const f = path.join(e.parentPath, e.name);
    if ((await readFile(f).catch(() => Buffer.alloc(0))).includes(needle)) hits.push(f);
  }
  return hits;
}

/** Rows of `sql` run by DuckDB directly on plaintext files (`{name}` → read_…('file')). */
async function duckdbOn(files: Record<string, string>, sql: string): Promise<unknown[][]> {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  let text = sql;
  for (const [name, scan] of Object.entries(files)) text = text.replaceAll(`{${name}}`, scan);
  const reader = await conn.runAndReadAll(text);
  const rows = reader.convertRows(JsonDuckDBValueConverter) as unknown[][];
  conn.closeSync();
  inst.closeSync();
  return rows;
}

describe('governed reads (preview, query, export)', () => {
  let app: TestApp;
  let owner: Session;
  let s3: S3Peer;
  let fixtures: string;
  const csvRows = Array.from(
    { length: 40_000 },
    (_, i) =>
      `${i},${MARKER}-${i},${['de', 'fr', 'us'][i % 3]},${((i * 7) % 1000) / 4},2026-0${(i % 9) + 1}-1${i % 10}`,
  );
  const csv = `id,label,country,amount,day\r\n${csvRows.join('\r\n')}\r\n`;
  const jsonl = Array.from({ length: 500 }, (_, i) => JSON.stringify({ id: i, tag: `t${i % 7}`, ok: i % 2 === 0 }))
    .join('\n')
    .concat('\n');

  const put = (name: string, body: string | Buffer, query = '') =>
    owner.req(`${WS}/datasets/${name}/versions${query}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
  const query = (body: Record<string, unknown>, s: Session = owner) => s.req(`${WS}/query`, jsonBody(body));

  before(async () => {
    s3 = await startS3rver(['lake']);
    app = await startTestApp('pglite', {
      env: {
        STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32',
        STRONGROOM_DRIVE_HEALTH_SECONDS: '0',
        STRONGROOM_QUERY_TIMEOUT_MS: '4000',
        STRONGROOM_QUERY_MAX_ROWS: '50000',
      },
    });
    owner = (await ownerSession(app)).session;
    const added = await owner.req(
      `${WS}/drives`,
      jsonBody({
        name: 'lake',
        kind: 's3',
        config: { bucket: 'lake', endpoint: s3.endpoint, pathStyle: true },
        credentials: { provider: 's3', ...S3RVER_CREDENTIALS },
      }),
    );
    assert.equal(added.status, 201, added.body);
    fixtures = await mkdtemp(path.join(os.tmpdir(), 'strongroom-query-fixture-'));
    const parquet = path.join(fixtures, 'people.parquet');
    const inst = await DuckDBInstance.create(':memory:');
    const c = await inst.connect();
    await c.run(
      `COPY (SELECT i AS id, '${MARKER}-p' || i AS email, i % 5 AS grp FROM range(2000) t(i)) TO '${parquet}' (FORMAT parquet)`,
    );
    c.closeSync();
    inst.closeSync();
    const pq = await readFile(parquet);
    assert.equal((await put('sales', csv, `?filename=sales.csv&sha256=${sha(csv)}`)).status, 201);
    assert.equal((await put('events', jsonl, '?filename=events.jsonl&drive=lake')).status, 201);
    assert.equal((await put('people', pq, '?filename=people.parquet&drive=lake')).status, 201);
    assert.equal((await put('notes', Buffer.from([0, 1, 2, 3, 255, 254]), '?filename=notes.bin')).status, 201);
  });
  after(async () => {
    await app?.close();
    await s3?.stop();
    if (fixtures) await rm(fixtures, { recursive: true, force: true });
  });

  test('a preview gives the schema and first rows, decrypting only a prefix of a CSV', async () => {
    const res = await owner.req(`${WS}/datasets/sales/versions/1/preview?limit=3&offset=2`);
    assert.equal(res.status, 200, res.body);
    const p = res.json<{ columns: { name: string; type: string }[]; rows: unknown[][]; decryptedBytes: number }>();
    assert.deepEqual(
      p.columns.map((c) => `${c.name}:${c.type}`),
      ['id:BIGINT', 'label:VARCHAR', 'country:VARCHAR', 'amount:DOUBLE', 'day:DATE'],
    );
    // BIGINT travels as a decimal string (exact beyond 2^53).
    assert.deepEqual(p.rows[0], ['2', `${MARKER}-2`, 'us', 3.5, '2026-03-12']);
    assert.equal(p.rows.length, 3);
    assert.ok(
      p.decryptedBytes <= 1024 * 1024 && p.decryptedBytes < Buffer.byteLength(csv),
      `decrypted ${p.decryptedBytes} of ${csv.length}: only the first MiB is needed`,
    );
    await expectAudit(app, {
      action: 'dataset.data.preview',
      outcome: 'success',
      resource: { type: 'dataset', id: 'sales' },
      details: { datasets: ['sales@v1'], rows: 3 },
    });
    const pq = await owner.req(`${WS}/datasets/people/versions/1/preview?limit=2`);
    assert.equal(pq.status, 200, pq.body);
    assert.deepEqual(pq.json<{ rows: unknown[][]; rowCount: number }>().rows, [
      ['0', `${MARKER}-p0`, '0'],
      ['1', `${MARKER}-p1`, '1'],
    ]);
    assert.equal(pq.json<{ rowCount: number }>().rowCount, 2000);
  });

  test('query results equal DuckDB on the plaintext, across drives and formats, with joins', async () => {
    const csvFile = path.join(fixtures, 'sales.csv');
    const jsonlFile = path.join(fixtures, 'events.jsonl');
    await (await import('node:fs/promises')).writeFile(csvFile, csv);
    await (await import('node:fs/promises')).writeFile(jsonlFile, jsonl);
    const files = {
      sales: `read_csv('${csvFile}')`,
      events: `read_json('${jsonlFile}', format='newline_delimited')`,
      people: `read_parquet('${path.join(fixtures, 'people.parquet')}')`,
    };
    const cases = [
      'SELECT country, count(*) AS n, sum(amount) AS total FROM {sales} GROUP BY country ORDER BY country',
      'SELECT s.id, s.country, e.tag, p.grp FROM {sales} s JOIN {events} e ON e.id = s.id JOIN {people} p ON p.id = s.id WHERE s.id % 50 = 0 ORDER BY s.id',
      'WITH big AS (SELECT * FROM {sales} WHERE amount > 200) SELECT country, rank() OVER (ORDER BY count(*) DESC) r FROM big GROUP BY country ORDER BY 1',
      'SELECT tag, bool_and(ok) FROM {events} GROUP BY ALL ORDER BY 1',
    ];
    for (const c of cases) {
      const ours = c.replaceAll('{sales}', 'sales').replaceAll('{events}', 'events').replaceAll('{people}', 'people');
      const res = await query({ sql: ours, limit: 5000 });
      assert.equal(res.status, 200, `${ours}: ${res.body}`);
      const got = res.json<{ rows: unknown[][]; truncated: boolean }>();
      assert.deepEqual(got.rows, await duckdbOn(files, c), ours);
      assert.equal(got.truncated, false);
    }
    const latest = await query({ sql: 'SELECT count(*) AS n FROM "sales@v1"' });
    assert.deepEqual(latest.json<{ rows: unknown[][] }>().rows, [['40000']]);
    const capped = await query({ sql: 'SELECT id FROM sales ORDER BY id', limit: 10 });
    assert.equal(capped.json<{ truncated: boolean }>().truncated, true);
    assert.equal(capped.json<{ rows: unknown[][] }>().rows.length, 10);

    const asCsv = await query({ sql: 'SELECT id, country FROM sales WHERE id < 3 ORDER BY id', format: 'csv' });
    assert.equal(asCsv.status, 200, asCsv.body);
    assert.equal(asCsv.body, 'id,country\n0,de\n1,fr\n2,us\n');
    assert.equal(asCsv.headers['x-row-count'], '3');
    const asJsonl = await query({ sql: 'SELECT id FROM events WHERE id < 2 ORDER BY id', format: 'jsonl' });
    assert.equal(asJsonl.body, '{"id":0}\n{"id":1}\n');
    const asParquet = await query({ sql: 'SELECT id FROM people WHERE id < 5', format: 'parquet' });
    assert.equal(asParquet.raw.subarray(0, 4).toString(), 'PAR1');
  });

  test('the audit event names datasets, versions and rows, with the statement stripped of literals', async () => {
    const res = await query({ sql: `SELECT count(*) FROM sales WHERE label <> '${SECRET_LITERAL}' AND id > 17` });
    assert.equal(res.status, 200, res.body);
    const [e] = await expectAudit(app, {
      action: 'dataset.data.query',
      outcome: 'success',
      details: { datasets: ['sales@v1'], rows: 1 },
      mustNotContain: [SECRET_LITERAL],
    });
    assert.match(String(e!.details.statement), /"label" != '\?'\) AND \(id > '\?'/);
    assert.match(String(e!.details.fingerprint), /^[0-9a-f]{32}$/);
  });

  test('SQL bypass attempts are refused with the construct and its position', async () => {
    const objectFile = path.join(app.home, 'drives');
    const bypass: [sql: string, status: number, detail: RegExp][] = [
      [`SELECT * FROM read_parquet('${objectFile}/x')`, 400, /table function read_parquet/],
      ["SELECT * FROM read_csv('/etc/passwd')", 400, /table function read_csv/],
      ["SELECT * FROM '/etc/passwd'", 400, /No dataset named/],
      ["SELECT * FROM glob('/*')", 400, /table function glob/],
      ['SELECT * FROM sales, duckdb_settings()', 400, /table function duckdb_settings/],
      ['SELECT * FROM duckdb_views()', 400, /table function duckdb_views/],
      ["SELECT * FROM query('SELECT 1')", 400, /table function query/],
      ["SELECT getvariable('x') FROM sales", 400, /function getvariable/],
      ["SELECT current_setting('memory_limit') FROM sales", 400, /function current_setting/],
      ['SET VARIABLE x = 1', 400, /other than SELECT/],
      ["PRAGMA table_info('sales')", 400, /other than SELECT/],
      ["ATTACH '/tmp/x.db' AS x", 400, /other than SELECT/],
      ["COPY (SELECT * FROM sales) TO '/tmp/out.csv'", 400, /other than SELECT/],
      ['EXPLAIN SELECT * FROM sales', 400, /other than SELECT/],
      ['INSTALL httpfs', 400, /other than SELECT/],
      ['LOAD httpfs', 400, /other than SELECT/],
      ['SELECT 1 FROM sales; SELECT * FROM people', 400, /second statement/],
      ["SELECT 1 FROM sales /* ; */ ; COPY sales TO '/tmp/y'", 400, /other than SELECT|second statement/],
      ['SELECT * FROM main.sales', 400, /qualified relation/],
      ['SELECT * FROM other.main.sales', 400, /qualified relation/],
      ['SELECT $1 FROM sales', 400, /parameter/],
      ['SELECT * FROM secretset', 400, /No dataset named "secretset"/],
      ['SELECT * FROM "sales@v9"', 400, /No dataset named "sales@v9"/],
      ['SELECT * FROM sales AT (VERSION => 1)', 400, /time travel/],
      [`${'SELECT * FROM ('.repeat(300)}SELECT * FROM sales${')'.repeat(300)}`, 400, /Nesting this deep/],
    ];
    for (const [sql, status, detail] of bypass) {
      const res = await query({ sql });
      assert.equal(res.status, status, `${sql}: ${res.body}`);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.match(res.json<{ detail: string }>().detail, detail, sql);
      assert.doesNotMatch(res.body, /strongroom-query-|\/dev\/shm|QUERY-MARKER/, sql);
    }
    const pos = (await query({ sql: 'SELECT id,\n  getvariable(1) FROM sales' })).json<{
      line: number;
      column: number;
    }>();
    assert.deepEqual([pos.line, pos.column], [2, 3]);
    const long = await query({ sql: `SELECT 1 FROM sales WHERE ${'1=1 AND '.repeat(20_000)}1=1` });
    assert.equal(long.status, 422, 'longer than the limit');
  });

  test('a dataset of another workspace or without permission answers like a missing one', async () => {
    await createWorkspace(app, 'other');
    const other = (await ownerSession(app, undefined, 'other')).session;
    const up = await other.req('/api/v1/workspaces/other/datasets/hidden/versions', {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'a,b\n1,2\n3,4\n',
    });
    assert.equal(up.status, 201, up.body);
    const missing = await query({ sql: 'SELECT * FROM nothere' });
    const foreign = await query({ sql: 'SELECT * FROM hidden' });
    assert.equal(foreign.status, missing.status);
    assert.equal(
      foreign.json<{ detail: string }>().detail.replace('hidden', 'X'),
      missing.json<{ detail: string }>().detail.replace('nothere', 'X'),
    );
    // pii needs clearance: the same answer as a missing dataset.
    assert.equal((await put('piiset', 'a,b\n1,2\n3,4\n', '?tag=pii')).status, 201);
    const pii = await query({ sql: 'SELECT * FROM piiset' });
    assert.equal(pii.status, 400);
    assert.match(pii.json<{ detail: string }>().detail, /No dataset named "piiset"/);
    await createUser(app, 'viewer-q@corp.test', { role: 'viewer' });
    const viewer = await login(app, 'viewer-q@corp.test');
    assert.equal((await query({ sql: 'SELECT 1 FROM sales' }, viewer)).status, 403);
    assert.equal((await viewer.req(`${WS}/datasets/sales/versions/1/preview`)).status, 403);
  });

  test('bad input: empty, syntax error with position, non-tabular, limits, format, timeout, disconnect', async () => {
    assert.equal((await query({ sql: '' })).status, 422);
    const syntax = await query({ sql: 'SELECT id FROM sales WHERE' });
    assert.equal(syntax.status, 400, syntax.body);
    assert.match(syntax.json<{ detail: string }>().detail, /Syntax error/);
    const nonTab = await query({ sql: 'SELECT * FROM notes' });
    assert.equal(nonTab.status, 422, nonTab.body);
    assert.equal(nonTab.json<{ code: string }>().code, 'NOT_TABULAR');
    assert.equal((await query({ sql: 'SELECT 1 FROM sales', limit: 0 })).status, 422);
    assert.equal((await query({ sql: 'SELECT 1 FROM sales', limit: 50_001 })).status, 422);
    assert.equal((await query({ sql: 'SELECT 1 FROM sales', format: 'xlsx' })).status, 422);
    assert.equal((await owner.req(`${WS}/datasets/sales/versions/1/preview?limit=5000`)).status, 422);
    assert.equal((await owner.req(`${WS}/datasets/notes/versions/1/preview`)).status, 422);
    assert.equal((await owner.req(`${WS}/datasets/sales/versions/7/preview`)).status, 404);
    const binder = await query({ sql: 'SELECT nosuchcolumn FROM sales' });
    assert.equal(binder.status, 400);
    assert.doesNotMatch(binder.body, /strongroom-query-|read_parquet/);

    const slow = 'SELECT count(*) FROM sales a, sales b, sales c WHERE a.amount + b.amount > c.amount';
    const timedOut = await query({ sql: slow });
    assert.equal(timedOut.status, 503, timedOut.body);
    assert.equal(timedOut.json<{ code: string }>().code, 'QUERY_LIMIT');

    // A client that goes away: the statement is cancelled and its slot and scratch are freed.
    await new Promise<void>((resolve) => {
      const req = https.request(`${app.base}${WS}/query`, {
        method: 'POST',
        ca: app.ca,
        servername: 'localhost',
        headers: { 'content-type': 'application/json', cookie: owner.cookie, 'x-csrf-token': owner.csrf },
      });
      req.on('error', () => resolve());
      req.end(JSON.stringify({ sql: slow }));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 600);
    });
    await new Promise((r) => setTimeout(r, 1000));
    const after = await query({ sql: 'SELECT count(*) FROM sales' });
    assert.equal(after.status, 200, after.body);
    await expectAudit(app, { action: 'dataset.data.query', outcome: 'failure', details: { error: 'QUERY_LIMIT' } });
  });

  test('export streams a whole version as CSV, JSON lines or Parquet', async () => {
    const res = await owner.req(`${WS}/datasets/events/versions/1/export?format=jsonl`);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body.trim().split('\n').length, 500);
    assert.equal(res.headers['x-row-count'], '500');
    const asCsv = await owner.req(`${WS}/datasets/sales/versions/1/export?format=csv`);
    assert.equal(asCsv.body.split('\n').length, 40_002);
    assert.equal((await owner.req(`${WS}/datasets/sales/versions/1/export?format=xml`)).status, 422);
    await expectAudit(app, {
      action: 'dataset.data.export',
      outcome: 'success',
      resource: { id: 'sales' },
      details: { datasets: ['sales@v1'], rows: 40_000 },
    });
  });

  test('no plaintext marker in the data directory, the drives, the S3 peer or the query scratch', async () => {
    assert.deepEqual(await scanFor(app.home, MARKER), []);
    assert.deepEqual(await scanFor(s3.directory, MARKER), []);
    const shm = (await readdir('/dev/shm')).filter((d) => d.startsWith(`strongroom-query-${process.pid}-`));
    for (const d of shm) {
      const left = (await readdir(path.join('/dev/shm', d), { recursive: true })).filter(
        (f) => !f.startsWith('copies'),
      );
      assert.deepEqual(left, [], 'no work directory outlives its request');
    }
    await app.close();
    const after = (await readdir('/dev/shm')).filter((d) => d.startsWith(`strongroom-query-${process.pid}-`));
    assert.deepEqual(after, [], 'the scratch (and its query copies) is removed at stop');
  });
});
