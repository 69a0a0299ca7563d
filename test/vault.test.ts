/**
 * The credential vault (C6) over real HTTPS on both backends: versions, check-and-set, soft
 * delete / undelete / destroy / rollback, max_versions, write-only answers, audited reveal with
 * re-authentication, per-tag and per-secret denial, bad input, and sealed values bound to their
 * secret and version.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';
import {
  GOOD_PASSWORD,
  createUser,
  createWorkspace,
  enrolMfa,
  jsonBody,
  login,
  ownerSession,
  totpNow,
  type Session,
} from './helpers/identity.ts';
import { generateSelfSigned } from '../src/installation/tls.ts';

const MIN = 60_000;
const S = '/api/v1/workspaces/default/secrets';
const put = (s: Session, path: string, body: unknown) => s.req(`${S}/data/${path}`, jsonBody(body, 'PUT'));
const pw = (password: string, extra: Record<string, unknown> = {}) => ({
  type: 'password',
  value: { password },
  ...extra,
});
const reveal = (s: Session, path: string, version?: number) =>
  s.req(`${S}/reveal/${path}${version ? `?version=${version}` : ''}`, { method: 'POST' });

async function auditRows(
  app: TestApp,
): Promise<
  { action: string; outcome: string; resource: { type: string; id: string | null }; details: any; raw: string }[]
> {
  await app.server.audit.chainPending();
  const rows = await app.server.database.db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
  return rows.map((r) => ({
    action: r.action,
    outcome: r.outcome,
    resource: { type: r.resource_type, id: r.resource_id },
    details: typeof r.details === 'string' ? JSON.parse(r.details) : r.details,
    raw: JSON.stringify(r),
  }));
}

/** Every row of every user table, as text (what a `pg_dump` would show, minus bytea as hex). */
async function dumpAll(app: TestApp): Promise<string> {
  const db = app.server.database.db;
  const tables = await sql<{
    table_name: string;
  }>`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`.execute(
    db,
  );
  let out = '';
  for (const { table_name } of tables.rows) {
    const rows = await sql<{ j: unknown }>`select to_jsonb(t)::text as j from ${sql.table(table_name)} t`.execute(db);
    out += `${table_name}\n${rows.rows.map((r) => String(r.j)).join('\n')}\n`;
  }
  return out;
}

/** A request whose path goes on the wire exactly as given (URL parsing would resolve `..`). */
function rawReq(
  app: TestApp,
  s: Session,
  method: string,
  rawPath: string,
  body?: unknown,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: app.server.httpsPort,
        path: rawPath,
        method,
        ca: app.ca,
        servername: 'localhost',
        agent: false,
        headers: {
          cookie: s.cookie,
          'x-csrf-token': s.csrf,
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function metrics(app: TestApp): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(`http://127.0.0.1:${app.server.metricsPort}/metrics`, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve(b));
      })
      .on('error', reject);
  });
}

