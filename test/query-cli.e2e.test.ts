/**
 * `strongroom query`, `dataset preview` and `dataset export` through the real CLI against a real
 * HTTPS server (PGlite, the local drive): results equal DuckDB on the plaintext file in every
 * format (JSON, CSV streamed to standard output, Parquet to a file), tables fit the terminal
 * width, a result saved as a new version, a version exported to a file and into another dataset,
 * and refusals as exit 2 with the server's reason.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DuckDBInstance, JsonDuckDBValueConverter } from '@duckdb/node-api';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { cliCredentials, cliIn } from './helpers/cli.ts';
import { ownerSession } from './helpers/identity.ts';

let app: TestApp | undefined;
let dir: string;
let env: Record<string, string>;
let csvFile: string;

const cli = (args: string[], extra: Record<string, string> = {}, input?: string) =>
  cliIn(dir, args, { env: { ...env, ...extra }, ...(input ? { input: Buffer.from(input) } : {}) });

/** DuckDB itself on the plaintext: `{sales}` is the CSV file. */
async function duck(sql: string): Promise<unknown[][]> {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    const r = await c.runAndReadAll(sql.replaceAll('{sales}', `read_csv('${csvFile}')`));
    return r.convertRows(JsonDuckDBValueConverter) as unknown[][];
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

before(async () => {
  app = await startTestApp('pglite');
  dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-qcli-'));
  const { session } = await ownerSession(app, 'query-cli@corp.test');
  env = await cliCredentials(dir, app, session, 'query-cli@corp.test');
  csvFile = path.join(dir, 'sales.csv');
  const lines = Array.from(
    { length: 3000 },
    (_, i) =>
      `${i},customer number ${i} with a long name,c${i}@mail.test,${['de', 'fr', 'us', 'jp'][i % 4]},${(i * 37) % 1000}.25,2026-0${(i % 9) + 1}-15`,
  );
  await writeFile(csvFile, `id,name,email,country,amount,day\n${lines.join('\n')}\n`);
  const up = await cli(['dataset', 'upload', 'sales', 'sales.csv', '--quiet']);
  assert.equal(up.status, 0, up.stderr);
});
after(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

test('query: JSON, CSV to standard output and Parquet to a file equal DuckDB on the plaintext', async () => {
  const agg = 'SELECT country, count(*) AS n, sum(amount) AS total FROM {sales} GROUP BY country ORDER BY country';
  const json = await cli(['query', agg.replace('{sales}', 'sales'), '--format', 'json']);
  assert.equal(json.status, 0, json.stderr);
  const got = JSON.parse(json.stdout.toString()) as { columns: { name: string; type: string }[]; rows: unknown[][] };
  assert.deepEqual(got.rows, await duck(agg));
  assert.deepEqual(
    got.columns.map((c) => `${c.name}:${c.type}`),
    ['country:VARCHAR', 'n:BIGINT', 'total:DOUBLE'],
  );

  const all = 'SELECT * FROM {sales} WHERE id % 7 = 0 ORDER BY id';
  const csv = await cli(['query', all.replace('{sales}', 'sales'), '--format', 'csv', '-o', '-']);
  assert.equal(csv.status, 0, csv.stderr);
  const expectedCsv = path.join(dir, 'expected.csv');
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  await c.run(`COPY (${all.replace('{sales}', `read_csv('${csvFile}')`)}) TO '${expectedCsv}' (FORMAT csv, HEADER)`);
  c.closeSync();
  inst.closeSync();
  assert.equal(csv.stdout.toString(), await readFile(expectedCsv, 'utf8'));
  assert.equal(csv.stdout.toString().split('\n').length, 1 + 429 + 1, 'header, 429 rows, final newline');

  const pq = await cli(['query', all.replace('{sales}', 'sales'), '--format', 'parquet', '-o', 'out.parquet']);
  assert.equal(pq.status, 0, pq.stderr);
  assert.match(pq.stderr, /429 row\(s\) written to out\.parquet/);
  assert.deepEqual(await duck(`SELECT * FROM read_parquet('${path.join(dir, 'out.parquet')}')`), await duck(all));
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.endsWith('.part')),
    [],
  );

  // The SQL may come from standard input; a row cap is said on standard error.
  const capped = await cli(['query', '-', '--format', 'csv', '--limit', '5'], {}, 'SELECT id FROM sales ORDER BY id');
  assert.equal(capped.status, 0, capped.stderr);
  assert.equal(capped.stdout.toString(), 'id\n0\n1\n2\n3\n4\n');
  assert.match(capped.stderr, /stopped at 5 rows: raise --limit/);
  await expectAudit(app!, { action: 'dataset.data.query', outcome: 'success', details: { rows: 429 } });
});

