/**
 * Aggregation thresholds (issue 17, `minGroupSize`) through the real `prepareStatement` →
 * `readerRelation` path on DuckDB: exact answers of allowed aggregate statements (groups below k
 * absent), and the statements refused with the reason (row-level reads, row-picking aggregates,
 * FILTER, subqueries, joins, CTEs, set operations, windows).
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance, JsonDuckDBValueConverter, type DuckDBConnection } from '@duckdb/node-api';
import type { Actor } from '../src/core/actor.ts';
import { isAppError } from '../src/core/errors.ts';
import { compilePlan } from '../src/modules/policies/policies.compile.ts';
import { policyBody, type PolicyBody } from '../src/contracts/policies.ts';
import { parseFilter } from '../src/modules/policies/policies.filter.ts';
import { createCopies, type Copies } from '../src/modules/query/query.copies.ts';
import { openParser, openScratch, type Scratch } from '../src/modules/query/query.engine.ts';
import { prepareStatement } from '../src/modules/query/query.statement.ts';

// region: eu ×5, us ×3, apac ×1; salary = 100 × (i + 1)
const REGIONS = ['eu', 'eu', 'us', 'eu', 'us', 'eu', 'apac', 'us', 'eu'];

describe('aggregation thresholds', () => {
  let dir: string;
  let file: string;
  let conn: DuckDBConnection;
  let close: () => void;
  let parser: Awaited<ReturnType<typeof openParser>>;
  let scratch: Scratch;
  let copies: Copies;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-threshold-'));
    file = path.join(dir, 'people.parquet');
    const inst = await DuckDBInstance.create(':memory:');
    conn = await inst.connect();
    close = () => (conn.closeSync(), inst.closeSync());
    const values = REGIONS.map((r, i) => `(${i}, 'NAME${i}', '${r}', ${100 * (i + 1)})`);
    await conn.run(
      `COPY (SELECT * FROM (VALUES ${values.join(', ')}) t(id, name, region, salary)) TO '${file}' (FORMAT parquet)`,
    );
    parser = await openParser();
    scratch = await openScratch('/dev/shm');
    copies = createCopies({
      scratch,
      limits: { memoryMb: 256, threads: 1 },
      budgetBytes: 1 << 30,
      openPlaintext: async () => ({ stream: createReadStream(file) }),
    });
  });
  after(async () => {
    close();
    parser.close();
    await scratch.close();
    await rm(dir, { recursive: true, force: true });
  });

  const reader: Actor = { id: 'u1', kind: 'user', roles: ['analyst'], attributes: { region: 'us' } };

  async function run(policies: object[], sql: string): Promise<unknown[][] | { status: number; detail: string }> {
    const applicable = await Promise.all(
      policies.map(async (doc, i) => {
        const body = policyBody.parse(doc) as PolicyBody;
        return {
          name: `p${i}`,
          body,
          ...(body.rowFilter ? { filter: await parseFilter(body.rowFilter, parser.serialize) } : {}),
        };
      }),
    );
    const deps = {
      datasets: {
        find: async (_ws: string, name: string) =>
          (name === 'people' || name === 'other' ? { tags: [] } : null) as never,
        versions: async () => [{ version: 1, tabularFormat: 'parquet', sha256: 'x', size: 1 }] as never,
        open: async () => undefined as never,
      },
      copies,
      parser,
      policies: {
        planFor: async (r: Actor, s: { dataset: string }, prefix: string) =>
          s.dataset === 'people'
            ? compilePlan(applicable, r, prefix, () => ({ inner: '00', outer: '00', id: 'k' }))
            : null,
      },
    };
    try {
      const st = await prepareStatement(deps, reader, 'default', sql, () => true, 'dataset.data.query');
      try {
        return (await conn.runAndReadAll(st.sql, st.params)).convertRows(JsonDuckDBValueConverter) as unknown[][];
      } finally {
        st.release();
      }
    } catch (err) {
      if (!isAppError(err)) throw err;
      return { status: err.status, detail: err.detail ?? err.message };
    }
  }

  const k3 = { target: { dataset: 'people' }, minGroupSize: 3 };

  test('groups of fewer than k rows are not in the answer', async () => {
    assert.deepEqual(
      await run([k3], 'SELECT region, count(*) AS n, sum(salary) AS s FROM people GROUP BY region ORDER BY region'),
      [
        ['eu', '5', '2200'],
        ['us', '3', '1600'],
      ],
    );
    // With the user's own HAVING (ANDed) and WHERE (counted after it).
    assert.deepEqual(
      await run(
        [k3],
        'SELECT region, avg(salary) FROM people WHERE salary > 150 GROUP BY region HAVING sum(salary) > 0 ORDER BY 1',
      ),
      [
        ['eu', 525],
        ['us', 1600 / 3],
      ],
    );
    // An aggregate without GROUP BY is one group: shown when it has k rows, absent otherwise.
    assert.deepEqual(await run([k3], 'SELECT count(*) FROM people'), [['9']]);
    assert.deepEqual(await run([k3], "SELECT sum(salary) FROM people WHERE name = 'NAME6'"), []);
    // A GROUP BY without an aggregate lists only the keys of large enough groups.
    assert.deepEqual(await run([k3], 'SELECT region FROM people GROUP BY region ORDER BY region'), [['eu'], ['us']]);
  });

  test('the count is of the rows the reader may see (row filters apply first)', async () => {
    const filtered = { target: { dataset: 'people' }, rowFilter: 'region = reader.region OR salary > 500' };
    // Visible: us ×3 (300, 500, 800) and eu rows with salary > 500 (600, 900), apac 700.
    assert.deepEqual(await run([k3, filtered], 'SELECT region, count(*) FROM people GROUP BY region ORDER BY region'), [
      ['us', '3'],
    ]);
  });

  test('the largest k of several policies applies', async () => {
    assert.deepEqual(
      await run(
        [k3, { target: { dataset: 'people' }, minGroupSize: 4 }],
        'SELECT region, count(*) FROM people GROUP BY region',
      ),
      [['eu', '5']],
    );
  });

  test('row-level and row-picking statements are refused with the reason', async () => {
    const cases: [string, RegExp][] = [
      ['SELECT * FROM people', /a row-level SELECT/],
      ['SELECT name FROM people WHERE salary > 100', /a row-level SELECT/],
      ['SELECT region, max(salary) FROM people GROUP BY region', /the aggregate max/],
      ['SELECT region, list(name) FROM people GROUP BY region', /the aggregate list/],
      ['SELECT region, string_agg(name) FROM people GROUP BY region', /the aggregate string_agg/],
      ["SELECT region, count(*) FILTER (WHERE name = 'NAME0') FROM people GROUP BY region", /FILTER/],
      ['SELECT count(*) FROM people WHERE salary > (SELECT avg(salary) FROM people)', /name it once|a subquery/],
      ['SELECT region, count(*) FROM (SELECT * FROM people) GROUP BY region', /a join or a relation other than/],
      ['SELECT p.region, count(*) FROM people p JOIN people q ON p.id = q.id GROUP BY 1', /name it once/],
      ['WITH t AS (SELECT * FROM people) SELECT count(*) FROM t', /name it once|a WITH clause/],
      ['SELECT count(*) FROM people UNION ALL SELECT count(*) FROM people', /name it once|a set operation/],
      ['SELECT region, sum(count(*)) OVER () FROM people GROUP BY region', /a window function/],
      ['SELECT count(*) FROM people, other', /name it once/],
    ];
    for (const [sql, why] of cases) {
      const out = await run([k3], sql);
      assert.ok(!Array.isArray(out), `${sql} answered ${JSON.stringify(out)}`);
      assert.equal(out.status, 403, sql);
      assert.match(out.detail, /^people answers only aggregate queries over groups of at least 3 rows/, sql);
      assert.match(out.detail, why, `${sql}: ${out.detail}`);
    }
  });

  test('a dataset without a threshold is unaffected', async () => {
    assert.deepEqual(await run([], 'SELECT name FROM people WHERE id = 6'), [['NAME6']]);
  });
});
