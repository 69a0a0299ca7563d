/**
 * `strongroom profile --postgres-url URL --table T` (issue 18, metadata-only mode) against the
 * real PostgreSQL: the CLI reads the table through `pg` into its own DuckDB and profiles it —
 * types follow PostgreSQL's, the statistics match PostgreSQL's own aggregates, detection tags the
 * sensitive columns, and no canary value appears on the CLI's output or, with `--publish`, in
 * anything the server keeps. Bad input: a table that is not there, a database that is not there
 * (the URL's password is never echoed), a file and a table at once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { cliCredentials, cliIn } from './helpers/cli.ts';
import { postgresAvailable } from './helpers/db.ts';
import { ownerSession, type Session } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';

const WS = '/api/v1/workspaces/default';
/** The database the table is made in (trust auth on the local server). */
const URL_ = process.env.STRONGROOM_TEST_PROFILE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TABLE = `sr_profile_${randomBytes(5).toString('hex')}`;
const N = 150;
const pad = (n: number, w: number) => String(n).padStart(w, '0');
const canaries = {
  email: (i: number) => `pg.canary.${i}.z7q@leaktest-mail.org`,
  ssn: (i: number) => `${pad(101 + i, 3)}-${pad((i % 98) + 1, 2)}-${pad(6000 + i, 4)}`,
  note: (i: number) => `qv-pg-canary-${i}-vq`,
};
const ALL = Array.from({ length: N }, (_, i) => Object.values(canaries).map((f) => f(i))).flat();

interface Col {
  name: string;
  type: string;
  kind: string;
  nonNull: number;
  nulls: number;
  min?: unknown;
  max?: unknown;
  mean?: number;
  stddev?: number;
  top?: { value: string; count: number }[];
  findings: { tag: string }[];
  sensitive: boolean;
}