test('tables fit the terminal width; preview shows types and the row count', async () => {
  for (const width of [40, 80, 160]) {
    const t = await cli(['query', 'SELECT * FROM sales ORDER BY id', '--limit', '12'], { COLUMNS: String(width) });
    assert.equal(t.status, 0, t.stderr);
    const lines = t.stdout.toString().trimEnd().split('\n');
    for (const l of lines) assert.ok([...l].length <= width, `${[...l].length} > ${width}: ${l}`);
    assert.match(lines.at(-1)!, /^\(12 rows; more exist: raise --limit\)$/);
    assert.equal(lines.length, 1 + 1 + 12 + 1 + (width < 60 ? 1 : 0));
    if (width === 160)
      assert.match(lines[2]!, /^ *0 +customer number 0 with a long name +c0@mail\.test +de +0\.25 +2026-01-15$/);
    if (width === 40) assert.match(lines.at(-2)!, /^\(\d more column\(s\) not shown: /);
  }

  const p = await cli(['dataset', 'preview', 'sales', '--limit', '3', '--offset', '10'], { COLUMNS: '120' });
  assert.equal(p.status, 0, p.stderr);
  const out = p.stdout.toString().split('\n');
  assert.equal(out[0], 'sales v1 (csv, 6 columns, 3000 rows)');
  assert.match(out[1]!, /^id +name +email +country +amount +day$/);
  assert.match(out[2]!, /^bigint +varchar +varchar +varchar +double +date$/);
  assert.match(out[4]!, /^ *10 +customer number 10 with a long name +c10@mail\.test +us +370\.25 +2026-02-15$/);
  assert.match(out[7]!, /^\(rows 11–13; \d+(\.\d)? KiB decrypted\)$/);
  const pj = await cli(['dataset', 'preview', 'sales', '--at', '1', '--json', '--limit', '4']);
  const preview = JSON.parse(pj.stdout.toString()) as { rows: unknown[][] };
  assert.deepEqual(preview.rows, await duck('SELECT * FROM {sales} LIMIT 4'));
});

test('a result saved as a new version; a version exported to a file and into another dataset', async () => {
  const saved = await cli([
    'query',
    "SELECT country, count(*) AS n FROM sales WHERE country <> 'jp' GROUP BY 1 ORDER BY 1",
    '--save-as',
    'by-country',
    '--format',
    'csv',
  ]);
  assert.equal(saved.status, 0, saved.stderr);
  assert.match(saved.stdout.toString(), /^by-country: version 1 {2}\d+ B {2}3 row\(s\) {2}csv {2}from sales@v1$/m);
  const back = await cli(['dataset', 'download', 'by-country', '-o', '-', '--quiet']);
  assert.equal(back.stdout.toString(), 'country,n\nde,750\nfr,750\nus,750\n');

  const ex = await cli(['dataset', 'export', 'sales', '--format', 'jsonl', '-o', 'sales.jsonl']);
  assert.equal(ex.status, 0, ex.stderr);
  assert.match(ex.stderr, /sales v1: 3000 row\(s\) written to sales\.jsonl/);
  const jl = (await readFile(path.join(dir, 'sales.jsonl'), 'utf8')).trimEnd().split('\n');
  assert.equal(jl.length, 3000);
  assert.deepEqual(JSON.parse(jl[1]!), {
    id: 1,
    name: 'customer number 1 with a long name',
    email: 'c1@mail.test',
    country: 'fr',
    amount: 37.25,
    day: '2026-02-15',
  });

  const into = await cli(['dataset', 'export', 'sales', '--format', 'parquet', '--into', 'sales-pq']);
  assert.equal(into.status, 0, into.stderr);
  assert.match(into.stdout.toString(), /^sales-pq: version 1 .* 3000 row\(s\) {2}parquet {2}from sales@v1$/m);
  const pv = await cli(['dataset', 'preview', 'sales-pq', '--limit', '1'], { COLUMNS: '200' });
  assert.match(pv.stdout.toString(), /^sales-pq v1 \(parquet, 6 columns, 3000 rows\)$/m);
  await expectAudit(app!, {
    action: 'dataset.version.create',
    outcome: 'success',
    resource: { id: 'sales-pq' },
    details: { from: 'query', datasets: ['sales@v1'], rows: 3000, format: 'parquet' },
  });
});

test('refusals: exit 2 with the server reason; usage errors before any request', async () => {
  const missing = await cli(['query', 'SELECT * FROM nothere']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /400 QUERY_INVALID|No dataset named "nothere"/);
  const fn = await cli(['query', "SELECT * FROM read_csv('/etc/passwd')", '--format', 'csv']);
  assert.equal(fn.status, 2);
  assert.match(fn.stderr, /table function read_csv/);
  assert.equal(fn.stdout.length, 0);
  const fmt = await cli(['query', 'SELECT 1 FROM sales', '--format', 'xml']);
  assert.equal(fmt.status, 2);
  assert.match(fmt.stderr, /--format must be one of table, json, csv, jsonl, parquet/);
  const bad = await cli(['dataset', 'export', 'sales', '--format', 'xlsx']);
  assert.equal(bad.status, 2);
  const noVersion = await cli(['dataset', 'preview', 'sales', '--at', '9']);
  assert.equal(noVersion.status, 1);
  assert.match(noVersion.stderr, /404/);
});
