/**
 * Data protection policies (issue 17) over HTTPS: authoring (create/update/show/history/delete,
 * audited with before/after; conflicts refused at save naming both policies and a reader), and
 * enforcement through the one seam on preview, SQL query and export — a table of readers × masks
 * × read paths with exact outputs, row filters bound to reader attributes (SQL-looking values stay
 * values), hidden columns, range probes on masked columns, raw access only by
 * `dataset.read.unmasked`, and a policy naming a column that no longer exists refusing the read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { STRICT } from './helpers/peers.ts';
import { expectAudit } from './helpers/audit.ts';
import { createUser, jsonBody, login, ownerSession, type Session } from './helpers/identity.ts';

const WS = '/api/v1/workspaces/default';
const P = `${WS}/data-policies`;
const ROWS = [
  // id, name, ssn, email, region, born, salary
  [1, 'Ada', 'SSN-CANARY-111-22-3331', 'ada@lovelace.test', 'eu', '1985-07-14', 81234],
  [2, 'Bob', 'SSN-CANARY-444-55-6662', 'bob@example.test', 'us', '1990-02-03', 64321],
  [3, 'Cyd', 'SSN-CANARY-777-88-9993', 'no-at-sign', 'eu', '2001-12-31', 50999],
  [4, "O'Neil", 'SSN-CANARY-000-11-2224', 'o@x.test', "' OR 1=1 --", '1970-01-01', 99999],
] as const;
/** Numbers compared as text: JSON answers carry BIGINT as text, JSON-lines exports as numbers. */
const norm = (xs: unknown[]) => xs.map((v) => (typeof v === 'number' ? String(v) : v));
const CSV = `id,name,ssn,email,region,born,salary\n${ROWS.map((r) => r.map((v) => (String(v).includes("'") || String(v).includes(',') ? `"${v}"` : v)).join(',')).join('\n')}\n`;