describe('strongroom profile --postgres-url URL --table T', () => {
  let admin: pg.Client | undefined;
  let app: TestApp | undefined;
  let owner: Session;
  let dir = '';
  let env: Record<string, string> = {};
  let available = false;

  before(async () => {
    available = await postgresAvailable();
    if (!available) return;
    admin = new pg.Client({ connectionString: URL_ });
    await admin.connect();
    await admin.query(
      `CREATE TABLE ${TABLE} (id integer, "Email Address" text, ssn text, note text, amount numeric(12,2),
        ok boolean, day date, at timestamptz, country varchar(2), big bigint, odd text)`,
    );
    const values: unknown[] = [];
    const rows: string[] = [];
    for (let i = 0; i < N; i += 1) {
      const p = values.length;
      rows.push(`(${Array.from({ length: 11 }, (_, j) => `$${p + j + 1}`).join(', ')})`);
      values.push(
        i,
        canaries.email(i),
        canaries.ssn(i),
        canaries.note(i),
        i % 10 === 0 ? null : ((i * 37) % 1000) / 4,
        i % 3 === 0,
        `2021-0${(i % 9) + 1}-1${i % 10}`,
        `2024-05-0${(i % 9) + 1}T12:00:00+02:00`,
        ['de', 'fr', 'us'][i % 3],
        String(2 ** 53 + i),
        i % 2 === 0 ? 'abc' : 'xyz',
      );
    }
    await admin.query(`INSERT INTO ${TABLE} VALUES ${rows.join(', ')}`, values);
    app = await startTestApp('pglite');
    owner = (await ownerSession(app, 'owner-pg@corp.test')).session;
    dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-profile-pg-test-'));
    env = await cliCredentials(path.join(dir, 'o'), app, owner, 'owner-pg@corp.test');
  });
  after(async () => {
    await admin?.query(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => undefined);
    await admin?.end().catch(() => undefined);
    await app?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('--json: PostgreSQL types, PostgreSQL numbers, tags suggested, no canary', async (t) => {
    if (!requirePeer(t, 'PostgreSQL', available, 'start it: pg_ctlcluster 15 main start')) return;
    const r = await cliIn(dir, ['profile', '--postgres-url', URL_, '--table', TABLE, '--json'], { bare: true });
    assert.equal(r.status, 0, r.stderr);
    const p = JSON.parse(r.stdout.toString()) as { format: string; rowCount: number; columns: Col[] };
    assert.equal(p.format, 'postgres');
    assert.equal(p.rowCount, N);
    const col = (n: string) => p.columns.find((c) => c.name === n)!;
    assert.deepEqual(
      p.columns.map((c) => [c.name, c.type]),
      [
        ['id', 'INTEGER'],
        ['Email Address', 'VARCHAR'],
        ['ssn', 'VARCHAR'],
        ['note', 'VARCHAR'],
        ['amount', 'DOUBLE'],
        ['ok', 'BOOLEAN'],
        ['day', 'DATE'],
        ['at', 'TIMESTAMP WITH TIME ZONE'],
        ['country', 'VARCHAR'],
        ['big', 'BIGINT'],
        ['odd', 'VARCHAR'],
      ],
    );
    assert.deepEqual(
      col('Email Address').findings.map((f) => f.tag),
      ['pii.email'],
    );
    assert.deepEqual(
      col('ssn').findings.map((f) => f.tag),
      ['pii.ssn'],
    );
    assert.deepEqual(col('note').findings, []);
    assert.equal(col('Email Address').sensitive, true);
    assert.equal(col('Email Address').top, undefined);
    // Numbers as PostgreSQL computes them on the same rows.
    const { rows } = await admin!.query<Record<string, string>>(
      `SELECT count(amount)::text AS n, min(amount)::float8::text AS min, max(amount)::float8::text AS max,
              avg(amount)::float8::text AS mean, stddev_samp(amount)::float8::text AS sd,
              min(day)::text AS dmin, max(day)::text AS dmax FROM ${TABLE}`,
    );
    const pgs = rows[0]!;
    const amount = col('amount');
    assert.equal(amount.nonNull, Number(pgs.n));
    assert.equal(amount.nulls, N - Number(pgs.n));
    assert.equal(amount.min, Number(pgs.min));
    assert.equal(amount.max, Number(pgs.max));
    assert.ok(Math.abs(amount.mean! - Number(pgs.mean)) < 1e-6, `${amount.mean} vs ${pgs.mean}`);
    assert.ok(Math.abs(amount.stddev! - Number(pgs.sd)) < 1e-4, `${amount.stddev} vs ${pgs.sd}`);
    assert.equal(String(col('day').min), pgs.dmin);
    assert.equal(String(col('day').max), pgs.dmax);
    assert.equal(col('big').min, 2 ** 53);
    assert.deepEqual(
      col('country').top?.map((x) => [x.value, x.count]),
      [
        ['de', 50],
        ['fr', 50],
        ['us', 50],
      ],
    );
    const out = r.stdout.toString() + r.stderr;
    for (const c of ALL) assert.ok(!out.includes(c), `${c} on the CLI's output`);
  });

  test('--publish: only the profile reaches the server, format postgres', async (t) => {
    if (!requirePeer(t, 'PostgreSQL', available, 'start it: pg_ctlcluster 15 main start')) return;
    const r = await cliIn(
      dir,
      ['profile', '--postgres-url', URL_, '--table', `public.${TABLE}`, '--publish', 'pg-meta'],
      {
        env,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /published the profile as pg-meta version 1 \(new metadata-only dataset\)/);
    const pub = await owner.req(`${WS}/datasets/pg-meta/published-profiles`);
    assert.equal(pub.status, 200, pub.body);
    const [first] = pub.json<{ profiles: { profile: { format: string; rowCount: number } }[] }>().profiles;
    assert.equal(first?.profile.format, 'postgres');
    assert.equal(first?.profile.rowCount, N);
    const dump = JSON.stringify(await app!.server.database.db.selectFrom('published_profiles').selectAll().execute());
    const everything = [dump, pub.body, app!.logs.join('\n'), r.stdout.toString(), r.stderr].join('\n');
    for (const c of ALL) assert.ok(!everything.includes(c), `${c} reached the server`);
  });

  test('refusals: no such table, no such database (password not echoed), a file and a table at once', async (t) => {
    if (!requirePeer(t, 'PostgreSQL', available, 'start it: pg_ctlcluster 15 main start')) return;
    const none = await cliIn(dir, ['profile', '--postgres-url', URL_, '--table', `${TABLE}_nope`], { bare: true });
    assert.equal(none.status, 1);
    assert.match(none.stderr, new RegExp(`no table or view named ${TABLE}_nope`));
    const u = new URL(URL_);
    u.password = 'pw-canary-k2v';
    u.pathname = `/${TABLE}_nodb`;
    const db = await cliIn(dir, ['profile', '--postgres-url', u.toString(), '--table', TABLE], { bare: true });
    assert.equal(db.status, 1);
    assert.match(db.stderr, /PostgreSQL: .*nodb/);
    assert.ok(!db.stderr.includes('pw-canary-k2v'));
    const both = await cliIn(dir, ['profile', 'x.csv', '--postgres-url', URL_, '--table', TABLE], { bare: true });
    assert.equal(both.status, 2);
    assert.match(both.stderr, /name a FILE, or a PostgreSQL table/);
    const alone = await cliIn(dir, ['profile', '--postgres-url', URL_], { bare: true });
    assert.equal(alone.status, 2);
    assert.match(alone.stderr, /go together/);
  });
});
