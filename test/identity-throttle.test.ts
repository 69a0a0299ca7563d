/**
 * Sign-in hardening over HTTPS on both backends: enumeration-safe answers, 50 parallel wrong
 * passwords never get more verifications than the limit and leave the account locked (also for
 * the right password), per-address throttling across accounts, the one-time setup token, and
 * the password rules through the API (422 with the reason).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';
import { GOOD_PASSWORD, createUser, jsonBody, ownerSession } from './helpers/identity.ts';

async function events(app: TestApp, action: string) {
  await app.server.audit.chainPending();
  return (await app.server.audit.search({ actionPrefix: action, limit: 1000 })).events;
}
const loginReq = (app: TestApp, email: string, password: string) =>
  app.req('/api/v1/auth/login', jsonBody({ email, password }));
const stripId = (body: string) => body.replace(/"requestId":"[^"]*"/, '');

for (const backend of BACKENDS) {
  describe(`identity: sign-in throttling on ${backend}`, () => {
    let app: TestApp;
    let skip = false;
    before(async (t) => {
      if (
        backend === 'postgres' &&
        !requirePeer(t as never, 'PostgreSQL', await postgresAvailable(), 'pg_ctlcluster 15 main start')
      ) {
        skip = true;
        return;
      }
      app = await startTestApp(backend, {
        env: {
          STRONGROOM_LOGIN_MAX_ATTEMPTS: '5',
          STRONGROOM_LOGIN_FREE_ATTEMPTS: '5',
          STRONGROOM_LOGIN_MAX_ATTEMPTS_PER_ADDRESS: '1000',
        },
      });
    });
    after(async () => {
      if (!skip) await app.close();
    });

    test('setup token: printed at first start, creates the first owner once, then refused', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      assert.match(app.setupToken ?? '', /^srs_/);
      const wrong = await app.req(
        '/api/v1/setup',
        jsonBody({
          token: 'srs_wrong-wrong-wrong',
          email: 'owner@corp.test',
          password: GOOD_PASSWORD,
          displayName: 'First Owner',
        }),
      );
      assert.equal(wrong.status, 403);
      const ok = await app.req(
        '/api/v1/setup',
        jsonBody({
          token: app.setupToken,
          email: 'owner@corp.test',
          password: GOOD_PASSWORD,
          displayName: 'First Owner',
        }),
      );
      assert.equal(ok.status, 201, ok.body);
      const again = await app.req(
        '/api/v1/setup',
        jsonBody({ token: app.setupToken, email: 'owner2@corp.test', password: GOOD_PASSWORD, displayName: 'Second' }),
      );
      assert.equal(again.status, 403);
      const roles = await app.server.identity.users.rolesIn(ok.json<any>().user.id, 'default');
      assert.deepEqual(roles, ['owner']);
      const row = await app.server.database.db.selectFrom('setup_tokens').selectAll().executeTakeFirstOrThrow();
      assert.notEqual(row.token_hash, app.setupToken, 'stored hashed');
    });

    test('password rules through the API: 422 naming the field and the reason', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const cases: [string, RegExp][] = [
        ['short-one', /at least 15/],
        ['passwordpassword', /common or breached/],
        ['grace hopper strongroom', /product name/],
        ['grace.hopper is my name', /name or email/],
      ];
      const { session } = await ownerSession(app);
      for (const [password, why] of cases) {
        const r = await session.req(
          '/api/v1/workspaces/default/users',
          jsonBody({ email: 'grace.hopper@navy.test', displayName: 'Grace Hopper', password, role: 'analyst' }),
        );
        assert.equal(r.status, 422, password);
        assert.match(r.json<any>().detail, why);
        assert.equal(r.json<any>().issues[0].path, '/password');
      }
      const ok = await session.req(
        '/api/v1/workspaces/default/users',
        jsonBody({
          email: 'grace.hopper@navy.test',
          displayName: 'Grace Hopper',
          password: 'ünïcødé ✓ bugs in the relay',
          role: 'analyst',
        }),
      );
      assert.equal(ok.status, 201, ok.body);
      const row = await app.server.database.db
        .selectFrom('users')
        .select('password_hash')
        .where('email', '=', 'grace.hopper@navy.test')
        .executeTakeFirstOrThrow();
      assert.match(row.password_hash!, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.equal(
        (await loginReq(app, 'GRACE.HOPPER@navy.test', 'ünïcødé ✓ bugs in the relay')).status,
        200,
        'email is case-insensitive',
      );
    });

    test('no enumeration: unknown email and wrong password get the same answer', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await createUser(app, 'enum@corp.test');
      const unknown = await loginReq(app, 'nobody@corp.test', 'whatever whatever 1');
      const wrong = await loginReq(app, 'enum@corp.test', 'whatever whatever 1');
      assert.equal(unknown.status, 401);
      assert.equal(wrong.status, 401);
      assert.equal(stripId(unknown.body), stripId(wrong.body));
      assert.equal(unknown.json<any>().detail, 'Incorrect email or password.');
    });

    test('50 parallel wrong passwords: at most the limit verified, then locked even for the right password', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const user = await createUser(app, 'target@corp.test');
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => loginReq(app, 'target@corp.test', `wrong password number ${i}`)),
      );
      assert.ok(results.every((r) => r.status === 401));
      const evs = (await events(app, 'identity.session.create')).filter((e) => e.resource.id === user.id);
      const verified = evs.filter((e) => e.details.reason === 'bad-password').length;
      const throttled = evs.filter((e) => e.details.reason === 'throttled').length;
      assert.ok(verified <= 5, `verified ${verified} > limit 5`);
      assert.equal(verified + throttled, 50, 'every attempt is audited');
      const right = await loginReq(app, 'target@corp.test', GOOD_PASSWORD);
      assert.equal(right.status, 401, 'locked: the right password is refused too');
      assert.equal(stripId(right.body), stripId(results[0]!.body), 'same message as a wrong password');
      const last = (await events(app, 'identity.session.create')).at(-1)!;
      assert.equal(last.details.reason, 'throttled');
    });

    test('every login success and failure is audited, never with the password', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const CANARY = 'canary-password-7f3a9e1b-xyzzy';
      const audited = await createUser(app, 'audited@corp.test', { password: CANARY });
      assert.equal((await loginReq(app, 'audited@corp.test', `${CANARY}-wrong`)).status, 401);
      const typo = await loginReq(app, CANARY, CANARY);
      assert.equal(typo.status, 422, 'password typed into the email field');
      assert.ok(!typo.body.includes(CANARY), 'not echoed');
      assert.equal((await loginReq(app, 'audited@corp.test', CANARY)).status, 200);
      const evs = await events(app, 'identity.session.create');
      // The account is named by its id (a pseudonym an erasure cuts loose), never by its email.
      assert.ok(evs.some((e) => e.outcome === 'success' && e.resource.id === audited.id));
      assert.ok(
        evs.some((e) => e.outcome === 'failure' && e.details.reason === 'bad-password' && e.resource.id === audited.id),
      );
      assert.ok(!JSON.stringify(evs).includes('audited@corp.test'), 'no email in the trail');
      assert.ok(evs.some((e) => e.outcome === 'failure' && e.details.reason === 'unknown-account'));
      assert.ok(!JSON.stringify(evs).includes(CANARY), 'audit trail');
      assert.ok(!app.logs.join('\n').includes(CANARY), 'logs');
      const db = app.server.database.db;
      const { sql } = await import('kysely');
      const tables = await sql<{
        table_name: string;
      }>`select table_name from information_schema.tables where table_schema = 'public'`.execute(db);
      for (const { table_name } of tables.rows) {
        const rows = await sql<{ j: string }>`select row_to_json(t)::text as j from ${sql.table(table_name)} t`.execute(
          db,
        );
        assert.ok(
          !rows.rows.some((r) => r.j.includes(CANARY) || r.j.includes(Buffer.from(CANARY).toString('hex'))),
          `table ${table_name}`,
        );
      }
    });
  });

  describe(`identity: per-address throttling on ${backend}`, () => {
    let app: TestApp;
    let skip = false;
    before(async () => {
      if (backend === 'postgres' && !(await postgresAvailable())) {
        skip = true;
        return;
      }
      app = await startTestApp(backend, { env: { STRONGROOM_LOGIN_MAX_ATTEMPTS_PER_ADDRESS: '4' } });
    });
    after(async () => {
      if (!skip) await app.close();
    });

    test('wrong passwords spread over accounts lock the source address', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      for (const n of [1, 2, 3, 4]) await createUser(app, `spread${n}@corp.test`);
      await createUser(app, 'victim@corp.test');
      for (const n of [1, 2, 3, 4])
        assert.equal((await loginReq(app, `spread${n}@corp.test`, 'not the password at all')).status, 401);
      const right = await loginReq(app, 'victim@corp.test', GOOD_PASSWORD);
      assert.equal(right.status, 401, 'the address is locked, even for another account with the right password');
      const last = (await events(app, 'identity.session.create')).at(-1)!;
      assert.equal(last.details.reason, 'throttled');
    });
  });
}
