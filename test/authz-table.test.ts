/**
 * Issue 13, as tables that walk the live route table:
 * - A workspace role means nothing on a route that names no workspace: every such route that is
 *   not the caller's own account (`identity.self.*`) or public refuses owners, admins and
 *   auditors of a workspace, by session and by a `*`-scoped token bound to that workspace.
 * - No principal grants more than it holds: role creation, change and disable follow the rank
 *   rule (owner > admin > the rest; only owners touch owners; the last owner stays), and every
 *   refusal is an audited denial.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import {
  GOOD_PASSWORD,
  createUser,
  createWorkspace,
  enrolMfa,
  jsonBody,
  login,
  ownerSession,
  type Session,
} from './helpers/identity.ts';
import type { TestRequest, TestResponse } from './helpers/https.ts';
import type { Role } from '../src/modules/identity/index.ts';

let app: TestApp;
before(async () => {
  app = await startTestApp('pglite');
  await createWorkspace(app, 'other');
});
after(async () => {
  await app.close();
});

/** A signed-in member of `default` with `role` (MFA enrolled, recently authenticated). */
async function member(role: Role, workspaceId = 'default'): Promise<{ id: string; email: string; session: Session }> {
  const email = `${role}-${Math.random().toString(36).slice(2, 8)}@corp.test`;
  const user = await createUser(app, email, { role, workspace: workspaceId });
  const s = await login(app, email);
  const { session } = await enrolMfa(app, s);
  return { id: user.id, email, session };
}

async function tokenFor(s: Session, workspaceId = 'default'): Promise<string> {
  const r = await s.req(
    '/api/v1/tokens',
    jsonBody({ name: 'probe', scopes: ['*'], workspace: workspaceId, expiresInDays: 1 }),
  );
  assert.equal(r.status, 201, r.body);
  return r.json<{ token: string }>().token;
}

const fill = (url: string) => url.replace(':term', '1').replace(':id', 'abcdefabcdef').replace(':ws', 'default');

describe('a workspace role gives nothing on a route that names no workspace (issue 13 §1)', () => {
  test('the reproduction: an auditor token of default reads no audit trail outside the workspace route', async () => {
    const auditor = await member('auditor');
    await createUser(app, 'someone-in-other@corp.test', { role: 'analyst', workspace: 'other' });
    const token = await tokenFor(auditor.session);
    const bearer = { headers: { authorization: `Bearer ${token}` } };
    const cross = await app.req('/api/v1/audit/events?workspace=other', bearer);
    assert.equal(cross.status, 403, cross.body);
    assert.ok(!cross.body.includes('someone-in-other'), 'no event of the other workspace in the refusal');
    assert.equal((await app.req('/api/v1/audit/events', bearer)).status, 403);
    assert.equal((await app.req('/api/v1/audit/verify', bearer)).status, 403);
    // The workspace route is the members' way in, and it shows only their workspace.
    const own = await app.req('/api/v1/workspaces/default/audit/events?limit=200', bearer);
    assert.equal(own.status, 200, own.body);
    const events = own.json<{ events: { action: string; resource: { workspace?: string } }[] }>().events;
    assert.ok(events.length > 0);
    // Its own events, and its members' personal sign-in, MFA and session events (no workspace).
    const personal = (e: (typeof events)[number]) =>
      e.resource.workspace === undefined &&
      /^identity\.(session|mfa)\.|^identity\.user\.password-change/.test(e.action);
    assert.ok(
      events.every((e) => e.resource.workspace === 'default' || personal(e)),
      'only default events',
    );
    assert.ok(!own.body.includes('someone-in-other'));
    assert.equal(
      (await app.req('/api/v1/workspaces/other/audit/events', bearer)).status,
      404,
      'a token bound to default does not reach other',
    );
  });

  test('walk: every non-self route without :ws refuses workspace owners, admins and auditors (session and token)', async () => {
    const routes = app.server.app.routes.filter(
      (r) =>
        !r.url.includes(':ws') && r.access && 'action' in r.access && !r.access.action.startsWith('identity.self.'),
    );
    assert.ok(routes.length >= 10, `found only ${routes.length} routes without a workspace`);
    const callers: { name: string; send: (path: string, o: Omit<TestRequest, 'ca'>) => Promise<TestResponse> }[] = [];
    for (const role of ['owner', 'admin', 'auditor'] as const) {
      const m = await member(role);
      const token = await tokenFor(m.session);
      callers.push({ name: `${role} session`, send: (p, o) => m.session.req(p, o) });
      callers.push({
        name: `${role} token`,
        send: (p, o) => app.req(p, { ...o, headers: { ...o.headers, authorization: `Bearer ${token}` } }),
      });
    }
    const leaks: string[] = [];
    for (const r of routes) {
      for (const c of callers) {
        const opts = r.method === 'GET' || r.method === 'DELETE' ? { method: r.method } : { ...jsonBody({}, r.method) };
        const res = await c.send(fill(r.url), opts);
        if (res.status !== 403) leaks.push(`${r.method} ${r.url} as ${c.name}: ${res.status}`);
        else assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      }
    }
    assert.deepEqual(leaks, [], 'routes that let a workspace role through');
  });

  test('own-account routes still work with a workspace-bound token and with a session', async () => {
    const analyst = await member('analyst');
    const token = await tokenFor(analyst.session);
    const me = await app.req('/api/v1/auth/me', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200, me.body);
    assert.equal((await analyst.session.req('/api/v1/tokens')).status, 200);
  });
});

