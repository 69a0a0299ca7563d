/**
 * The reveal hot path stays exact while it got cheaper (one statement authenticates a session with
 * its user and roles, Cedar answers are memoised, events recorded on their own share a group
 * commit). On both backends, over HTTPS:
 * - nothing about a session is cached between requests: a revocation, a disabled user, a changed
 *   or removed membership, a revoked token, a new workspace policy — each applies to the very
 *   next request, even when written straight into the database (no in-process hook involved);
 * - fail-closed: concurrent reveals while the audit table cannot be written all answer 503 and
 *   carry no value; concurrent reveals afterwards each have their own event.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';
import { jsonBody, ownerSession, type Session } from './helpers/identity.ts';

const S = '/api/v1/workspaces/default/secrets';
const VALUE = 'hot-path-value-4242';

for (const backend of BACKENDS) {
  describe(`reveal hot path on ${backend}`, () => {
    let app: TestApp;
    let skip = false;
    let admin: Session;
    before(async (t) => {
      if (
        backend === 'postgres' &&
        !requirePeer(t as never, 'PostgreSQL', await postgresAvailable(), 'pg_ctlcluster 15 main start')
      ) {
        skip = true;
        return;
      }
      app = await startTestApp(backend);
      admin = (await ownerSession(app)).session;
      const w = await admin.req(`${S}/data/hot/db`, jsonBody({ type: 'password', value: { password: VALUE } }, 'PUT'));
      assert.equal(w.status, 201, w.body);
    });
    after(async () => {
      if (!skip) await app.close();
    });
    const reveal = (s: Session, headers: Record<string, string> = {}) =>
      s.req(`${S}/reveal/hot/db`, { method: 'POST', headers });

    test('revocation, disable, membership and policy changes apply to the very next request', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const { user, session } = await ownerSession(app);
      const db = app.server.database.db;
      const expect = async (status: number, why: string) => {
        const r = await reveal(session);
        assert.equal(r.status, status, `${why}: ${r.body}`);
        if (status !== 200) assert.ok(!r.body.includes(VALUE), why);
      };
      await expect(200, 'warm: session, roles and decisions all seen once');
      await expect(200, 'warm, again');

      // Straight into the database: no route, no in-process invalidation.
      await db.updateTable('memberships').set({ role: 'viewer' }).where('user_id', '=', user.id).execute();
      await expect(403, 'owner → viewer');
      await db.updateTable('memberships').set({ role: 'owner' }).where('user_id', '=', user.id).execute();
      await expect(200, 'viewer → owner');
      await db.deleteFrom('memberships').where('user_id', '=', user.id).execute();
      await expect(404, 'membership removed');
      await db.insertInto('memberships').values({ workspace_id: 'default', user_id: user.id, role: 'owner' }).execute();
      await expect(200, 'membership back');
      await db.updateTable('users').set({ status: 'disabled' }).where('id', '=', user.id).execute();
      await expect(401, 'user disabled');
      await db.updateTable('users').set({ status: 'active' }).where('id', '=', user.id).execute();
      await expect(200, 'user active again (this session was never revoked)');
      await db.updateTable('users').set({ mfa_enabled: false }).where('id', '=', user.id).execute();
      const noMfa = await reveal(session);
      assert.equal(noMfa.status, 403, 'an owner without MFA');
      assert.equal(noMfa.json().code, 'MFA_REQUIRED');
      await db.updateTable('users').set({ mfa_enabled: true }).where('id', '=', user.id).execute();
      await expect(200, 'MFA back');

      // A first policy (about another secret) gives the workspace its own policy set; the second
      // replaces that set in place — the answer cached for the first must not survive it.
      const addPolicy = async (text: string) => {
        const r = await admin.req('/api/v1/workspaces/default/policies', jsonBody({ text }));
        assert.equal(r.status, 201, r.body);
        return r.json<{ id: string }>().id;
      };
      const dropPolicy = async (id: string) =>
        assert.equal((await admin.req(`/api/v1/workspaces/default/policies/${id}`, { method: 'DELETE' })).status, 204);
      const other = await addPolicy(
        'forbid (principal, action == Action::"vault.secret.reveal", resource == Secret::"hot/other");',
      );
      await expect(200, 'a policy about another secret');
      await expect(200, 'a policy about another secret, again');
      const lock = await addPolicy(
        'forbid (principal, action == Action::"vault.secret.reveal", resource == Secret::"hot/db");',
      );
      await expect(403, 'a workspace policy forbids it');
      await dropPolicy(lock);
      await expect(200, 'that policy is gone');
      await dropPolicy(other);
      await expect(200, 'no workspace policies');

      await db.updateTable('sessions').set({ revoked_at: new Date() }).where('user_id', '=', user.id).execute();
      await expect(401, 'session revoked in the database');

      // API tokens: revoked → refused on the next request.
      const tok = await admin.req(
        '/api/v1/tokens',
        jsonBody({ name: 'hot', workspace: 'default', scopes: ['vault.*'], expiresInDays: 1 }),
      );
      assert.equal(tok.status, 201, tok.body);
      const bearer = { headers: { authorization: `Bearer ${tok.json<{ token: string }>().token}` } };
      assert.equal((await app.req(`${S}/metadata/hot/db`, bearer)).status, 200);
      assert.equal(
        (await admin.req(`/api/v1/tokens/${tok.json<{ info: { id: string } }>().info.id}`, { method: 'DELETE' }))
          .status,
        200,
      );
      assert.equal((await app.req(`${S}/metadata/hot/db`, bearer)).status, 401, 'token revoked');
    });

    test('fail-closed under group commit: concurrent reveals without an audit table get 503 and no value; with it, one event each', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const db = app.server.database.db;
      await sql`alter table audit_pending rename to audit_pending_away`.execute(db);
      try {
        const refused = await Promise.all(Array.from({ length: 12 }, () => reveal(admin)));
        for (const r of refused) {
          assert.equal(r.status, 503, r.body);
          assert.equal(r.json().code, 'AUDIT_UNAVAILABLE');
          assert.ok(!r.body.includes(VALUE));
        }
      } finally {
        await sql`alter table audit_pending_away rename to audit_pending`.execute(db);
      }
      const ids = Array.from({ length: 12 }, (_, i) => `hot-path-${backend}-${i}-${Date.now()}`);
      const ok = await Promise.all(ids.map((id) => reveal(admin, { 'x-request-id': id })));
      for (const r of ok) assert.equal(r.status, 200, r.body);
      await app.server.audit.chainPending();
      const rows = await db
        .selectFrom('audit_events')
        .select(['request_id', 'outcome', 'action'])
        .where('request_id', 'in', ids)
        .execute();
      assert.deepEqual(rows.map((r) => r.request_id).sort(), [...ids].sort(), 'one event per reveal');
      assert.ok(rows.every((r) => r.outcome === 'success' && r.action === 'vault.secret.reveal'));
    });
  });
}
