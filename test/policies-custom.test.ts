/**
 * `custom` masks (issue 17): the safe expression language of policies.custom.ts — exact outputs
 * on DuckDB through the reader's relation, refusals with the position, and input that looks like
 * SQL staying a value (or a refusal), never code.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance, JsonDuckDBValueConverter, type DuckDBConnection } from '@duckdb/node-api';
import type { Actor } from '../src/core/actor.ts';
import { AppError, isAppError } from '../src/core/errors.ts';
import { compilePlan } from '../src/modules/policies/policies.compile.ts';
import { policyBody, type PolicyBody } from '../src/contracts/policies.ts';
import { parseCustom } from '../src/modules/policies/policies.custom.ts';
import { readerRelation } from '../src/modules/query/query.relation.ts';

const reader: Actor = { id: 'u1', kind: 'user', roles: ['analyst'], attributes: {} };

describe('custom masks', () => {
  let dir: string;
  let file: string;
  let conn: DuckDBConnection;
  let close: () => void;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-custom-'));
    file = path.join(dir, 't.parquet');
    const inst = await DuckDBInstance.create(':memory:');
    conn = await inst.connect();
    close = () => (conn.closeSync(), inst.closeSync());
    await conn.run(
      `COPY (SELECT * FROM (VALUES (1, 'alice@example.org', 4111222233334444), (2, NULL, 55), (3, 'O''Brien', 7)) t(id, email, card)) TO '${file}' (FORMAT parquet)`,
    );
  });
  after(async () => {
    close();
    await rm(dir, { recursive: true, force: true });
  });

  async function masked(column: string, expression: string): Promise<unknown[]> {
    const body = policyBody.parse({
      target: { dataset: 't' },
      masks: [{ column, kind: 'custom', expression }],
    }) as PolicyBody;
    const plan = compilePlan([{ name: 'p', body }], reader, 'sr_0_', () => ({ inner: '', outer: '', id: '' }));
    const rel = readerRelation(
      reader,
      { workspaceId: 'w', dataset: 't', version: 1, tags: [], scan: { kind: 'parquet', path: file } },
      plan,
    );
    // No text of the expression is in the SQL: strings are parameters. (The scan's file path is
    // left out of the check: its random temp directory name may hold a letter such as 'x'.)
    const sqlText = rel.sql.replaceAll(file, '<file>');
    for (const s of expression.match(/'(?:[^']|'')*'/g) ?? [])
      if (s.length > 2) assert.ok(!sqlText.includes(s.slice(1, -1).replaceAll("''", "'")), rel.sql);
    const r = await conn.runAndReadAll(`SELECT ${column} FROM (${rel.sql}) ORDER BY id`, rel.params);
    assert.equal(r.columnType(0).toString(), 'VARCHAR');
    return r.convertRows(JsonDuckDBValueConverter).map((row) => row[0]);
  }

  test('exact outputs', async () => {
    assert.deepEqual(await masked('card', "concat('****-', right(value, 4))"), ['****-4444', '****-55', '****-7']);
    assert.deepEqual(await masked('email', "coalesce(upper(left(value, 1)), '?')"), ['A', '?', 'O']);
    assert.deepEqual(await masked('email', "lpad(right(value, 3), 6, '#')"), ['###org', null, '###ien']);
    assert.deepEqual(await masked('email', "replace(lower(value), 'example', 'x')"), ['alice@x.org', null, "o'brien"]);
    assert.deepEqual(await masked('card', 'length(value)'), ['16', '2', '1']);
    assert.deepEqual(await masked('email', "'fixed'"), ['fixed', 'fixed', 'fixed']);
    assert.deepEqual(await masked('email', 'substr(value, 2, 3)'), ['lic', null, "'Br"]);
  });

  test('strings that look like SQL are values', async () => {
    assert.deepEqual(await masked('email', "concat('x''); DROP TABLE t; --', '')"), [
      "x'); DROP TABLE t; --",
      "x'); DROP TABLE t; --",
      "x'); DROP TABLE t; --",
    ]);
    assert.deepEqual(await masked('email', "coalesce(value, '\" OR 1=1 --')"), [
      'alice@example.org',
      '" OR 1=1 --',
      "O'Brien",
    ]);
  });

  test('anything outside the language is refused with the position', () => {
    const cases: [string, RegExp][] = [
      ['value || 1', /unexpected "\|" at character 7/],
      ["read_csv('/etc/passwd')", /the function "read_csv" is not allowed at character 1/],
      ['sha256(value)', /the function "sha256" is not allowed/],
      ["concat(value, '1') ; SELECT 1", /unexpected ";" at character 20/],
      ['email', /unknown name "email" \(the column is written value\)/],
      ['"email"', /unexpected """ at character 1/],
      ["concat('unterminated)", /an unterminated string at character 8/],
      ['left(value)', /left takes 2 arguments/],
      ['left(value, 99999)', /an integer above 10000/],
      ['left(value, -1)', /unexpected "-"/],
      ['upper(upper(upper(upper(upper(upper(upper(upper(upper(value)))))))))', /nested too deeply/],
      ['cast(value AS INT)', /the function "cast" is not allowed/],
      ['constructor(value)', /the function "constructor" is not allowed/],
      ['__proto__(value)', /the function "__proto__" is not allowed/],
      ['', /an unexpected end at character 1/],
    ];
    for (const [text, why] of cases) {
      assert.throws(
        () => parseCustom(text),
        (err: unknown) => {
          assert.ok(isAppError(err) && err instanceof AppError, String(err));
          assert.equal(err.status, 422);
          assert.match(err.detail ?? '', why, text);
          return true;
        },
        text,
      );
    }
  });
});