describe('no principal grants more than it holds (issue 13 §2)', () => {
  const newUser = (role: Role, extra: Record<string, unknown> = {}) =>
    jsonBody({
      email: `n-${Math.random().toString(36).slice(2, 8)}@corp.test`,
      displayName: 'New Person',
      password: GOOD_PASSWORD,
      role,
      ...extra,
    });

  test('the reproduction: an admin cannot create an owner, so cannot make themselves owner', async () => {
    const admin = await member('admin');
    const created = await admin.session.req('/api/v1/workspaces/default/users', newUser('owner'));
    assert.equal(created.status, 403, created.body);
    assert.match(created.json<{ detail: string }>().detail, /Only an owner/);
    const self = await admin.session.req(
      `/api/v1/workspaces/default/users/${admin.id}/roles`,
      jsonBody({ roles: ['owner'] }, 'PUT'),
    );
    assert.equal(self.status, 403, self.body);
    assert.deepEqual(await app.server.identity.users.rolesIn(admin.id, 'default'), ['admin']);
    await expectAudit(app, {
      action: 'identity.user.create',
      outcome: 'denied',
      actorId: admin.id,
      resource: { workspace: 'default' },
    });
    await expectAudit(app, { action: 'identity.membership.update', outcome: 'denied', actorId: admin.id });
  });

  test('table: create, change and disable by role (expected status per case)', async () => {
    const owner = await member('owner');
    const admin = await member('admin');
    const engineer = await member('engineer');
    const victimOwner = await createUser(app, `vo-${Date.now()}@corp.test`, { role: 'owner' });
    const analyst = await createUser(app, `an-${Date.now()}@corp.test`, { role: 'analyst' });
    const otherAdmin = await createUser(app, `oa-${Date.now()}@corp.test`, { role: 'admin' });
    const ownerElsewhere = await createUser(app, `oe-${Date.now()}@corp.test`, { role: 'viewer' });
    await app.server.database.db
      .insertInto('memberships')
      .values({ workspace_id: 'other', user_id: ownerElsewhere.id, role: 'owner' })
      .execute();

    const cases: [string, Session, string, ReturnType<typeof jsonBody> | { method: string }, number][] = [
      ['admin creates an owner', admin.session, '/users', newUser('owner'), 403],
      ['admin creates an admin (at their own rank)', admin.session, '/users', newUser('admin'), 201],
      ['admin creates an analyst', admin.session, '/users', newUser('analyst'), 201],
      [
        'admin gives a clearance above their own',
        admin.session,
        '/users',
        newUser('analyst', { attributes: { clearance: 3 } }),
        403,
      ],
      [
        'admin gives another region',
        admin.session,
        '/users',
        newUser('analyst', { attributes: { region: 'eu' } }),
        403,
      ],
      [
        'owner gives a clearance',
        owner.session,
        '/users',
        newUser('analyst', { attributes: { clearance: 3, region: 'eu' } }),
        201,
      ],
      ['engineer creates anyone', engineer.session, '/users', newUser('viewer'), 403],
      [
        'admin demotes an owner',
        admin.session,
        `/users/${victimOwner.id}/roles`,
        jsonBody({ roles: ['viewer'] }, 'PUT'),
        403,
      ],
      ['admin disables an owner', admin.session, `/users/${victimOwner.id}/disable`, { method: 'POST' }, 403],
      [
        'admin promotes an analyst to owner',
        admin.session,
        `/users/${analyst.id}/roles`,
        jsonBody({ roles: ['owner'] }, 'PUT'),
        403,
      ],
      [
        'admin promotes an analyst to admin',
        admin.session,
        `/users/${analyst.id}/roles`,
        jsonBody({ roles: ['admin'] }, 'PUT'),
        200,
      ],
      [
        'admin demotes another admin',
        admin.session,
        `/users/${otherAdmin.id}/roles`,
        jsonBody({ roles: ['viewer'] }, 'PUT'),
        200,
      ],
      [
        'admin changes their own roles',
        admin.session,
        `/users/${admin.id}/roles`,
        jsonBody({ roles: ['viewer'] }, 'PUT'),
        403,
      ],
      [
        'admin disables a viewer who owns another workspace',
        admin.session,
        `/users/${ownerElsewhere.id}/disable`,
        { method: 'POST' },
        403,
      ],
      [
        'admin creates an auditor service account',
        admin.session,
        '/service-accounts',
        jsonBody({ name: `sa-${Date.now()}`, role: 'auditor' }),
        201,
      ],
      [
        'owner demotes another owner',
        owner.session,
        `/users/${victimOwner.id}/roles`,
        jsonBody({ roles: ['admin'] }, 'PUT'),
        200,
      ],
    ];
    const wrong: string[] = [];
    for (const [name, s, path, opts, want] of cases) {
      const res = await s.req(`/api/v1/workspaces/default${path}`, opts);
      if (res.status !== want) wrong.push(`${name}: ${res.status} (wanted ${want}) ${res.body.slice(0, 200)}`);
    }
    assert.deepEqual(wrong, []);
    assert.equal((await app.server.identity.users.find(victimOwner.id))?.status, 'active');
    assert.equal((await app.server.identity.users.find(ownerElsewhere.id))?.status, 'active');
  });

  test('the last owner of a workspace can be neither demoted nor disabled', async () => {
    await createWorkspace(app, 'solo');
    const { user, session } = await ownerSession(app, `solo-owner-${Date.now()}@corp.test`, 'solo');
    const demote = await session.req(
      `/api/v1/workspaces/solo/users/${user.id}/roles`,
      jsonBody({ roles: ['admin'] }, 'PUT'),
    );
    assert.equal(demote.status, 409, demote.body);
    assert.match(demote.json<{ detail: string }>().detail, /last owner/);
    assert.deepEqual(await app.server.identity.users.rolesIn(user.id, 'solo'), ['owner']);
    // A second owner makes the demotion possible; then that one is the last and stays.
    const second = await createUser(app, `solo-2-${Date.now()}@corp.test`, { role: 'owner', workspace: 'solo' });
    const ok = await session.req(
      `/api/v1/workspaces/solo/users/${user.id}/roles`,
      jsonBody({ roles: ['admin'] }, 'PUT'),
    );
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(await app.server.identity.users.rolesIn(second.id, 'solo'), ['owner']);
    await app.server.database.db.updateTable('users').set({ status: 'disabled' }).where('id', '=', second.id).execute();
    const relogin = await login(app, (await app.server.identity.users.find(user.id))!.email);
    assert.equal(relogin.res.status, 200);
  });

  test('two owners cannot both remove themselves at once: one of them stays', async () => {
    await createWorkspace(app, 'duo');
    const a = await ownerSession(app, `duo-a-${Date.now()}@corp.test`, 'duo');
    const b = await ownerSession(app, `duo-b-${Date.now()}@corp.test`, 'duo');
    const [ra, rb] = await Promise.all([
      a.session.req(`/api/v1/workspaces/duo/users/${a.user.id}/roles`, jsonBody({ roles: ['viewer'] }, 'PUT')),
      b.session.req(`/api/v1/workspaces/duo/users/${b.user.id}/roles`, jsonBody({ roles: ['viewer'] }, 'PUT')),
    ]);
    assert.deepEqual([ra.status, rb.status].sort(), [200, 409], `${ra.body} ${rb.body}`);
    const owners = (await app.server.identity.users.list('duo')).filter((u) => u.roles.includes('owner'));
    assert.equal(owners.length, 1);
  });
});
