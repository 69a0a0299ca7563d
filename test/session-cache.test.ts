/**
 * The live-session cache (src/modules/identity/identity.session-cache.ts): a session answered
 * from memory must stop working the moment it is revoked here, and its user's changes (disable,
 * a new membership) must show on the next request; a change written by another
 * process (another server) reaches it through NOTIFY. Plus the cache's own rules, in memory.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { createSessionCache } from '../src/modules/identity/index.ts';
import type { LiveSession } from '../src/modules/identity/identity.sessions.store.ts';
import { BACKENDS, PG_ADMIN_URL } from './helpers/db.ts';
import { startAppOn, type TestApp } from './helpers/app.ts';
import { createUser, createWorkspace, login, ownerSession } from './helpers/identity.ts';

const live = (userId: string, expiresIn = 60_000): LiveSession => ({
  idHash: 'h',
  userId,
  strength: 'password',
  authenticatedAt: new Date(),
  createdAt: new Date(),
  lastSeenAt: new Date(),
  idleExpiresAt: new Date(Date.now() + expiresIn),
  absoluteExpiresAt: new Date(Date.now() + expiresIn),
  user: { attributes: {}, mfaEnabled: false, privileged: false },
});

describe('session cache rules', () => {
  test('nothing is cached until the change feed is up, and nothing once it is lost', () => {
    const c = createSessionCache();
    c.store('a', undefined, live('u1'), c.begin());
    assert.equal(c.get('a', undefined, new Date()), undefined);
    c.setFeed(true);
    c.store('a', undefined, live('u1'), c.begin());
    assert.equal(c.get('a', undefined, new Date())?.userId, 'u1');
    c.setFeed(false);
    assert.equal(c.get('a', undefined, new Date()), undefined);
    assert.equal(c.size, 0);
  });

  test('a lookup that started before an invalidation does not store its answer', () => {
    const c = createSessionCache();
    c.setFeed(true);
    const token = c.begin();
    c.invalidateUser('someone-else');
    c.store('a', 'ws', live('u1'), token);
    assert.equal(c.get('a', 'ws', new Date()), undefined);
    const t2 = c.begin();
    c.invalidateAll();
    c.store('a', 'ws', live('u1'), t2);
    assert.equal(c.get('a', 'ws', new Date()), undefined);
  });

  test("invalidateUser drops that user's entries only; keys are per workspace; expiry is re-checked", () => {
    const c = createSessionCache();
    c.setFeed(true);
    c.store('a', 'w1', live('u1'), c.begin());
    c.store('a', 'w2', live('u1'), c.begin());
    c.store('b', 'w1', live('u2'), c.begin());
    assert.equal(c.get('a', 'w3', new Date()), undefined);
    c.invalidateUser('u1');
    assert.equal(c.get('a', 'w1', new Date()), undefined);
    assert.equal(c.get('a', 'w2', new Date()), undefined);
    assert.equal(c.get('b', 'w1', new Date())?.userId, 'u2');
    c.store('e', undefined, live('u3', 1000), c.begin());
    assert.equal(c.get('e', undefined, new Date(Date.now() + 2000)), undefined, 'idle/absolute expiry');
  });

  test('misses of one key share one lookup, only within an epoch and while the feed is up', async () => {
    const c = createSessionCache();
    c.setFeed(true);
    let reads = 0;
    const answers: ((v: LiveSession | undefined) => void)[] = [];
    const read = () => {
      reads++;
      return new Promise<LiveSession | undefined>((r) => answers.push(r));
    };
    const now = new Date();
    // Two misses while one lookup is under way: one statement, both get its answer, then cached.
    const a = c.lookup('a', 'ws', now, read);
    const b = c.lookup('a', 'ws', now, read);
    assert.equal(reads, 1);
    answers[0]!(live('u1'));
    assert.equal((await a)?.userId, 'u1');
    assert.equal((await b)?.userId, 'u1');
    assert.equal(c.get('a', 'ws', now)?.userId, 'u1');
    // Another key (or workspace) does not join.
    void c.lookup('a', 'other', now, read);
    assert.equal(reads, 2);
    answers[1]!(undefined);

    // A miss after an invalidation does not join the lookup that started before it.
    c.invalidateAll();
    const d = c.lookup('b', undefined, now, read);
    c.invalidateUser('someone');
    const e = c.lookup('b', undefined, now, read);
    assert.equal(reads, 4, 'a lookup of the new epoch');
    answers[2]!(live('u2'));
    answers[3]!(live('u2'));
    await Promise.all([d, e]);

    // An invalidation while a joiner waits: the joiner reads the database itself.
    c.invalidateAll();
    const f = c.lookup('c', undefined, now, read);
    const g = c.lookup('c', undefined, now, read);
    assert.equal(reads, 5);
    c.invalidateAll();
    answers[4]!(live('u3'));
    assert.equal((await f)?.userId, 'u3');
    await new Promise((r) => setImmediate(r));
    assert.equal(reads, 6, 'the joiner read again');
    answers[5]!(undefined);
    assert.equal(await g, undefined, 'and got its own answer');

    // Feed down: every miss reads, nothing is shared.
    c.setFeed(false);
    void c.lookup('d', undefined, now, read);
    void c.lookup('d', undefined, now, read);
    assert.equal(reads, 8);
  });

  test('a joiner re-checks expiry on its own clock; a failed lookup fails its joiners', async () => {
    const c = createSessionCache();
    c.setFeed(true);
    let answer!: (v: LiveSession | undefined) => void;
    const a = c.lookup('a', undefined, new Date(), () => new Promise((r) => (answer = r)));
    const late = c.lookup('a', undefined, new Date(Date.now() + 2000), () => assert.fail('joins'));
    answer(live('u1', 1000));
    assert.equal((await a)?.userId, 'u1');
    assert.equal(await late, undefined, 'expired at the joiner’s time');

    let fail!: (e: Error) => void;
    const b = c.lookup('b', undefined, new Date(), () => new Promise((_, r) => (fail = r)));
    const b2 = c.lookup('b', undefined, new Date(), () => assert.fail('joins'));
    fail(new Error('database down'));
    await assert.rejects(b, /database down/);
    await assert.rejects(b2, /database down/);
    assert.equal((await c.lookup('b', undefined, new Date(), async () => live('u2')))?.userId, 'u2', 'next miss reads');
  });

  test('a TTL of 0 disables the cache', () => {
    const c = createSessionCache({ ttlMs: 0 });
    c.setFeed(true);
    c.store('a', undefined, live('u1'), c.begin());
    assert.equal(c.get('a', undefined, new Date()), undefined);
  });
});

for (const backend of BACKENDS) {
  describe(`session cache on ${backend}`, () => {
    let app: TestApp;
    let skip = false;
    before(async (t) => {
      const started = await startAppOn(t as never, backend);
      if (started === undefined) skip = true;
      else app = started;
    });
    after(async () => {
      if (!skip) await app.close();
    });

    test('a cached session: logout, disable and a new membership apply to the next request', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const cache = app.server.identity.sessionCache;
      const u = await createUser(app, 'cached@corp.test');
      const s = await login(app, 'cached@corp.test');
      assert.equal((await s.req('/api/v1/auth/me')).status, 200);
      assert.equal((await s.req('/api/v1/auth/me')).status, 200);
      assert.ok(cache.size > 0, 'the session is cached');

      // A membership added in a workspace the cached entry said the user was not in.
      await createWorkspace(app, 'other');
      assert.equal((await s.req('/api/v1/workspaces/other/secrets')).status, 404);
      assert.equal((await s.req('/api/v1/workspaces/other/secrets')).status, 404);
      await app.server.database.db
        .insertInto('memberships')
        .values({ workspace_id: 'other', user_id: u.id, role: 'engineer' })
        .execute();
      assert.equal((await s.req('/api/v1/workspaces/other/secrets')).status, 200, 'new membership seen at once');

      const { user: owner, session: admin } = await ownerSession(app);
      // …who may manage the user in both of the user's workspaces.
      await app.server.database.db
        .insertInto('memberships')
        .values({ workspace_id: 'other', user_id: owner.id, role: 'owner' })
        .execute();
      // Logout of a second, cached session.
      const s2 = await login(app, 'cached@corp.test');
      assert.equal((await s2.req('/api/v1/auth/me')).status, 200);
      assert.equal((await s2.req('/api/v1/auth/me')).status, 200);
      assert.equal((await s2.req('/api/v1/auth/logout', { method: 'POST' })).status, 200);
      assert.equal((await s2.req('/api/v1/auth/me')).status, 401, 'logout applies at once');
      // Disable by an admin: the user's other cached session stops at once.
      assert.equal((await s.req('/api/v1/auth/me')).status, 200);
      const disabled = await admin.req(`/api/v1/workspaces/default/users/${u.id}/disable`, { method: 'POST' });
      assert.equal(disabled.status, 200, disabled.body);
      const after = await s.req('/api/v1/auth/me');
      assert.equal(after.status, 401, 'disable applies at once');
      assert.equal(after.json().code, 'UNAUTHENTICATED');
    });

    // Only PostgreSQL: an embedded database belongs to one process.
    if (backend === 'postgres')
      test('a revocation written by another process reaches this server through NOTIFY', async (t) => {
        if (skip) return t.skip('no PostgreSQL');
        await createUser(app, 'elsewhere@corp.test');
        const s = await login(app, 'elsewhere@corp.test');
        assert.equal((await s.req('/api/v1/auth/me')).status, 200);
        assert.equal((await s.req('/api/v1/auth/me')).status, 200);
        const { rows } = await sql<{ db: string }>`select current_database() as db`.execute(app.server.database.db);
        const url = new URL(PG_ADMIN_URL);
        url.pathname = `/${rows[0]!.db}`;
        const admin = new pg.Client({ connectionString: url.toString() });
        await admin.connect();
        try {
          const idHash = createHash('sha256').update(s.id).digest('hex');
          const r = await admin.query('update sessions set revoked_at = now() where id_hash = $1', [idHash]);
          assert.equal(r.rowCount, 1);
        } finally {
          await admin.end();
        }
        let status = 200;
        for (let i = 0; i < 100 && status === 200; i++) {
          status = (await s.req('/api/v1/auth/me')).status;
          if (status === 200) await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(status, 401, 'the other process’s revocation took effect');
      });
  });
}