for (const backend of BACKENDS) {
  describe(`vault on ${backend}`, () => {
    let app: TestApp;
    let skip = false;
    let offset = 0;
    let owner: Session;
    let ownerTotp: string;
    /** Re-authenticate the owner with password and a TOTP code of the (shifted) clock. */
    const reauth = () =>
      owner.req(
        '/api/v1/auth/reauth',
        jsonBody({ password: GOOD_PASSWORD, code: totpNow(ownerTotp, now().getTime()) }),
      );
    const now = () => new Date(Date.now() + offset);
    before(async (t) => {
      if (
        backend === 'postgres' &&
        !requirePeer(t as never, 'PostgreSQL', await postgresAvailable(), 'pg_ctlcluster 15 main start')
      ) {
        skip = true;
        return;
      }
      app = await startTestApp(backend, {
        now,
        // A workspace policy that forbids revealing one secret (loaded at start).
        prepare: async (database) => {
          await database.db
            .insertInto('workspace_policies')
            .values({
              id: 'p-locked',
              workspace_id: 'default',
              created_by: 'test',
              text: 'forbid (principal, action == Action::"vault.secret.reveal", resource == Secret::"team/locked");',
            })
            .execute();
        },
      });
      const o = await ownerSession(app);
      owner = o.session;
      ownerTotp = o.secret;
    });
    after(async () => {
      if (!skip) await app.close();
    });

    test('versions: every write is a new version; metadata, version reads and lists never carry values', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const v1 = await put(
        owner,
        'team/warehouse/password',
        pw('first-value-AAA', {
          metadata: { description: 'warehouse', tags: ['prod'], owner: 'data-eng', custom: { system: 'snowflake' } },
        }),
      );
      assert.equal(v1.status, 201, v1.body);
      assert.deepEqual(v1.json(), { path: 'team/warehouse/password', version: 1, created: true, pruned: [] });
      const v2 = await put(owner, 'team/warehouse/password', pw('second-value-BBB'));
      assert.equal(v2.status, 200);
      assert.equal(v2.json().version, 2);
      await put(owner, 'team/other/api', { type: 'api-key', value: { key: 'k-CCC' } });
      await put(owner, 'elsewhere/x', pw('ddd-value'));

      const meta = await owner.req(`${S}/metadata/team/warehouse/password`);
      assert.equal(meta.status, 200, meta.body);
      const m = meta.json<any>();
      assert.equal(m.currentVersion, 2);
      assert.equal(m.description, 'warehouse');
      assert.deepEqual(m.tags, ['prod']);
      assert.deepEqual(m.custom, { system: 'snowflake' });
      assert.equal(m.owner, 'data-eng');
      assert.deepEqual(
        m.versions.map((v: any) => [v.version, v.state]),
        [
          [1, 'live'],
          [2, 'live'],
        ],
      );
      assert.ok(m.createdBy && m.updatedBy && m.createdAt && m.updatedAt);
      const v = await owner.req(`${S}/data/team/warehouse/password?version=1`);
      assert.equal(v.status, 200);
      assert.equal(v.json().version, 1);
      const list = await owner.req(`${S}?prefix=team/`);
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.json<any>().secrets.map((s: any) => s.path),
        ['team/other/api', 'team/warehouse/password'],
      );
      for (const body of [meta.body, v.body, list.body]) {
        for (const value of ['first-value-AAA', 'second-value-BBB', 'k-CCC'])
          assert.ok(!body.includes(value), 'no value in metadata answers');
      }
      const paged = await owner.req(`${S}?limit=1`);
      assert.equal(paged.json<any>().secrets.length, 1);
      assert.ok(paged.json<any>().next);
    });

    test('reveal: latest or a given version, re-authentication needed, audited with the version and never the value', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await put(owner, 'rv/db', pw('reveal-one-111'));
      await put(owner, 'rv/db', pw('reveal-two-222'));
      const latest = await reveal(owner, 'rv/db');
      assert.equal(latest.status, 200, latest.body);
      assert.deepEqual(latest.json<any>().value, { password: 'reveal-two-222' });
      assert.equal(latest.headers['cache-control'], 'no-store');
      const first = await reveal(owner, 'rv/db', 1);
      assert.deepEqual(first.json<any>().value, { password: 'reveal-one-111' });
      assert.equal((await reveal(owner, 'rv/db', 9)).status, 404);
      const events = (await auditRows(app)).filter(
        (e) => e.action === 'vault.secret.reveal' && e.resource.id === 'rv/db' && e.outcome === 'success',
      );
      assert.deepEqual(
        events.map((e) => e.details.version),
        [2, 1],
      );
      offset += 6 * MIN;
      try {
        const stale = await reveal(owner, 'rv/db');
        assert.equal(stale.status, 403);
        assert.equal(stale.json().code, 'REAUTH_REQUIRED');
        // The prompt is recorded as what it is, not as a denied reveal.
        const rows = await auditRows(app);
        assert.ok(
          rows.some(
            (e) =>
              e.action === 'identity.session.reauth-required' &&
              e.resource.id === 'rv/db' &&
              e.details.for === 'vault.secret.reveal',
          ),
        );
        assert.ok(
          !rows.some((e) => e.action === 'vault.secret.reveal' && e.outcome === 'denied' && e.resource.id === 'rv/db'),
        );
        const re = await reauth();
        assert.equal(re.status, 200, re.body);
        assert.equal((await reveal(owner, 'rv/db')).status, 200);
      } finally {
        offset = 0;
      }
    });

    test('roles without reveal get 403, audited as denied; an API token never satisfies re-authentication', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await put(owner, 'roles/s', pw('role-secret-xyz'));
      for (const role of ['engineer', 'analyst', 'viewer', 'auditor', 'steward'] as const) {
        const email = `${role}-vault@corp.test`;
        await createUser(app, email, { role });
        const s = await login(app, email);
        const r = await reveal(s, 'roles/s');
        assert.equal(r.status, 403, `${role}: ${r.body}`);
        assert.ok(!r.body.includes('role-secret-xyz'));
      }
      const denied = (await auditRows(app)).filter((e) => e.action === 'vault.secret.reveal' && e.outcome === 'denied');
      assert.ok(denied.length >= 5);
      // Engineers manage secrets without seeing them.
      const eng = await login(app, 'engineer-vault@corp.test');
      assert.equal((await put(eng, 'roles/by-engineer', pw('eng-written'))).status, 201);
      assert.equal((await eng.req(`${S}/metadata/roles/by-engineer`)).status, 200);
      const tok = await owner.req(
        '/api/v1/tokens',
        jsonBody({ name: 'vault', workspace: 'default', scopes: ['vault.*'], expiresInDays: 1 }),
      );
      assert.equal(tok.status, 201, tok.body);
      const bearer = { method: 'POST', headers: { authorization: `Bearer ${tok.json<any>().token}` } };
      const viaToken = await app.req(`${S}/reveal/roles/s`, bearer);
      assert.equal(viaToken.status, 403);
    });

    test('reveal can be denied per tag (pii needs clearance 2 and MFA) and per secret (workspace policy)', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await put(owner, 'tagged/pii', pw('pii-value-777', { metadata: { tags: ['pii'] } }));
      await put(owner, 'team/locked', pw('locked-value-888'));
      await put(owner, 'team/open', pw('open-value-999'));
      const pii = await reveal(owner, 'tagged/pii');
      assert.equal(pii.status, 403, 'owner without clearance');
      assert.equal((await reveal(owner, 'team/locked')).status, 403, 'forbidden by the workspace policy');
      assert.equal((await reveal(owner, 'team/open')).status, 200);
      const cleared = await createUser(app, 'cleared@corp.test', { role: 'owner', attributes: { clearance: '2' } });
      assert.ok(cleared);
      const s = await enrolMfa(app, await login(app, 'cleared@corp.test'));
      const ok = await reveal(s.session, 'tagged/pii');
      assert.equal(ok.status, 200, ok.body);
      const denied = (await auditRows(app)).filter((e) => e.action === 'vault.secret.reveal' && e.outcome === 'denied');
      assert.ok(denied.some((e) => e.resource.id === 'tagged/pii' && /abac\.pii/.test(e.details.reason)));
      assert.ok(denied.some((e) => e.resource.id === 'team/locked'));
    });

    test('check-and-set: 20 concurrent writers expecting the same version, exactly one wins', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      assert.equal((await put(owner, 'cas/x', pw('cas-0', { cas: 0 }))).status, 201);
      assert.equal((await put(owner, 'cas/x', pw('cas-again', { cas: 0 }))).status, 409, 'cas 0 on an existing secret');
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => put(owner, 'cas/x', pw(`cas-writer-${i}`, { cas: 1 }))),
      );
      const statuses = results.map((r) => r.status).sort();
      assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join(','));
      assert.equal(statuses.filter((s) => s === 409).length, 19);
      for (const r of results.filter((x) => x.status === 409)) assert.equal(r.json().currentVersion, 2);
      const m = (await owner.req(`${S}/metadata/cas/x`)).json<any>();
      assert.equal(m.currentVersion, 2);
      assert.equal(m.versions.length, 2);
      // New secrets too: 20 creators with cas 0.
      const creators = await Promise.all(
        Array.from({ length: 20 }, (_, i) => put(owner, 'cas/new', pw(`new-${i}`, { cas: 0 }))),
      );
      assert.equal(creators.filter((r) => r.status === 201).length, 1);
      assert.equal(creators.filter((r) => r.status === 409).length, 19);
    });

    test('soft delete, undelete, destroy (re-auth; ciphertext removed), rollback and max_versions', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      for (let i = 1; i <= 3; i++) await put(owner, 'life/s', pw(`life-${i}`));
      const del = await owner.req(`${S}/delete/life/s`, jsonBody({}));
      assert.equal(del.status, 200, del.body);
      assert.deepEqual(del.json().versions, [3]);
      const gone = await reveal(owner, 'life/s');
      assert.equal(gone.status, 404);
      assert.equal(gone.json().state, 'deleted');
      assert.deepEqual((await owner.req(`${S}/undelete/life/s`, jsonBody({ versions: [3] }))).json().versions, [3]);
      assert.deepEqual((await reveal(owner, 'life/s')).json<any>().value, { password: 'life-3' });

      offset += 12 * MIN;
      try {
        const stale = await owner.req(`${S}/destroy/life/s`, jsonBody({ versions: [2] }));
        assert.equal(stale.json().code, 'REAUTH_REQUIRED');
        assert.equal((await reauth()).status, 200);
        const destroyed = await owner.req(`${S}/destroy/life/s`, jsonBody({ versions: [2] }));
        assert.deepEqual(destroyed.json().versions, [2]);
      } finally {
        offset = 0;
      }
      const row = await app.server.database.db
        .selectFrom('secret_versions')
        .select(['value_sealed', 'destroyed_at'])
        .where('path', '=', 'life/s')
        .where('version', '=', 2)
        .executeTakeFirstOrThrow();
      assert.equal(row.value_sealed, null);
      assert.ok(row.destroyed_at);
      assert.deepEqual(
        (await owner.req(`${S}/undelete/life/s`, jsonBody({ versions: [2] }))).json().versions,
        [],
        'destroyed is final',
      );
      assert.equal((await reveal(owner, 'life/s', 2)).json().state, 'destroyed');

      const rb = await owner.req(`${S}/rollback/life/s`, jsonBody({ version: 1 }));
      assert.equal(rb.status, 200, rb.body);
      assert.equal(rb.json().version, 4);
      assert.deepEqual((await reveal(owner, 'life/s')).json<any>().value, { password: 'life-1' });
      assert.equal(
        (await owner.req(`${S}/rollback/life/s`, jsonBody({ version: 2 }))).status,
        409,
        'cannot roll back to a destroyed version',
      );
      assert.equal(
        (await owner.req(`${S}/rollback/life/s`, jsonBody({ version: 1, cas: 1 }))).status,
        409,
        'rollback honours cas',
      );

      const mv = await owner.req(`${S}/metadata/life/s`, jsonBody({ maxVersions: 2 }, 'PATCH'));
      assert.equal(mv.status, 200, mv.body);
      assert.deepEqual(mv.json().pruned, [1, 2]);
      await put(owner, 'life/s', pw('life-5'));
      const m = (await owner.req(`${S}/metadata/life/s`)).json<any>();
      assert.deepEqual(
        m.versions.map((v: any) => v.version),
        [4, 5],
      );
      assert.equal(m.maxVersions, 2);
      const n = await app.server.database.db
        .selectFrom('secret_versions')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('path', '=', 'life/s')
        .executeTakeFirstOrThrow();
      assert.equal(Number(n.n), 2, 'pruned rows and ciphertexts are gone');

      const destroyAll = await owner.req(`${S}/metadata/life/s`, { method: 'DELETE' });
      assert.equal(destroyAll.status, 200, destroyAll.body);
      assert.equal((await owner.req(`${S}/metadata/life/s`)).status, 404);
      const left = await app.server.database.db
        .selectFrom('secret_versions')
        .select('version')
        .where('path', '=', 'life/s')
        .execute();
      assert.deepEqual(left, []);
    });

    test('bad input → 4xx problem+json and nothing written', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const before = await dumpAll(app);
      const cases: [string, string, unknown, number][] = [
        ['dot-dot', 'a/../b', pw('x'), 422],
        ['encoded dot-dot', 'a/%2e%2e/b', pw('x'), 422],
        ['leading dot-dot', '../b', pw('x'), 422],
        ['dot', 'a/./b', pw('x'), 422],
        ['encoded slash', 'a%2F..%2Fb', pw('x'), 422],
        ['control char', 'a/b%0Ac', pw('x'), 422],
        ['NUL', 'a/b%00c', pw('x'), 422],
        ['empty segment', 'a//b', pw('x'), 422],
        ['trailing slash', 'a/b/', pw('x'), 422],
        ['space', 'a/b%20c', pw('x'), 422],
        ['hash', 'a/b%23c', pw('x'), 422],
        ['over-long path', `${'a'.repeat(60)}/`.repeat(4) + 'z', pw('x'), 422],
        ['too deep', Array.from({ length: 11 }, () => 'd').join('/'), pw('x'), 422],
        ['over-long value', 'ok/long', pw('v'.repeat(5000)), 422],
        [
          'value over 64 KiB',
          'ok/huge',
          {
            type: 'generic',
            value: { data: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, 'g'.repeat(16000)])) },
          },
          422,
        ],
        ['unknown type', 'ok/t', { type: 'telepathy', value: { password: 'x' } }, 422],
        ['wrong value shape', 'ok/t', { type: 'password', value: { password: 42 } }, 422],
        ['wrong value keys', 'ok/t', { type: 'api-key', value: { password: 'x' } }, 422],
        ['control char in value', 'ok/t', pw('a\u0000b'), 422],
        ['bad cas', 'ok/t', pw('x', { cas: -1 }), 422],
        ['bad tag', 'ok/t', pw('x', { metadata: { tags: ['Not A Tag'] } }), 422],
        ['bad expiry', 'ok/t', pw('x', { metadata: { expiresAt: 'tomorrow' } }), 422],
        [
          'bad certificate',
          'ok/c',
          {
            type: 'certificate',
            value: { certificate: '-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----' },
          },
          422,
        ],
        [
          's3 without secret',
          'ok/s3',
          { type: 'cloud-credential', value: { provider: 's3', accessKeyId: 'AKIAEXAMPLE' } },
          422,
        ],
      ];
      for (const [name, path, body, status] of cases) {
        const r = await rawReq(app, owner, 'PUT', `${S}/data/${path}`, body);
        assert.equal(r.status, status, `${name}: ${r.body.slice(0, 300)}`);
        assert.match(String(r.headers['content-type']), /application\/problem\+json/, name);
      }
      const huge = await owner.req(`${S}/data/ok/body`, jsonBody(pw('b'.repeat(2 * 1024 * 1024)), 'PUT'));
      assert.equal(huge.status, 413);
      const notJson = await owner.req(`${S}/data/ok/j`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: '{"type":',
      });
      assert.equal(notJson.status, 400);
      assert.equal((await owner.req(`${S}/metadata/nope/missing`)).status, 404);
      assert.equal((await owner.req(`${S}?prefix=../x`)).status, 422);
      const strip = (d: string) =>
        d
          .split('\n')
          .filter(
            (l) =>
              !/^\{"seq"|^\{"ingest_id"|"last_seen_at"|"idle_expires_at"|"last_used_at"/.test(l) && !/audit_/.test(l),
          )
          .join('\n');
      const after = await dumpAll(app);
      assert.equal(
        after
          .split('\n')
          .filter((l) => l.includes('"path"'))
          .join('\n'),
        before
          .split('\n')
          .filter((l) => l.includes('"path"'))
          .join('\n'),
        'no secret or version written',
      );
      assert.ok(strip(after).length > 0);
    });

    test('typed values: cloud credentials, certificates (parsed; expiry tracked), generic key/value', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const ok: [string, unknown][] = [
        [
          'cc/s3',
          {
            type: 'cloud-credential',
            value: {
              provider: 's3',
              accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
              secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
              sessionToken: 'tok',
            },
          },
        ],
        [
          'cc/azure-key',
          {
            type: 'cloud-credential',
            value: { provider: 'azure', kind: 'account-key', accountName: 'devstoreaccount1', accountKey: 'a2V5' },
          },
        ],
        [
          'cc/azure-cs',
          {
            type: 'cloud-credential',
            value: {
              provider: 'azure',
              kind: 'connection-string',
              connectionString: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=y',
            },
          },
        ],
        [
          'cc/azure-sas',
          {
            type: 'cloud-credential',
            value: { provider: 'azure', kind: 'sas', accountName: 'acct', sasToken: 'sv=2024&sig=abc' },
          },
        ],
        [
          'cc/gcs-hmac',
          {
            type: 'cloud-credential',
            value: { provider: 'gcs', kind: 'hmac', accessId: 'GOOG1EXAMPLEID', secret: 'c2VjcmV0' },
          },
        ],
        [
          'cc/gcs-sa',
          {
            type: 'cloud-credential',
            value: {
              provider: 'gcs',
              kind: 'service-account',
              serviceAccount: {
                type: 'service_account',
                client_email: 'sa@p.iam.gserviceaccount.com',
                private_key: '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n',
                project_id: 'p',
              },
            },
          },
        ],
        ['kv/app', { type: 'generic', value: { data: { user: 'u', token: 't' } } }],
      ];
      for (const [path, body] of ok) assert.equal((await put(owner, path, body)).status, 201, path);
      assert.deepEqual((await reveal(owner, 'cc/s3')).json<any>().value.accessKeyId, 'AKIAIOSFODNN7EXAMPLE');
      const { cert, key } = await generateSelfSigned(new Date(), 10);
      const c = await put(owner, 'tls/site', { type: 'certificate', value: { certificate: cert, privateKey: key } });
      assert.equal(c.status, 201, c.body);
      const other = await generateSelfSigned();
      assert.equal(
        (await put(owner, 'tls/mismatch', { type: 'certificate', value: { certificate: cert, privateKey: other.key } }))
          .status,
        422,
        'key of another certificate',
      );
      const meta = (await owner.req(`${S}/metadata/tls/site`)).json<any>();
      const info = meta.versions[0].certificate;
      assert.ok(Math.abs(Date.parse(info.notAfter) - (Date.now() + 10 * 86_400_000)) < 5 * MIN);
      assert.match(info.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      assert.ok(!JSON.stringify(meta).includes('PRIVATE KEY'));
      assert.equal((await put(owner, 'tls/site', pw('x'))).status, 409, 'the type of a secret is fixed');
    });

    test('secrets-due lists expired, expiring, rotation-overdue and certificate expiry', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await put(
        owner,
        'due/expired',
        pw('d1', { metadata: { expiresAt: new Date(Date.now() - 60_000).toISOString() } }),
      );
      await put(owner, 'due/rotate', pw('d2', { metadata: { rotateEvery: '2m' } }));
      await put(owner, 'due/fine', pw('d3', { metadata: { rotateEvery: '90d' } }));
      const old = await generateSelfSigned(new Date(Date.now() - 10 * 86_400_000), 1);
      await put(owner, 'due/cert', { type: 'certificate', value: { certificate: old.cert } });
      const r = await owner.req('/api/v1/workspaces/default/secrets-due');
      assert.equal(r.status, 200, r.body);
      const by = Object.fromEntries(r.json<any>().secrets.map((s: any) => [s.path, s.reasons]));
      assert.deepEqual(by['due/expired'], ['expired']);
      assert.deepEqual(by['due/cert'], ['certificate-expired']);
      assert.equal(by['due/rotate'], undefined);
      assert.equal(by['due/fine'], undefined);
      offset += 3 * MIN;
      try {
        const later = Object.fromEntries(
          (await owner.req('/api/v1/workspaces/default/secrets-due?withinDays=0'))
            .json<any>()
            .secrets.map((s: any) => [s.path, s.reasons]),
        );
        assert.deepEqual(later['due/rotate'], ['rotation-overdue']);
      } finally {
        offset = 0;
      }
      const soon = Object.fromEntries(
        (await owner.req('/api/v1/workspaces/default/secrets-due?withinDays=100'))
          .json<any>()
          .secrets.map((s: any) => [s.path, s.reasons]),
      );
      assert.deepEqual(soon['due/fine'], ['rotation-due']);
    });

    test('a ciphertext moved to another version or secret fails to open: clean DECRYPTION_FAILED, nothing leaked', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await put(owner, 'mv/a', pw('move-a1-value'));
      await put(owner, 'mv/a', pw('move-a2-value'));
      await put(owner, 'mv/b', pw('move-b1-value'));
      const db = app.server.database.db;
      await sql`update secret_versions set value_sealed = (select value_sealed from secret_versions where workspace_id = 'default' and path = 'mv/a' and version = 1) where workspace_id = 'default' and path = 'mv/a' and version = 2`.execute(
        db,
      );
      await sql`update secret_versions set value_sealed = (select value_sealed from secret_versions where workspace_id = 'default' and path = 'mv/a' and version = 1) where workspace_id = 'default' and path = 'mv/b' and version = 1`.execute(
        db,
      );
      for (const [path, version] of [
        ['mv/a', 2],
        ['mv/b', 1],
      ] as const) {
        const r = await reveal(owner, path, version);
        assert.equal(r.status, 409, r.body);
        assert.equal(r.json().code, 'DECRYPTION_FAILED');
        assert.ok(!r.body.includes('move-a1-value'));
        assert.equal(r.json().detail, undefined, 'no detail');
      }
      assert.equal((await reveal(owner, 'mv/a', 1)).status, 200, 'the original still opens');
      const failed = (await auditRows(app)).filter(
        (e) => e.action === 'vault.secret.reveal' && e.outcome === 'failure' && e.resource.id === 'mv/b',
      );
      assert.equal(failed[0]?.details.error, 'DECRYPTION_FAILED');
    });

    test("another workspace's secrets answer 404", async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await createWorkspace(app, 'vault-other');
      const { session: other } = await ownerSession(app, 'vault-other-owner@corp.test', 'vault-other');
      assert.equal(
        (await other.req('/api/v1/workspaces/vault-other/secrets/data/iso/x', jsonBody(pw('iso-value'), 'PUT'))).status,
        201,
      );
      assert.equal((await owner.req('/api/v1/workspaces/vault-other/secrets/metadata/iso/x')).status, 404);
      assert.equal(
        (await owner.req('/api/v1/workspaces/vault-other/secrets/reveal/iso/x', { method: 'POST' })).status,
        404,
      );
      assert.equal((await owner.req(`${S}/metadata/iso/x`)).status, 404, 'same path, own workspace: nothing');
    });

    test('a canary value never appears in logs, audit rows, error bodies, /metrics, the OpenAPI output or any table', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const canary = `CANARY-${Date.now().toString(36)}-4f1c9e`;
      const bodies: string[] = [];
      const w1 = await put(owner, 'canary/db', pw(canary, { metadata: { tags: ['canary'] } }));
      bodies.push(w1.body);
      bodies.push((await put(owner, 'canary/db', pw(canary, { cas: 0 }))).body); // 409
      bodies.push((await rawReq(app, owner, 'PUT', `${S}/data/canary/../db`, pw(canary))).body); // 422
      bodies.push((await put(owner, 'canary/db', { type: 'api-key', value: { key: canary, bogus: canary } })).body); // 422
      bodies.push((await put(owner, 'canary/db', { type: 'password', value: { password: `${canary}\u0001` } })).body); // 422
      bodies.push((await owner.req(`${S}/metadata/canary/db`)).body);
      bodies.push((await owner.req(`${S}?prefix=canary`)).body);
      const viewer = await createUser(app, 'canary-viewer@corp.test', { role: 'viewer' });
      assert.ok(viewer);
      bodies.push(
        (await (await login(app, 'canary-viewer@corp.test')).req(`${S}/reveal/canary/db`, { method: 'POST' })).body,
      );
      const shown = await reveal(owner, 'canary/db');
      assert.equal(shown.json<any>().value.password, canary, 'reveal is the one place it appears');
      for (const b of bodies) assert.ok(!b.includes(canary), `error or metadata body: ${b.slice(0, 200)}`);
      await app.server.audit.chainPending();
      assert.ok(!app.logs.join('\n').includes(canary), 'logs');
      assert.ok(!JSON.stringify(await auditRows(app)).includes(canary), 'audit rows');
      assert.ok(!(await metrics(app)).includes(canary), 'metrics');
      const openapi = await app.req('/api/v1/openapi.json');
      assert.equal(openapi.status, 200);
      assert.ok(!openapi.body.includes(canary), 'OpenAPI output');
      const dump = await dumpAll(app);
      assert.ok(dump.includes('canary/db'), 'the dump covers the vault tables');
      assert.ok(!dump.includes(canary), 'database dump');
      assert.ok(!dump.includes(Buffer.from(canary).toString('hex')), 'database dump (hex)');
      assert.ok(!dump.includes(Buffer.from(canary).toString('base64').slice(0, 20)), 'database dump (base64)');
    });
  });
}
