/**
 * Governed reads, continued (issue 16): a query result (or a whole version) stored as the next
 * version of a dataset — encrypted through the datasets upload, checked, committed with its
 * `dataset.version.create` event naming what was read — and a stored CSV broken after its first
 * 64 KiB (accepted at upload as CSV) answering 422 with the line where parsing failed.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit, expectNoAudit } from './helpers/audit.ts';
import { createUser, jsonBody, login, ownerSession, type Session } from './helpers/identity.ts';

const WS = '/api/v1/workspaces/default';
const MARKER = 'SAVE-MARKER-51c9e0';

async function filesUnder(dir: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return all.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('query results saved as dataset versions; broken stored data', () => {
  let app: TestApp;
  let owner: Session;
  const rows = Array.from({ length: 5000 }, (_, i) => `${i},${MARKER}-${i},${['de', 'fr', 'us'][i % 3]},${i % 97}`);
  const csv = `id,label,country,amount\n${rows.join('\n')}\n`;
  const put = (name: string, body: string, query = '') =>
    owner.req(`${WS}/datasets/${name}/versions${query}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
  const save = (target: string, body: Record<string, unknown>, s: Session = owner) =>
    s.req(`${WS}/datasets/${target}/versions/from-query`, jsonBody(body));
  const query = (body: Record<string, unknown>) => owner.req(`${WS}/query`, jsonBody(body));

  before(async () => {
    app = await startTestApp('pglite', { env: { STRONGROOM_QUERY_TIMEOUT_MS: '20000' } });
    owner = (await ownerSession(app)).session;
    assert.equal((await put('sales', csv, '?filename=sales.csv')).status, 201);
  });
  after(async () => {
    await app?.close();
  });

  test('a query result becomes the next version of a dataset, encrypted, in each format', async () => {
    const sql = `SELECT id, label, amount FROM sales WHERE country = 'fr' ORDER BY id`;
    const res = await save('sales-fr', { sql, format: 'csv', description: 'French sales', tags: ['derived'] });
    assert.equal(res.status, 201, res.body);
    const saved = res.json<{ dataset: string; version: { version: number; tabularFormat: string }; rows: number }>();
    assert.equal(saved.dataset, 'sales-fr');
    assert.equal(saved.version.version, 1);
    assert.equal(saved.version.tabularFormat, 'csv');
    assert.equal(saved.rows, 1667);
    const [e] = await expectAudit(app, {
      action: 'dataset.version.create',
      outcome: 'success',
      resource: { type: 'dataset', id: 'sales-fr' },
      details: { from: 'query', datasets: ['sales@v1'], rows: 1667, version: 1, format: 'csv' },
      mustNotContain: ["'fr'"],
    });
    assert.match(String(e!.details.statement), /country = '\?'/);

    // The stored bytes are the result, exactly (the download is the plaintext CSV).
    const content = await owner.req(`${WS}/datasets/sales-fr/versions/1/content`);
    const expected = ['id,label,amount', ...rows.filter((_, i) => i % 3 === 1).map((r) => r.replace(/,fr,/, ','))];
    assert.equal(content.body, `${expected.join('\n')}\n`);
    const meta = (await owner.req(`${WS}/datasets/sales-fr`)).json<{ description: string; tags: string[] }>();
    assert.deepEqual([meta.description, meta.tags], ['French sales', ['derived']]);

    // A whole version as Parquet (the export of a version) and JSON lines: the next versions.
    const pq = await save('sales-fr', { sql: 'SELECT * FROM "sales@v1"', format: 'parquet' });
    assert.equal(pq.status, 201, pq.body);
    assert.equal(pq.json<{ version: { version: number; tabularFormat: string } }>().version.tabularFormat, 'parquet');
    const jl = await save('sales-fr', { sql: 'SELECT country, count(*) AS n FROM sales GROUP BY 1', format: 'jsonl' });
    assert.equal(jl.status, 201, jl.body);
    const counted = await query({ sql: 'SELECT sum(n) AS n FROM "sales-fr@v3"' });
    assert.deepEqual(counted.json<{ rows: unknown[][] }>().rows, [['5000']]);
    const v2 = await query({ sql: 'SELECT count(*), max(label) FROM "sales-fr@v2"' });
    assert.deepEqual(v2.json<{ rows: unknown[][] }>().rows, [['5000', `${MARKER}-999`]]);

    // Encrypted at rest: the marker is nowhere in the data directory (drives included).
    for (const f of await filesUnder(app.home))
      assert.ok(!(await readFile(f)).includes(MARKER), `plaintext marker in ${f}`);
  });

  test('saving needs version.create on the target and export on every source; bad input makes nothing', async () => {
    await createUser(app, 'analyst-save@corp.test', { role: 'analyst' });
    const analyst = await login(app, 'analyst-save@corp.test');
    const denied = await save('mine', { sql: 'SELECT * FROM sales' }, analyst);
    assert.equal(denied.status, 403, denied.body);
    await expectAudit(app, { action: 'dataset.version.create', outcome: 'denied', resource: { id: 'mine' } });

    assert.equal((await put('secret-ids', 'a,b\n1,2\n', '?tag=pii')).status, 201);
    const cases: [body: Record<string, unknown>, status: number, detail: RegExp | undefined][] = [
      [{ sql: 'SELECT * FROM "secret-ids"' }, 400, /No dataset named "secret-ids"/],
      [{ sql: 'SELECT * FROM nothere' }, 400, /No dataset named "nothere"/],
      [{ sql: "SELECT * FROM read_csv('/etc/passwd')" }, 400, /table function read_csv/],
      [{ sql: 'SELECT * FROM sales', format: 'xlsx' }, 422, undefined],
      [{ sql: '' }, 422, undefined],
      [{ sql: 'SELECT * FROM sales', drive: 'No Such' }, 422, undefined],
      [{ sql: 'SELECT * FROM sales', drive: 'nosuch' }, 422, /no drive "nosuch"/],
      [{ sql: 'SELECT * FROM sales', tags: ['Bad Tag'] }, 422, undefined],
      [{ sql: 'SELECT * FROM sales', extra: 1 }, 422, undefined],
      [{ sql: 'SELECT id FROM sales WHERE' }, 400, /Syntax error/],
    ];
    for (const [body, status, detail] of cases) {
      const res = await save('never', body);
      assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      if (detail) assert.match(res.json<{ detail: string }>().detail, detail);
    }
    assert.equal((await owner.req(`${WS}/datasets/never`)).status, 404, 'no dataset was created');
    assert.equal((await owner.req(`${WS}/datasets/mine`)).status, 404);
    await expectNoAudit(app, { action: 'dataset.version.create', outcome: 'success', resource: { id: 'never' } });
  });

  test('a stored CSV broken past what upload and DuckDB sniff: 422 with the line, for query, export, save', async () => {
    const pad = 'p'.repeat(40);
    const good = Array.from({ length: 40_000 }, (_, i) => `${i},name-${i}-${pad},${i * 2}`);
    // Line 1 is the header, so data row i is line i + 2: the row with a column too many is line
    // 30,002 — past the 64 KiB the upload sniffs and the 20,480 rows DuckDB sniffs.
    good[30_000] = '30000,name-x,1,surplus-7d2';
    const broken = `id,name,score\n${good.join('\n')}\n`;
    const up = await put('broken', broken, '?filename=broken.csv');
    assert.equal(up.status, 201, up.body);
    assert.equal(up.json<{ version: { tabularFormat: string } }>().version.tabularFormat, 'csv');

    const q = await query({ sql: 'SELECT count(*) FROM broken' });
    assert.equal(q.status, 422, q.body);
    const p = q.json<{ code: string; detail: string; line?: number }>();
    assert.equal(p.code, 'DATA_MALFORMED');
    assert.match(p.detail, /The stored CSV could not be parsed \(line \d+/);
    assert.equal(p.line, 30_002, q.body);
    assert.doesNotMatch(q.body, /surplus|name-x|strongroom-query-/);

    const ex = await owner.req(`${WS}/datasets/broken/versions/1/export?format=csv`);
    assert.equal(ex.status, 422, ex.body);
    assert.equal(ex.json<{ line?: number }>().line, 30_002);
    const sv = await save('broken-copy', { sql: 'SELECT * FROM broken' });
    assert.equal(sv.status, 422, sv.body);
    assert.equal((await owner.req(`${WS}/datasets/broken-copy`)).status, 404);
    // The preview reads only the first MiB (the break is near byte 2,000,000): the first rows show.
    const pv = await owner.req(`${WS}/datasets/broken/versions/1/preview?limit=2`);
    assert.equal(pv.status, 200, pv.body);
    assert.deepEqual(pv.json<{ rows: unknown[][] }>().rows, [
      ['0', `name-0-${pad}`, '0'],
      ['1', `name-1-${pad}`, '2'],
    ]);
    await expectAudit(app, {
      action: 'dataset.data.query',
      outcome: 'failure',
      details: { error: 'DATA_MALFORMED' },
    });
  });
});