const pgUp = await postgresAvailable();
if (!pgUp && STRICT) throw new Error('PEER MISSING: PostgreSQL (STRONGROOM_TEST_STRICT=1 forbids skipping)');
if (!pgUp) process.stderr.write('\n*** SKIPPED on postgres: PEER MISSING: PostgreSQL ***\n');
for (const backend of BACKENDS.filter((b) => b === 'pglite' || pgUp))
  describe(`data protection policies on ${backend}`, () => {
    let app: TestApp;
    let owner: Session;
    let steward: Session;
    let analystEu: Session;
    let analystUs: Session;
    let analystSql: Session;
    let analystEuId = '';

    const put = (s: Session, name: string, policy: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      s.req(`${P}/${name}`, { ...jsonBody({ policy, ...extra }), method: 'PUT' });
    const del = (s: Session, name: string) => s.req(`${P}/${name}`, { method: 'DELETE' });
    const query = (s: Session, sql: string) => s.req(`${WS}/query`, jsonBody({ sql }));
    const rowsOf = async (s: Session, sql: string) => {
      const r = await query(s, sql);
      assert.equal(r.status, 200, r.body);
      return r.json<{ rows: unknown[][]; columns: { name: string }[]; policies: Record<string, unknown> }>();
    };

    before(async () => {
      app = await startTestApp(backend, { env: { STRONGROOM_QUERY_TIMEOUT_MS: '8000' } });
      owner = (await ownerSession(app)).session;
      await createUser(app, 'steward-p@corp.test', { role: 'steward' });
      steward = await login(app, 'steward-p@corp.test');
      analystEuId = (await createUser(app, 'eu-p@corp.test', { role: 'analyst', attributes: { region: 'eu' } })).id;
      analystEu = await login(app, 'eu-p@corp.test');
      await createUser(app, 'us-p@corp.test', { role: 'analyst', attributes: { region: 'us' } });
      analystUs = await login(app, 'us-p@corp.test');
      await createUser(app, 'sql-p@corp.test', { role: 'analyst', attributes: { region: "' OR 1=1 --" } });
      analystSql = await login(app, 'sql-p@corp.test');
      const up = await owner.req(`${WS}/datasets/people/versions?filename=people.csv`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: CSV,
      });
      assert.equal(up.status, 201, up.body);
    });
    after(async () => {
      await app?.close();
    });

    test('authoring: create, update, show, history, delete — audited with before/after; analysts may not write', async () => {
      const body = {
        target: { dataset: 'people' },
        when: { roles: ['analyst'] },
        masks: [{ column: 'ssn', kind: 'redact' }],
      };
      const denied = await put(analystEu, 'ssn-mask', body);
      assert.equal(denied.status, 403, denied.body);
      const created = await put(steward, 'ssn-mask', body);
      assert.equal(created.status, 201, created.body);
      assert.equal(created.json<{ version: number }>().version, 1);
      assert.deepEqual(created.json<{ accessDiff: unknown }>().accessDiff, [
        {
          reader: { roles: ['analyst'], attributes: {}, mfa: false },
          masked: ['ssn'],
          unmasked: [],
          hidden: [],
          shown: [],
          filtersAdded: [],
          filtersRemoved: [],
        },
      ]);
      await expectAudit(app, {
        action: 'policy.rule.create',
        outcome: 'success',
        details: { before: null, version: 1 },
      });
      const again = await put(steward, 'ssn-mask', body, { expectedVersion: 1 });
      assert.equal(again.status, 200, again.body);
      assert.deepEqual(again.json<{ changed: boolean; version: number }>(), {
        ...again.json(),
        changed: false,
        version: 1,
      });
      const stale = await put(steward, 'ssn-mask', { ...body, description: 'x' }, { expectedVersion: 7 });
      assert.equal(stale.status, 409, stale.body);
      assert.match(stale.json<{ detail: string }>().detail, /is at version 1, not 7/);
      const dry = await put(steward, 'ssn-mask', { ...body, description: 'v2' }, { dryRun: true });
      assert.equal(dry.status, 200, dry.body);
      assert.deepEqual(dry.json<{ accessDiff: unknown }>().accessDiff, [], 'a description changes no reader');
      const widen = await put(
        steward,
        'ssn-mask',
        { ...body, when: { roles: ['analyst', 'engineer'] }, hide: ['salary'] },
        { dryRun: true },
      );
      assert.deepEqual(
        widen
          .json<{ accessDiff: { reader: { roles: string[] }; masked: string[]; hidden: string[] }[] }>()
          .accessDiff.map((d) => [d.reader.roles[0], d.masked, d.hidden]),
        [
          ['engineer', ['ssn'], ['salary']],
          ['analyst', [], ['salary']],
        ],
      );
      assert.equal(
        (await steward.req(`${P}/ssn-mask`)).json<{ version: number }>().version,
        1,
        'a dry run writes nothing',
      );
      const v2 = await put(steward, 'ssn-mask', { ...body, description: 'v2' });
      assert.equal(v2.json<{ version: number }>().version, 2);
      const [ev] = await expectAudit(app, {
        action: 'policy.rule.update',
        outcome: 'success',
        details: { version: 2, dryRun: false },
      });
      assert.equal((ev!.details.before as { policy: { description: string } }).policy.description, '');
      assert.equal((ev!.details.after as { policy: { description: string } }).policy.description, 'v2');
      const list = await analystEu.req(P);
      assert.equal(list.status, 403, 'analysts do not read policies');
      const listed = (await steward.req(P)).json<{ policies: { name: string }[] }>().policies.map((p) => p.name);
      assert.deepEqual(listed, ['ssn-mask']);
      assert.equal((await del(steward, 'ssn-mask')).status, 204);
      await expectAudit(app, { action: 'policy.rule.delete', outcome: 'success', details: { after: null } });
      const hist = (await steward.req(`${P}/ssn-mask/history`)).json<{
        versions: { version: number; deleted: boolean }[];
      }>();
      assert.deepEqual(
        hist.versions.map((v) => [v.version, v.deleted]),
        [
          [3, true],
          [2, false],
          [1, false],
        ],
      );
      assert.equal((await steward.req(`${P}/ssn-mask`)).status, 404);
    });

    test('bad documents are 422 with a reason: unknown mask, no effect, a function or a subquery in a row filter', async () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ target: { dataset: 'people' }, masks: [{ column: 'ssn', kind: 'rot13' }] }, /kind/],
        [{ target: { dataset: 'people' } }, /at least one effect/],
        [{ target: { dataset: 'people' }, rowFilter: "lower(region) = 'eu'" }, /the function lower/],
        [{ target: { dataset: 'people' }, rowFilter: 'region IN (SELECT 1)' }, /SUBQUERY/],
        [{ target: { dataset: 'people' }, rowFilter: "region = 'eu'; DROP TABLE x" }, /one expression|does not parse/],
        [{ target: { dataset: 'people' }, rowFilter: 'a.b.c = 1' }, /qualified name/],
        [
          { target: { dataset: 'people' }, hide: ['ssn'], masks: [{ column: 'ssn', kind: 'null' }] },
          /both hidden and masked/,
        ],
      ];
      for (const [policy, why] of cases) {
        const r = await put(steward, 'bad', policy);
        assert.equal(r.status, 422, `${JSON.stringify(policy)} → ${r.body}`);
        assert.match(String(r.headers['content-type']), /application\/problem\+json/);
        assert.match(r.body, why, r.body);
      }
    });

    test('two masks that could meet on a column for one reader are refused at save, naming both and a reader', async () => {
      const a = await put(steward, 'mask-a', {
        target: { dataset: 'people' },
        when: { roles: ['analyst'] },
        masks: [{ column: 'ssn', kind: 'redact' }],
      });
      assert.equal(a.status, 201, a.body);
      const b = await put(steward, 'mask-b', {
        target: { dataset: 'people' },
        when: { attributes: { region: ['eu'] } },
        masks: [{ column: 'SSN', kind: 'keyed_hash' }],
      });
      assert.equal(b.status, 409, b.body);
      const p = b.json<{
        detail: string;
        policies: string[];
        exampleReader: { roles: string[]; attributes: Record<string, unknown> };
      }>();
      assert.match(p.detail, /"mask-b" and policy "mask-a" could both mask column "SSN"/);
      assert.deepEqual(p.exampleReader.roles, ['analyst']);
      assert.deepEqual(p.exampleReader.attributes, { region: 'eu' });
      // Disjoint readers (the other policy's `unless`) do not conflict.
      const c = await put(steward, 'mask-c', {
        target: { dataset: 'people' },
        when: { roles: ['steward'] },
        unless: { roles: ['analyst'] },
        masks: [{ column: 'ssn', kind: 'null' }],
      });
      assert.equal(c.status, 201, c.body);
      for (const n of ['mask-a', 'mask-c']) assert.equal((await del(steward, n)).status, 204);
    });

    test('every mask: exact outputs on preview, query and export; why names the policy, never values', async () => {
      const cases: { mask: Record<string, unknown>; column: string; expect: unknown[] }[] = [
        { mask: { kind: 'redact', replacement: 'XXX' }, column: 'ssn', expect: ['XXX', 'XXX', 'XXX', 'XXX'] },
        {
          mask: { kind: 'show_last_n', n: 4 },
          column: 'ssn',
          expect: ROWS.map((r) => `${'*'.repeat(r[2].length - 4)}${r[2].slice(-4)}`),
        },
        { mask: { kind: 'show_first_n', n: 3 }, column: 'name', expect: ['Ada', 'Bob', 'Cyd', "O'N***"] },
        { mask: { kind: 'null' }, column: 'salary', expect: [null, null, null, null] },
        { mask: { kind: 'round', bucket: 10000 }, column: 'salary', expect: [80000, 60000, 50000, 90000] }, // DOUBLE
        { mask: { kind: 'round', digits: -3 }, column: 'salary', expect: ['81000', '64000', '51000', '100000'] }, // BIGINT as text
        {
          mask: { kind: 'date_to_year' },
          column: 'born',
          expect: ['1985-01-01', '1990-01-01', '2001-01-01', '1970-01-01'],
        },
        {
          mask: { kind: 'date_to_month' },
          column: 'born',
          expect: ['1985-07-01', '1990-02-01', '2001-12-01', '1970-01-01'],
        },
        {
          mask: { kind: 'email_domain' },
          column: 'email',
          expect: ['*@lovelace.test', '*@example.test', '[redacted]', '*@x.test'],
        },
      ];
      for (const c of cases) {
        const saved = await put(steward, 'one-mask', {
          target: { dataset: 'people' },
          when: { roles: ['analyst'] },
          masks: [{ column: c.column, ...c.mask }],
        });
        assert.ok(saved.status === 201 || saved.status === 200, saved.body);
        const label = `${c.column} ${JSON.stringify(c.mask)}`;
        const q = await rowsOf(analystEu, `SELECT ${c.column} FROM people ORDER BY id`);
        assert.deepEqual(norm(q.rows.map((r) => r[0])), norm(c.expect), `query ${label}`);
        assert.deepEqual(q.policies, {
          'people@v1': { masked: { [c.column]: ['one-mask'] }, hidden: {}, filteredBy: [] },
        });
        const pv = await analystEu.req(`${WS}/datasets/people/versions/1/preview`);
        assert.equal(pv.status, 200, pv.body);
        const pj = pv.json<{ columns: { name: string }[]; rows: unknown[][] }>();
        const ci = pj.columns.findIndex((x) => x.name === c.column);
        assert.deepEqual(norm(pj.rows.map((r) => r[ci])), norm(c.expect), `preview ${label}`);
        const ex = await analystEu.req(`${WS}/datasets/people/versions/1/export?format=jsonl`);
        assert.equal(ex.status, 200, ex.body);
        const lines = ex.body
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        assert.deepEqual(norm(lines.map((l) => l[c.column])), norm(c.expect), `export ${label}`);
        assert.deepEqual(JSON.parse(ex.headers['x-data-policies'] as string)['people@v1'].masked, {
          [c.column]: ['one-mask'],
        });
        // The steward is not selected by the policy: raw values.
        const raw = await rowsOf(steward, `SELECT ${c.column} FROM people ORDER BY id`);
        assert.notDeepEqual(
          raw.rows.map((r) => r[0]),
          c.expect,
          `steward reads ${label} unmasked`,
        );
        assert.deepEqual(raw.policies, {});
      }
      assert.equal((await del(steward, 'one-mask')).status, 204);
    });

    test('keyed_hash is HMAC-SHA256 under the workspace key: deterministic, joinable, key never in answers', async () => {
      assert.equal(
        (
          await put(steward, 'hash', {
            target: { dataset: 'people' },
            when: { roles: ['analyst'] },
            masks: [{ column: 'ssn', kind: 'keyed_hash' }],
          })
        ).status,
        201,
      );
      const r = await rowsOf(
        analystEu,
        'SELECT a.ssn, count(*) FROM people a JOIN people b ON a.ssn = b.ssn GROUP BY a.ssn ORDER BY 1',
      );
      assert.equal(r.rows.length, 4, 'the join on the hashed column matches each row with itself');
      const hashes = r.rows.map((x) => String(x[0]));
      assert.ok(
        hashes.every((h) => /^[0-9a-f]{64}$/.test(h)),
        'hex of HMAC-SHA256 (checked against node:crypto in policies-compile.test.ts)',
      );
      const again = await rowsOf(analystUs, 'SELECT ssn FROM people ORDER BY ssn');
      assert.deepEqual(
        again.rows.map((x) => x[0]),
        hashes,
        'deterministic across readers and queries',
      );
      const sealed = await app.server.database.db.selectFrom('data_policy_keys').select('sealed').execute();
      assert.equal(sealed.length, 1, 'one sealed key per workspace');
      assert.equal((await del(steward, 'hash')).status, 204);
    });

    test('row filters bind reader attributes as values; SQL-looking values stay values; filters AND', async () => {
      assert.equal(
        (
          await put(steward, 'by-region', {
            target: { dataset: 'people' },
            when: { roles: ['analyst'] },
            rowFilter: 'region = reader.region',
          })
        ).status,
        201,
      );
      assert.deepEqual((await rowsOf(analystEu, 'SELECT id FROM people ORDER BY id')).rows, [['1'], ['3']]);
      assert.deepEqual((await rowsOf(analystUs, 'SELECT id FROM people ORDER BY id')).rows, [['2']]);
      const sqlish = await rowsOf(analystSql, 'SELECT id FROM people ORDER BY id');
      assert.deepEqual(sqlish.rows, [['4']], "the value ' OR 1=1 -- matches only the row holding that very text");
      assert.deepEqual(sqlish.policies['people@v1'], { masked: {}, hidden: {}, filteredBy: ['by-region'] });
      assert.equal(
        (
          await put(steward, 'cheap', {
            target: { dataset: 'people' },
            when: { roles: ['analyst'] },
            rowFilter: 'salary < 70000 or reader.clearance >= 3',
          })
        ).status,
        201,
      );
      assert.deepEqual((await rowsOf(analystEu, 'SELECT id FROM people')).rows, [['3']], 'both filters hold');
      const c = await rowsOf(analystEu, 'SELECT count(*) FROM people');
      assert.deepEqual(c.rows, [['1']], 'aggregates see only the visible rows');
      const ev = await expectAudit(app, {
        action: 'dataset.data.query',
        outcome: 'success',
        mustNotContain: ['70000', 'reader.region'],
      });
      assert.deepEqual((ev[0]!.details.policies as Record<string, { filteredBy: string[] }>)['people@v1']!.filteredBy, [
        'by-region',
        'cheap',
      ]);
      for (const n of ['by-region', 'cheap']) assert.equal((await del(steward, n)).status, 204);
    });

    test('hide removes the column; range probes on a masked column probe masked values', async () => {
      assert.equal(
        (
          await put(steward, 'hide-mask', {
            target: { dataset: 'people' },
            when: { roles: ['analyst'] },
            hide: ['ssn'],
            masks: [{ column: 'salary', kind: 'null' }],
          })
        ).status,
        201,
      );
      const all = await rowsOf(analystEu, 'SELECT * FROM people ORDER BY id');
      assert.deepEqual(
        all.columns.map((c) => c.name),
        ['id', 'name', 'email', 'region', 'born', 'salary'],
      );
      assert.deepEqual(all.policies['people@v1'], {
        masked: { salary: ['hide-mask'] },
        hidden: { ssn: ['hide-mask'] },
        filteredBy: [],
      });
      const named = await query(analystEu, 'SELECT ssn FROM people');
      assert.equal(named.status, 400, named.body);
      assert.doesNotMatch(named.body, /CANARY/);
      // Errors never name a hidden column back — not even when the statement named it, and not
      // as a suggestion for a near miss (DuckDB's binder lists candidate columns).
      for (const sql of [
        'SELECT ssn FROM people',
        'SELECT SSN FROM people',
        'SELECT people.ssn FROM people',
        'SELECT ssm FROM people',
        'SELECT id FROM people ORDER BY ssn',
        'SELECT * FROM people p JOIN people q USING (ssn)',
        "SELECT COLUMNS('ss.*') FROM people",
        'SELECT * EXCLUDE (ssn) FROM people',
        'SELECT count(*) FROM people GROUP BY ssn',
      ]) {
        const r = await query(analystEu, sql);
        assert.ok(r.status === 400 || r.status === 409, `${sql}: ${r.status} ${r.body}`);
        assert.doesNotMatch(r.body, /ssn/i, `${sql} → ${r.body}`);
      }
      const visible = await query(analystEu, 'SELECT nope FROM people');
      assert.match(visible.body, /nope/, 'a column the reader may see is still named');
      const probe = await rowsOf(analystEu, 'SELECT id FROM people WHERE salary BETWEEN 60000 AND 90000');
      assert.deepEqual(probe.rows, [], 'the probe sees NULLs, not salaries');
      const cols = await rowsOf(
        analystEu,
        "SELECT * FROM (SELECT COLUMNS('.*') FROM people) WHERE CAST(salary AS VARCHAR) LIKE '8%'",
      );
      assert.deepEqual(cols.rows, []);
      assert.equal((await del(steward, 'hide-mask')).status, 204);
    });

    test('raw access only by dataset.read.unmasked (granted by a workspace policy), marked in the answer and the event', async () => {
      assert.equal(
        (
          await put(steward, 'redact-all', {
            target: { dataset: 'people' },
            masks: [{ column: 'ssn', kind: 'redact' }],
          })
        ).status,
        201,
      );
      assert.deepEqual(
        (await rowsOf(owner, 'SELECT ssn FROM people ORDER BY id LIMIT 1')).rows,
        [['[redacted]']],
        'owners are not exempt',
      );
      const grant = await owner.req(
        `${WS}/policies`,
        jsonBody({
          text: `permit (principal == User::"${analystEuId}", action == Action::"dataset.read.unmasked", resource is Dataset) when { principal has workspace && resource in principal.workspace };`,
        }),
      );
      assert.equal(grant.status, 201, grant.body);
      const r = await rowsOf(analystEu, 'SELECT ssn FROM people ORDER BY id LIMIT 1');
      assert.deepEqual(r.rows, [[ROWS[0][2]]]);
      assert.equal((r.policies['people@v1'] as { unmasked: boolean }).unmasked, true);
      await expectAudit(app, { action: 'dataset.data.query', outcome: 'success', actorId: analystEuId });
      assert.equal(
        (await owner.req(`${WS}/policies/${grant.json<{ id: string }>().id}`, { method: 'DELETE' })).status,
        204,
      );
      assert.deepEqual((await rowsOf(analystEu, 'SELECT ssn FROM people ORDER BY id LIMIT 1')).rows, [['[redacted]']]);
      assert.equal((await del(steward, 'redact-all')).status, 204);
    });

    test('a policy naming a column the version lacks refuses the read (never a silent unmask)', async () => {
      assert.equal(
        (
          await put(steward, 'gone', {
            target: { dataset: 'people' },
            masks: [{ column: 'tax_id', kind: 'redact' }],
          })
        ).status,
        201,
      );
      const r = await query(analystEu, 'SELECT id FROM people');
      assert.equal(r.status, 409, r.body);
      assert.match(r.json<{ detail: string }>().detail, /names a column the version does not have/);
      const pv = await analystEu.req(`${WS}/datasets/people/versions/1/preview`);
      assert.equal(pv.status, 409, pv.body);
      assert.equal((await del(steward, 'gone')).status, 204);
    });
    test('the raw object is refused to a reader under a policy (the export applies it); others download it', async () => {
      assert.equal(
        (
          await put(steward, 'dl', {
            target: { dataset: 'people' },
            when: { roles: ['analyst'] },
            masks: [{ column: 'ssn', kind: 'redact' }],
          })
        ).status,
        201,
      );
      const refused = await analystEu.req(`${WS}/datasets/people/versions/1/content`);
      assert.equal(refused.status, 403, refused.body);
      assert.match(
        refused.json<{ detail: string }>().detail,
        /Data policies \(dl\) apply to you on this dataset: download its export/,
      );
      assert.doesNotMatch(refused.body, /CANARY/);
      await expectAudit(app, { action: 'dataset.version.read', outcome: 'denied', details: { error: 'FORBIDDEN' } });
      const ok = await steward.req(`${WS}/datasets/people/versions/1/content`);
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.body, CSV);
      const ex = await analystEu.req(`${WS}/datasets/people/versions/1/export?format=csv`);
      assert.equal(ex.status, 200);
      assert.doesNotMatch(ex.body, /CANARY/);
      assert.equal((await del(steward, 'dl')).status, 204);
    });
    test('simulation: a steward queries as a hypothetical reader (audited); never over data they do not read raw', async () => {
      const saved = await put(steward, 'sim', {
        target: { dataset: 'people' },
        when: { roles: ['analyst'] },
        masks: [{ column: 'ssn', kind: 'redact' }],
        rowFilter: 'region = reader.region',
      });
      assert.equal(saved.status, 201, saved.body);
      const as = { roles: ['analyst'], attributes: { region: 'us' } };
      const sim = await steward.req(`${WS}/query`, jsonBody({ sql: 'SELECT id, ssn FROM people ORDER BY id', as }));
      assert.equal(sim.status, 200, sim.body);
      assert.deepEqual(sim.json<{ rows: unknown[][] }>().rows, [['2', '[redacted]']]);
      await expectAudit(app, {
        action: 'dataset.data.query',
        outcome: 'success',
        details: { simulatedAs: { roles: ['analyst'], attributes: ['region'] } },
        mustNotContain: ['"us"'],
      });
      // A named member: their roles and attributes in the workspace now.
      const named = await steward.req(
        `${WS}/query`,
        jsonBody({ sql: 'SELECT id, ssn FROM people ORDER BY id', as: `user:${analystEuId}` }),
      );
      assert.equal(named.status, 200, named.body);
      assert.deepEqual(named.json<{ rows: unknown[][] }>().rows, [
        ['1', '[redacted]'],
        ['3', '[redacted]'],
      ]);
      await expectAudit(app, {
        action: 'dataset.data.query',
        outcome: 'success',
        details: { simulatedAs: { user: analystEuId } },
      });
      const nobody = await steward.req(
        `${WS}/query`,
        jsonBody({ sql: 'SELECT id FROM people', as: 'user:00000000-0000-4000-8000-000000000000' }),
      );
      assert.equal(nobody.status, 404, nobody.body);
      assert.match(nobody.json<{ detail: string }>().detail, /No active member with that user id in this workspace/);
      const analyst = await analystEu.req(
        `${WS}/query`,
        jsonBody({ sql: 'SELECT id FROM people', as: { roles: ['steward'] } }),
      );
      assert.equal(analyst.status, 403, analyst.body);
      assert.match(analyst.json<{ detail: string }>().detail, /right to write data policies/);
      // A steward under a policy cannot simulate their way around it.
      assert.equal(
        (
          await put(steward, 'stewards-too', {
            target: { dataset: 'people' },
            when: { roles: ['steward'] },
            hide: ['salary'],
          })
        ).status,
        201,
      );
      const around = await steward.req(
        `${WS}/query`,
        jsonBody({ sql: 'SELECT salary FROM people', as: { roles: ['viewer'] } }),
      );
      assert.equal(around.status, 403, around.body);
      assert.match(around.json<{ detail: string }>().detail, /simulate only over datasets you read unmasked/);
      for (const n of ['sim', 'stewards-too']) assert.equal((await del(steward, n)).status, 204);
    });
    test('tag policies apply to every dataset carrying the tag; a dataset mask meeting a tag mask is refused', async () => {
      const up = await owner.req(`${WS}/datasets/contacts/versions?filename=c.csv&tag=hr-data`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: 'who,email\nAda,ada@lovelace.test\n',
      });
      assert.equal(up.status, 201, up.body);
      const tagPolicy = await put(steward, 'hr-email', {
        target: { tag: 'hr-data' },
        masks: [{ column: 'email', kind: 'email_domain' }],
      });
      assert.equal(tagPolicy.status, 201, tagPolicy.body);
      const r = await rowsOf(analystEu, 'SELECT who, email FROM contacts');
      assert.deepEqual(r.rows, [['Ada', '*@lovelace.test']]);
      assert.deepEqual(r.policies['contacts@v1'], { masked: { email: ['hr-email'] }, hidden: {}, filteredBy: [] });
      assert.deepEqual((await rowsOf(owner, 'SELECT count(*) FROM people')).policies, {}, 'people has no hr-data tag');
      const clash = await put(steward, 'contacts-email', {
        target: { dataset: 'contacts' },
        masks: [{ column: 'email', kind: 'redact' }],
      });
      assert.equal(clash.status, 409, clash.body);
      assert.match(
        clash.json<{ detail: string }>().detail,
        /"contacts-email" and policy "hr-email" could both mask column "email"/,
      );
      // Removing the tag would lift hr-email from contacts: refused, naming it, unless acknowledged.
      const untag = await owner.req(`${WS}/datasets/contacts`, { ...jsonBody({ tags: [] }), method: 'PATCH' });
      assert.equal(untag.status, 409, untag.body);
      assert.equal(
        untag.json<{ detail: string }>().detail,
        'Removing hr-data lifts data policy hr-email from this dataset (it would no longer mask, hide or filter it). Change the policy first, or repeat with "liftPolicies": ["hr-email"] to lift it knowingly.',
      );
      assert.deepEqual((await rowsOf(analystEu, 'SELECT email FROM contacts')).rows, [['*@lovelace.test']]);
      const lifted = await owner.req(`${WS}/datasets/contacts`, {
        ...jsonBody({ tags: [], liftPolicies: ['hr-email'] }),
        method: 'PATCH',
      });
      assert.equal(lifted.status, 200, lifted.body);
      await expectAudit(app, {
        action: 'dataset.dataset.update',
        outcome: 'success',
        details: { liftedPolicies: ['hr-email'] },
      });
      assert.deepEqual((await rowsOf(analystEu, 'SELECT email FROM contacts')).rows, [['ada@lovelace.test']]);
      assert.equal((await del(steward, 'hr-email')).status, 204);
    });
    test('aggregation threshold: aggregates over groups of at least k rows only; no row preview', async () => {
      const saved = await put(steward, 'k-anon', { target: { dataset: 'people' }, minGroupSize: 2 });
      assert.equal(saved.status, 201, saved.body);
      const agg = await rowsOf(analystEu, 'SELECT region, count(*) FROM people GROUP BY region ORDER BY region');
      assert.deepEqual(agg.policies['people@v1'], {
        masked: {},
        hidden: {},
        filteredBy: [],
        threshold: { minGroupSize: 2, by: ['k-anon'] },
      });
      assert.deepEqual(agg.rows, [['eu', '2']], 'us and the odd region have one row each');
      const rowLevel = await query(analystEu, 'SELECT name FROM people');
      assert.equal(rowLevel.status, 403, rowLevel.body);
      assert.match(
        rowLevel.json<{ detail: string }>().detail,
        /^people answers only aggregate queries over groups of at least 2 rows: a row-level SELECT/,
      );
      const preview = await analystEu.req(`${WS}/datasets/people/versions/1/preview`);
      assert.equal(preview.status, 403, preview.body);
      assert.match(preview.json<{ detail: string }>().detail, /it has no row preview; query it with GROUP BY/);
      assert.equal((await del(steward, 'k-anon')).status, 204);
    });
    test('custom masks: saved from the safe expression language only', async () => {
      const bad = await put(steward, 'custom-bad', {
        target: { dataset: 'people' },
        masks: [{ column: 'ssn', kind: 'custom', expression: "concat(value, ''); DROP TABLE x" }],
      });
      assert.equal(bad.status, 422, bad.body);
      assert.match(bad.json<{ detail: string }>().detail, /unexpected ";" at character 18/);
      const good = await put(steward, 'custom-ok', {
        target: { dataset: 'people' },
        masks: [{ column: 'ssn', kind: 'custom', expression: "concat('***-', right(value, 2))" }],
      });
      assert.equal(good.status, 201, good.body);
      const r = await rowsOf(analystEu, 'SELECT ssn FROM people ORDER BY id LIMIT 1');
      assert.equal(String(r.rows[0]![0]).slice(0, 4), '***-');
      assert.equal(String(r.rows[0]![0]).length, 6);
      assert.equal((await del(steward, 'custom-ok')).status, 204);
    });
  });
