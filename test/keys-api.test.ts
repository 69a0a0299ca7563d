/**
 * Keys and seal over HTTPS on both backends: default deny with audited denials, operator
 * credential, rotation audited in the same transaction (fail-closed), the sealed gate, and a
 * Shamir installation unsealed share by share.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { sql } from 'kysely';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { createKeysService } from '../src/modules/keys/index.ts';
import { rootKeyProviderFor } from '../src/installation/root-key.ts';
import { BACKENDS } from './helpers/db.ts';
import { startAppOn, startTestApp, type TestApp } from './helpers/app.ts';

async function events(app: TestApp, action: string) {
  await app.server.audit.chainPending();
  const page = await app.server.audit.search({ actionPrefix: action, limit: 100 });
  return page.events;
}

const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

for (const backend of BACKENDS) {
  describe(`keys API on ${backend}`, () => {
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

    test('default deny: no credential → 401, a wrong one → 401; both audited as denied', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const none = await app.req('/api/v1/keys/status');
      assert.equal(none.status, 401);
      assert.equal(none.json().code, 'UNAUTHENTICATED');
      const wrong = await app.req('/api/v1/keys/status', {
        headers: { authorization: 'Bearer sro_not-the-token-at-all' },
      });
      assert.equal(wrong.status, 401);
      const denied = (await events(app, 'keys.keyring.read')).filter((e) => e.outcome === 'denied');
      assert.equal(denied.length, 2);
      assert.deepEqual(
        denied.map((e) => e.requestId),
        [none.headers['x-request-id'], wrong.headers['x-request-id']],
      );
      assert.ok(!JSON.stringify(denied).includes('sro_not-the-token'), 'the presented credential is not stored');
    });

    test('operator: status, rotation (audited), new term active', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const status = await app.asOperator('/api/v1/keys/status');
      assert.equal(status.status, 200, status.body);
      assert.equal(status.json<any>().state, 'unsealed');
      assert.equal(status.json<any>().activeTerm, 1);
      const rot = await app.asOperator('/api/v1/keys/rotate', { method: 'POST' });
      assert.equal(rot.status, 200, rot.body);
      assert.equal(rot.json<any>().activeTerm, 2);
      const ev = await events(app, 'keys.keyring.rotate');
      assert.equal(ev.length, 1);
      assert.equal(ev[0]!.outcome, 'success');
      assert.equal(ev[0]!.actor.kind, 'operator');
      const after1 = await app.asOperator('/api/v1/keys/status');
      assert.deepEqual(
        after1.json<any>().terms.map((x: any) => [x.term, x.active]),
        [
          [1, false],
          [2, true],
        ],
      );
    });

    test('fail-closed: when the audit event cannot be written, the rotation does not happen (503)', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const db = app.server.database.db;
      await sql`alter table audit_pending rename to audit_pending_away`.execute(db);
      try {
        const rot = await app.asOperator('/api/v1/keys/rotate', { method: 'POST' });
        assert.equal(rot.status, 503, rot.body);
        assert.equal(rot.json().code, 'AUDIT_UNAVAILABLE');
        const row = await db.selectFrom('keyring').select('active_term').executeTakeFirstOrThrow();
        assert.equal(row.active_term, 2, 'the keyring did not move');
      } finally {
        await sql`alter table audit_pending_away rename to audit_pending`.execute(db);
      }
      assert.equal(
        (await app.asOperator('/api/v1/keys/status')).json<any>().activeTerm,
        2,
        'the barrier did not switch either',
      );
    });

    test('a failure after authorization is audited too; audit reads name the operator', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const r = await app.asOperator('/api/v1/keys/terms/99/retire', { method: 'POST' });
      assert.equal(r.status, 404);
      const bad = await app.asOperator('/api/v1/keys/terms/x/retire', { method: 'POST' });
      assert.equal(bad.status, 422);
      const ev = await events(app, 'keys.term.retire');
      // One shape for every failure, in the handler or before it (bad input): its problem code.
      assert.deepEqual(
        ev.map((e) => [e.outcome, e.details, e.resource.type]),
        [
          ['failure', { error: 'NOT_FOUND' }, 'key-term'],
          ['failure', { error: 'VALIDATION_FAILED' }, 'system'],
        ],
      );
      const list = await app.asOperator('/api/v1/audit/events?limit=5');
      assert.equal(list.status, 200, list.body);
      const reads = await events(app, 'audit.event.list');
      assert.equal(reads.at(-1)?.actor.kind, 'operator');
    });

    test('crypto-shredding over the API: two steps, both audited; afterwards the data is unreadable', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const enc = await app.server.workspaceKeys.encryptorFor('ws-doomed');
      const sealed = enc.seal(Buffer.from('secret rows'), 'ctx');
      const req1 = await app.asOperator('/api/v1/keys/workspaces/ws-doomed/destroy', { method: 'POST' });
      assert.equal(req1.status, 200, req1.body);
      const token = req1.json<any>().token as string;
      const wrong = await app.asOperator(
        '/api/v1/keys/workspaces/ws-doomed/destroy/confirm',
        json({ token: 'destroy-00000000000000000000' }),
      );
      assert.equal(wrong.status, 409);
      assert.equal(
        (await app.server.workspaceKeys.encryptorFor('ws-doomed')).open(sealed, 'ctx').toString(),
        'secret rows',
      );
      const ok = await app.asOperator('/api/v1/keys/workspaces/ws-doomed/destroy/confirm', json({ token }));
      assert.equal(ok.status, 200, ok.body);
      await assert.rejects(app.server.workspaceKeys.encryptorFor('ws-doomed'), (e: any) => e.code === 'KEY_DESTROYED');
      const ev = await events(app, 'keys.workspace.destroy');
      assert.deepEqual(
        ev.map((e) => [e.outcome, e.details.step, e.details.error, e.resource.type]),
        [
          ['success', 'requested', undefined, 'workspace-key'],
          ['failure', 'confirmed', 'CONFLICT', 'workspace-key'],
          ['success', 'confirmed', undefined, 'workspace-key'],
        ],
      );
      assert.ok(!JSON.stringify(ev).includes(token), 'the confirmation token is not in the audit trail');
    });

    test('sealed: everything but health, seal status and unseal answers 503 SEALED', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      // A bodyless route takes no body: refused before anything happens (still unsealed), and recorded.
      const withBody = await app.asOperator('/api/v1/sys/seal', json({ really: true }));
      assert.equal(withBody.status, 415, withBody.body);
      assert.equal(withBody.json().code, 'UNSUPPORTED_MEDIA_TYPE');
      assert.equal(withBody.json().detail, 'This request takes no body.');
      assert.equal((await app.req('/api/v1/sys/seal-status')).json<any>().sealed, false);
      assert.deepEqual(
        (await events(app, 'operator.keyring.seal')).map((e) => [e.outcome, e.details]),
        [['failure', { error: 'UNSUPPORTED_MEDIA_TYPE' }]],
      );
      const seal = await app.asOperator('/api/v1/sys/seal', { method: 'POST' });
      assert.equal(seal.status, 200);
      assert.equal((await app.req('/healthz')).status, 200);
      const ss = await app.req('/api/v1/sys/seal-status');
      assert.equal(ss.status, 200);
      assert.equal(ss.json<any>().sealed, true);
      for (const p of ['/readyz', '/api/v1/keys/status', '/api/v1/audit/events']) {
        const r = await app.asOperator(p);
        assert.equal(r.status, 503, p);
        assert.equal(r.json().code, 'SEALED', p);
      }
      const unseal = await app.req('/api/v1/sys/unseal', json({ share: 'srs1-not-a-share' }));
      assert.equal(unseal.status, 409, 'a file-provider installation does not take shares');
      // Unseal is public: attempts are limited per address (20 a minute), answered as problem+json.
      let limited;
      for (let i = 0; i < 25 && !limited; i++) {
        const r = await app.req('/api/v1/sys/unseal', json({ share: 'srs1-not-a-share' }));
        if (r.status === 429) limited = r;
      }
      assert.ok(limited, 'the unseal route is rate limited');
      assert.equal(limited.json().code, 'RATE_LIMITED');
      assert.match(String(limited.headers['content-type']), /^application\/problem\+json/);
    });
  });
}

describe('Shamir installation over HTTPS', () => {
  test('starts sealed; three shares unseal it; a bad share is refused and audited', async () => {
    let shares: string[] = [];
    const app = await startTestApp('pglite', {
      env: { STRONGROOM_ROOT_KEY_PROVIDER: 'shamir' },
      prepare: async (database, config) => {
        const keys = createKeysService({
          db: database.db,
          barrier: createBarrier(),
          provider: rootKeyProviderFor(config),
          logger: pino({ level: 'silent' }),
        });
        shares = (await keys.initialize()).shares ?? [];
      },
    });
    try {
      assert.equal(shares.length, 5);
      assert.equal((await app.req('/api/v1/sys/seal-status')).json<any>().sealed, true);
      assert.equal((await app.asOperator('/api/v1/keys/status')).status, 503);
      const bad = await app.req('/api/v1/sys/unseal', json({ share: `${shares[0]!.slice(0, -3)}AAA` }));
      assert.ok([400, 422].includes(bad.status), bad.body);
      assert.match(String(bad.headers['content-type']), /problem\+json/);
      assert.equal((await app.req('/api/v1/sys/seal-status')).json<any>().sealed, true, 'a bad share unseals nothing');
      for (const [i, share] of [shares[3], shares[0], shares[2]].entries()) {
        const r = await app.req('/api/v1/sys/unseal', json({ share }));
        assert.equal(r.status, 200, r.body);
        assert.equal(r.json<any>().sealed, i < 2);
      }
      const status = await app.asOperator('/api/v1/keys/status');
      assert.equal(status.status, 200);
      assert.equal(status.json<any>().provider, 'shamir');
      const ev = await events(app, 'operator.keyring.unseal');
      assert.deepEqual(
        ev.map((e) => e.outcome),
        ['failure', 'success', 'success', 'success'],
      );
      assert.ok(!JSON.stringify(ev).includes(shares[3]!.slice(5, 30)), 'shares never reach the audit trail');
    } finally {
      await app.close();
    }
  });
});
