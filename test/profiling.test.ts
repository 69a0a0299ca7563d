/**
 * Profiles (issue 18, first slice) over HTTPS: a CSV with canary values in sensitive columns —
 * emails, card numbers, IBANs, SSNs, and SSNs in a column whose name says nothing — is profiled
 * through the governed read path. Findings tag the right columns; no canary appears in the
 * profile JSON, the audit trail or the server log; non-sensitive statistics match DuckDB on the
 * plaintext; a viewer (profile, no preview) gets no value at all; small columns are suppressed;
 * bad input is refused with its reason.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { canaryValues } from './helpers/canaries.ts';
import { createUser, login, ownerSession, type Session } from './helpers/identity.ts';
import { cliCredentials, cliIn } from './helpers/cli.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const WS = '/api/v1/workspaces/default';
const N = 200;

const canaries = canaryValues;
const ALL_CANARIES = Array.from({ length: N }, (_, i) => Object.values(canaries).map((f) => f(i))).flat();

const rows = Array.from({ length: N }, (_, i) =>
  [
    i,
    canaries.email(i),
    canaries.card(i),
    canaries.iban(i),
    canaries.ssn(i),
    canaries.ref(i),
    ['de', 'fr', 'us', 'nl'][i % 4],
    i % 10 === 0 ? '' : ((i * 13) % 500) / 4,
    `2026-0${(i % 9) + 1}-1${i % 10}`,
  ].join(','),
);
const CSV = `id,email,card,iban,ssn,ref,country,amount,day\n${rows.join('\n')}\n`;

type Col = {
  name: string;
  type: string;
  nonNull: number;
  nulls: number;
  min?: unknown;
  max?: unknown;
  mean?: number;
  stddev?: number;
  top?: { value: string; count: number }[];
  findings: { tag: string; nameHint: boolean }[];
  suppressed?: string;
  masked?: boolean;
  distinct?: number;
  length?: { min: number; max: number; mean: number };
};
type Profile = { rowCount: number; valuesShown: boolean; columns: Col[]; quality: { duplicateRows: number } };

describe('profiles that never leak a value', () => {
  let app: TestApp;
  let owner: Session;
  const put = (name: string, body: string | Buffer, filename: string) =>
    owner.req(`${WS}/datasets/${name}/versions?filename=${filename}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });

  before(async () => {
    app = await startTestApp('pglite', { env: { STRONGROOM_QUERY_TIMEOUT_MS: '20000' } });
    owner = (await ownerSession(app, 'owner-p@corp.test')).session;
    assert.equal((await put('people', CSV, 'people.csv')).status, 201);
    const small = `a,b\n${[1, 2, 3].map((i) => `${i},x${i}`).join('\n')}\n`;
    assert.equal((await put('tiny', small, 'tiny.csv')).status, 201);
    assert.equal((await put('blob', Buffer.from([0, 1, 2, 255]), 'blob.bin')).status, 201);
  });
  after(async () => {
    await app?.close();
  });

  test('findings tag the sensitive columns; no canary in the profile, the audit trail or the log', async () => {
    const res = await owner.req(`${WS}/datasets/people/versions/1/profile`);
    assert.equal(res.status, 200, res.body);
    const p = res.json<Profile>();
    assert.equal(p.rowCount, N);
    assert.equal(p.valuesShown, true);
    const tags = Object.fromEntries(p.columns.map((c) => [c.name, c.findings.map((f) => f.tag)]));
    assert.deepEqual(tags, {
      id: [],
      email: ['pii.email'],
      card: ['pii.card'],
      iban: ['pii.iban'],
      ssn: ['pii.ssn'],
      ref: ['pii.ssn'],
      country: [],
      amount: [],
      day: [],
    });
    assert.equal(p.columns.find((c) => c.name === 'ref')?.findings[0]?.nameHint, false, 'caught by value only');
    for (const c of p.columns.filter((x) => x.findings.length > 0)) {
      for (const k of ['min', 'max', 'top', 'mean', 'stddev', 'quantiles']) assert.ok(!(k in c), `${c.name}.${k}`);
      assert.equal(c.nonNull, N);
    }
    for (const canary of ALL_CANARIES) assert.ok(!res.body.includes(canary), `profile holds ${canary}`);
    await expectAudit(app, {
      action: 'dataset.profile.read',
      outcome: 'success',
      details: { datasets: ['people@v1'], rows: N, columns: 9 },
      mustNotContain: ALL_CANARIES,
    });
    const log = app.logs.join('\n');
    for (const canary of ALL_CANARIES) assert.ok(!log.includes(canary), `log holds ${canary}`);
  });

  test('non-sensitive statistics match DuckDB on the plaintext', async () => {
    const p = (await owner.req(`${WS}/datasets/people/versions/1/profile`)).json<Profile>();
    const inst = await DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    await conn.run(
      `CREATE OR REPLACE TABLE t AS SELECT * FROM (VALUES ${rows
        .map((r) => {
          const f = r.split(',');
          return `(${f[7] === '' ? 'NULL' : f[7]}::DOUBLE, '${f[6]}', DATE '${f[8]}')`;
        })
        .join(',')}) v(amount, country, day)`,
    );
    const [want] = (
      await conn.runAndReadAll(
        'SELECT min(amount), max(amount), avg(amount), stddev_samp(amount), count(amount), min(day)::VARCHAR, max(day)::VARCHAR FROM t',
      )
    ).getRowsJson() as unknown[][];
    conn.closeSync();
    inst.closeSync();
    const amount = p.columns.find((c) => c.name === 'amount')!;
    assert.equal(amount.min, Number(want![0]));
    assert.equal(amount.max, Number(want![1]));
    assert.ok(Math.abs(amount.mean! - Number(want![2])) < 1e-6);
    assert.ok(Math.abs(amount.stddev! - Number(want![3])) < 1e-6);
    assert.equal(amount.nonNull, Number(want![4]));
    assert.equal(amount.nulls, N - Number(want![4]));
    const day = p.columns.find((c) => c.name === 'day')!;
    assert.deepEqual([day.min, day.max], [want![5], want![6]]);
    const country = p.columns.find((c) => c.name === 'country')!;
    assert.deepEqual(
      country.top,
      ['de', 'fr', 'nl', 'us'].map((value) => ({ value, count: N / 4 })),
    );
    assert.equal(p.quality.duplicateRows, 0);
  });

  test('a viewer (profile without preview) gets counts only, no value', async () => {
    await createUser(app, 'viewer-p@corp.test', { role: 'viewer' });
    const viewer = await login(app, 'viewer-p@corp.test');
    assert.equal((await viewer.req(`${WS}/datasets/people/versions/1/preview`)).status, 403);
    const res = await viewer.req(`${WS}/datasets/people/versions/1/profile`);
    assert.equal(res.status, 200, res.body);
    const p = res.json<Profile>();
    assert.equal(p.valuesShown, false);
    for (const c of p.columns)
      for (const k of ['min', 'max', 'top', 'mean', 'quantiles']) assert.ok(!(k in c), `${c.name}.${k}`);
    assert.ok(!res.body.includes('"de"'));
  });

  test('a data policy applies to the profile: a masked column profiles its masked values, a hidden one is absent', async () => {
    // Found by `npm run reliability -- canary`: the profile read the version without the reader's policy plan.
    const csv = `id,code,note\n${Array.from({ length: 30 }, (_, i) => `${i},PROFILE-CANARY-${i},n${i % 3}`).join('\n')}\n`;
    assert.equal((await put('masked', csv, 'masked.csv')).status, 201);
    const saved = await owner.req(`${WS}/data-policies/masked-codes`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        policy: {
          target: { dataset: 'masked' },
          masks: [{ column: 'code', kind: 'redact' }],
          hide: ['note'],
        },
      }),
    });
    assert.equal(saved.status, 201, saved.body);
    const res = await owner.req(`${WS}/datasets/masked/versions/1/profile`);
    assert.equal(res.status, 200, res.body);
    assert.ok(!res.body.includes('PROFILE-CANARY'), res.body);
    const p = res.json<Profile>();
    assert.deepEqual(
      p.columns.map((c) => c.name),
      ['id', 'code'],
    );
    // Profiled as this reader sees it: one value, '[redacted]' (10 characters); a string never has a min or max.
    const code = p.columns.find((c) => c.name === 'code')!;
    assert.equal(code.masked, true);
    assert.equal(code.min, undefined);
    assert.equal(code.distinct, 1);
    assert.deepEqual([code.length?.min, code.length?.max], [10, 10]);
  });

  test('columns with fewer than k values are suppressed', async () => {
    const res = await owner.req(`${WS}/datasets/tiny/versions/1/profile`);
    assert.equal(res.status, 200, res.body);
    const p = res.json<Profile>();
    assert.equal(p.rowCount, 3);
    for (const c of p.columns) {
      assert.equal(c.suppressed, 'fewer_than_k_values');
      assert.ok(!('min' in c) && !('top' in c) && !('mean' in c));
    }
    assert.ok(!res.body.includes('x1'));
  });

  test('CLI: strongroom dataset profile NAME (table and --json), no canary on stdout or stderr', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-profile-cli-'));
    try {
      const env = await cliCredentials(dir, app, owner, 'owner-p@corp.test');
      const [text, json, bad] = await Promise.all([
        cliIn(dir, ['dataset', 'profile', 'people'], { env }),
        cliIn(dir, ['dataset', 'profile', 'people', '--at', '1', '--json'], { env }),
        cliIn(dir, ['dataset', 'profile', 'blob'], { env }),
      ]);
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout.toString(), /^people v1 \(csv\): 200 row\(s\), 9 column\(s\)$/m);
      assert.match(text.stdout.toString(), /^ {2}ref {2}VARCHAR .*\[pii\.ssn\(1\)\]$/m);
      assert.equal(json.status, 0, json.stderr);
      assert.equal(JSON.parse(json.stdout.toString()).rowCount, N);
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /not tabular/);
      const all = text.stdout.toString() + text.stderr + json.stdout.toString() + json.stderr;
      for (const canary of ALL_CANARIES) assert.ok(!all.includes(canary), `CLI output holds ${canary}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('bad input: non-tabular, unknown version, unknown dataset, a query string', async () => {
    const blob = await owner.req(`${WS}/datasets/blob/versions/1/profile`);
    assert.equal(blob.status, 422);
    assert.match(blob.json<{ detail: string }>().detail, /not tabular/);
    assert.equal((await owner.req(`${WS}/datasets/people/versions/9/profile`)).status, 404);
    assert.equal((await owner.req(`${WS}/datasets/nobody/versions/1/profile`)).status, 404);
    assert.equal((await owner.req(`${WS}/datasets/people/versions/1/profile?x=1`)).status, 422);
    await expectAudit(app, { action: 'dataset.profile.read', outcome: 'failure' });
  });
});
