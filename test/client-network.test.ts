/**
 * The client network allowlist with real requests from 127.0.0.1: the installation's list
 * (STRONGROOM_ALLOWED_CLIENT_CIDRS) refuses everything from outside it before authentication —
 * sign-in included, liveness probes excepted — with a 403 problem and a `network.client.refused`
 * event naming the source address; X-Forwarded-For is believed only from a trusted proxy
 * (STRONGROOM_TRUSTED_PROXIES: the test itself plays the proxy from 127.0.0.1); a workspace's
 * own list narrows its routes; saving a list that excludes oneself is refused; bad blocks are
 * refused in the settings and in the API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/core/config.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { jsonBody, ownerSession, type Session } from './helpers/identity.ts';
import type { TestResponse } from './helpers/https.ts';

function assertRefused(res: TestResponse, address: string, scope: 'installation' | 'workspace') {
  assert.equal(res.status, 403, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const p = res.json<{ code: string; detail: string }>();
  assert.equal(p.code, 'NETWORK_NOT_ALLOWED');
  assert.equal(p.detail, `Your address (${address}) is not in this ${scope}'s client network allowlist.`);
}

async function refusals(app: TestApp) {
  await app.server.audit.chainPending();
  const page = await app.server.audit.search({ actionPrefix: 'network.client.refused', limit: 100 });
  return page.events;
}

describe('client network allowlist: 127.0.0.1 outside the installation’s list', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('pglite', { env: { STRONGROOM_ALLOWED_CLIENT_CIDRS: '10.0.0.0/8,192.168.0.0/16' } });
  });
  after(() => app.close());

  test('everything is refused before authentication, audited with the source address; probes answer', async () => {
    assertRefused(
      await app.req('/api/v1/auth/login', jsonBody({ email: 'a@b.test', password: 'x' })),
      '127.0.0.1',
      'installation',
    );
    assertRefused(await app.asOperator('/api/v1/keys/status'), '127.0.0.1', 'installation');
    assertRefused(await app.req('/security'), '127.0.0.1', 'installation');
    // Without a trusted proxy, X-Forwarded-For is ignored: it cannot buy a way in.
    assertRefused(
      await app.req('/api/v1/keys/status', { headers: { 'x-forwarded-for': '10.1.2.3' } }),
      '127.0.0.1',
      'installation',
    );
    assert.equal((await app.req('/healthz')).status, 200);

    const events = await refusals(app);
    assert.equal(events.length, 4);
    for (const e of events) {
      assert.equal(e.outcome, 'denied');
      assert.equal(e.actor.id, 'anonymous');
      assert.equal(e.sourceIp, '127.0.0.1');
      assert.equal(e.details.scope, 'installation');
    }
    const keys = events.find((e) => e.details.route === 'GET /api/v1/keys/status');
    assert.equal(keys?.details.routeAction, 'keys.keyring.read');
    // The refused request went no further: no event of the route itself, no credential checked.
    await app.server.audit.chainPending();
    const own = await app.server.audit.search({ actionPrefix: 'keys.keyring.read', limit: 10 });
    assert.equal(own.events.length, 0);
  });

  test('bad blocks are refused in the settings', () => {
    assert.throws(() => loadConfig({ STRONGROOM_ALLOWED_CLIENT_CIDRS: '0.0.0.0/0' }), /allows everyone/);
    assert.throws(() => loadConfig({ STRONGROOM_ALLOWED_CLIENT_CIDRS: '10.1.2.3/8' }), /host bits set/);
    assert.throws(() => loadConfig({ STRONGROOM_TRUSTED_PROXIES: '::/0' }), /choose its own address/);
    assert.throws(() => loadConfig({ STRONGROOM_TRUSTED_PROXIES: '127.0.0.1' }), /not address\/prefix/);
  });
});

describe('client network allowlist behind a trusted proxy, with a workspace list', () => {
  let app: TestApp;
  let owner: Session;
  const via = (address: string) => ({ headers: { 'x-forwarded-for': address } });
  before(async () => {
    app = await startTestApp('pglite', {
      env: {
        STRONGROOM_ALLOWED_CLIENT_CIDRS: '127.0.0.0/8,10.0.0.0/8',
        STRONGROOM_TRUSTED_PROXIES: '127.0.0.1/32',
      },
    });
    owner = (await ownerSession(app)).session;
  });
  after(() => app.close());

  test('the client is the right-most untrusted X-Forwarded-For address', async () => {
    assertRefused(
      await owner.req('/api/v1/workspaces/default/datasets', via('192.0.2.7')),
      '192.0.2.7',
      'installation',
    );
    // A client-supplied left part cannot hide the address the proxy saw.
    assertRefused(
      await owner.req('/api/v1/workspaces/default/datasets', via('10.9.9.9, 192.0.2.8')),
      '192.0.2.8',
      'installation',
    );
    const latest = (await refusals(app)).at(-1);
    assert.equal(latest?.sourceIp, '192.0.2.8');
    const ok = await owner.req('/api/v1/workspaces/default/datasets', via('198.51.100.1, 10.1.2.3'));
    assert.equal(ok.status, 200, ok.body);
  });

  test('a workspace list narrows its routes; one that excludes the caller is refused; the effective lists', async () => {
    const lockout = await owner.req(
      '/api/v1/workspaces/default/network-allowlist',
      jsonBody({ cidrs: ['10.0.0.0/8'] }, 'PUT'),
    );
    assert.equal(lockout.status, 409, lockout.body);
    assert.match(lockout.json<{ detail: string }>().detail, /does not include your own address \(127\.0\.0\.1\)/);

    const bad = await owner.req(
      '/api/v1/workspaces/default/network-allowlist',
      jsonBody({ cidrs: ['127.0.0.0/8', '10.0.0.1/8'] }, 'PUT'),
    );
    assert.equal(bad.status, 422, bad.body);
    assert.match(bad.json<{ detail: string }>().detail, /host bits set/);
    const issues = bad.json<{ issues: { path: string; message: string }[] }>().issues;
    assert.deepEqual(
      issues.map((i) => i.path),
      ['/cidrs/1'],
      'the issue names the entry it is about',
    );
    assert.match(issues[0]!.message, /"10\.0\.0\.1\/8" has host bits set; write 10\.0\.0\.0\/8/);

    const saved = await owner.req(
      '/api/v1/workspaces/default/network-allowlist',
      jsonBody({ cidrs: ['127.0.0.0/8'] }, 'PUT'),
    );
    assert.equal(saved.status, 200, saved.body);
    await expectAudit(app, {
      action: 'access.network-allowlist.update',
      outcome: 'success',
      details: { cidrs: '127.0.0.0/8' },
    });

    // 10.1.2.3 passes the installation's list but not the workspace's: refused on its routes only.
    assertRefused(await owner.req('/api/v1/workspaces/default/datasets', via('10.1.2.3')), '10.1.2.3', 'workspace');
    const latest = (await refusals(app)).at(-1);
    assert.equal(latest?.details.scope, 'workspace');
    assert.equal(latest?.resource.workspace, 'default');
    assert.equal(latest?.sourceIp, '10.1.2.3');
    const me = await owner.req('/api/v1/auth/me', via('10.1.2.3'));
    assert.equal(me.status, 200, me.body);
    assert.equal((await owner.req('/api/v1/workspaces/default/datasets')).status, 200);

    const effective = await owner.req('/api/v1/workspaces/default/network-allowlist');
    assert.equal(effective.status, 200, effective.body);
    assert.deepEqual(effective.json(), {
      installation: ['127.0.0.0/8', '10.0.0.0/8'],
      workspace: ['127.0.0.0/8'],
      trustedProxies: ['127.0.0.1/32'],
      yourAddress: '127.0.0.1',
      allowed: true,
    });

    const cleared = await owner.req('/api/v1/workspaces/default/network-allowlist', jsonBody({ cidrs: [] }, 'PUT'));
    assert.equal(cleared.status, 200, cleared.body);
    assert.equal(cleared.json<{ workspace: unknown }>().workspace, null);
    assert.equal((await owner.req('/api/v1/workspaces/default/datasets', via('10.1.2.3'))).status, 200);
  });
});
