/**
 * SCIM 2.0 provisioning over real HTTPS requests (the test plays the IdP's SCIM client): the
 * per-workspace bearer token (shown once, hashed, rotatable), users and groups (create, filter by
 * userName, paging, patch), group membership feeding the group → role mapping without a sign-in,
 * deprovisioning (`active: false`) killing live sessions, RFC 7644 error fields on bad input,
 * every call audited — and the last owner never deactivated or demoted through SCIM or SSO.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { expectAudit, expectNoAudit } from './helpers/audit.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import type { TestResponse } from './helpers/https.ts';
import { createWorkspace, jsonBody, ownerSession, type Session } from './helpers/identity.ts';
import { addOidcProvider, callbackUrl, oidcSignIn } from './helpers/sso.ts';
import { startOidcIdp, type OidcIdp } from './peers/idp/oidc-idp.ts';

const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

interface ScimUser {
  id: string;
  userName: string;
  active: boolean;
  externalId?: string;
  groups: { display: string }[];
  meta: { location: string };
}
interface ScimList<T> {
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: T[];
}

describe('SCIM 2.0 provisioning (real HTTPS, IdP side scripted)', () => {
  let app: TestApp;
  let idp: OidcIdp;
  let owner: Session;
  let token = '';

  const scim = (pathname: string, o: { method?: string; body?: unknown; token?: string; type?: string } = {}) =>
    app.req(`/scim/v2${pathname}`, {
      method: o.method ?? 'GET',
      headers: {
        ...(o.token !== '' ? { authorization: `Bearer ${o.token ?? token}` } : {}),
        ...(o.body !== undefined ? { 'content-type': o.type ?? 'application/scim+json' } : {}),
      },
      ...(o.body !== undefined ? { body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
    });
  const patch = (ops: unknown[]) => ({ schemas: [PATCH_OP], Operations: ops });
  /** A problem with the RFC 7644 error fields. */
  const scimProblem = (res: TestResponse, status: number, scimType?: string) => {
    assert.equal(res.status, status, res.body);
    assert.match(String(res.headers['content-type']), /application\/problem\+json/);
    const p = res.json<{ schemas?: string[]; scimType?: string; detail?: string; status: number }>();
    assert.equal(p.status, status);
    assert.deepEqual(p.schemas, [SCIM_ERROR]);
    if (scimType) assert.equal(p.scimType, scimType, res.body);
    assert.ok(!res.body.includes('    at '), 'no stack trace');
    return p;
  };
  const rolesOf = async (s: Session, workspaceId: string, userId: string) => {
    const res = await s.req(`/api/v1/workspaces/${workspaceId}/users`);
    assert.equal(res.status, 200, res.body);
    const u = res.json<{ users: { id: string; roles: string[] }[] }>().users.find((x) => x.id === userId);
    return [...(u?.roles ?? [])].sort();
  };

  before(async () => {
    app = await startTestApp('pglite', { env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32' } });
    idp = await startOidcIdp({ redirectUris: [callbackUrl(app, 'corp')] });
    owner = (await ownerSession(app)).session;
    assert.equal((await addOidcProvider(app, idp, 'corp')).status, 201);
    const put = await owner.req(
      '/api/v1/workspaces/default/sso/mappings/corp',
      jsonBody(
        {
          mappings: [
            { group: 'eng', role: 'engineer' },
            { group: 'admins', role: 'admin' },
          ],
        },
        'PUT',
      ),
    );
    assert.equal(put.status, 200, put.body);
  });
  after(async () => {
    await idp?.close();
    await app?.close();
  });

  test('the SCIM token: created by an owner, shown once, kept hashed, rotation stops the old one', async () => {
    const first = await owner.req('/api/v1/workspaces/default/sso/scim-token', jsonBody({ provider: 'corp' }));
    assert.equal(first.status, 201, first.body);
    const old = first.json<{ token: string; baseUrl: string }>();
    assert.match(old.token, /^srscim_[A-Za-z0-9_-]{40,}$/);
    assert.equal(old.baseUrl, `${app.base}/scim/v2`);
    const settings = await owner.req('/api/v1/workspaces/default/sso');
    assert.equal(settings.json<{ scim: { provider: string } }>().scim.provider, 'corp');
    assert.ok(!settings.body.includes(old.token), 'the token is never answered again');
    const row = await app.server.database.db.selectFrom('scim_tokens').selectAll().executeTakeFirstOrThrow();
    assert.notEqual(row.token_hash, old.token);
    assert.ok(!JSON.stringify(row).includes(old.token), 'only a hash is stored');

    const rotated = await owner.req('/api/v1/workspaces/default/sso/scim-token', jsonBody({ provider: 'corp' }));
    assert.equal(rotated.status, 201, rotated.body);
    token = rotated.json<{ token: string }>().token;
    scimProblem(await scim('/Users', { token: old.token }), 401);
    assert.equal((await scim('/Users')).status, 200);
    await expectAudit(app, {
      action: 'sso.scim-token.rotate',
      outcome: 'success',
      details: { provider: 'corp', replaced: true },
      mustNotContain: [old.token, token],
    });
  });

  test('no token, a malformed token, an API-style token: 401 problem, audited as a failure', async () => {
    scimProblem(await scim('/Users', { token: '' }), 401);
    scimProblem(await scim('/Users', { token: 'srscim_' + 'x'.repeat(43) }), 401);
    scimProblem(await scim('/Groups', { token: 'not a token at all' }), 401);
    await expectAudit(app, { action: 'scim.user.list', outcome: 'failure', details: { error: 'UNAUTHENTICATED' } });
  });

  let bob: ScimUser;
  test('create a user: 201 with Location, scim+json, linked to the provider; audited as scim:<workspace>', async () => {
    const res = await scim('/Users', {
      method: 'POST',
      body: {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'Bob@corp.test',
        externalId: 'bob-sub',
        name: { givenName: 'Bob', familyName: 'Builder', formatted: 'Bob Builder' },
        emails: [{ value: 'bob@corp.test', primary: 'True', type: 'work' }],
        active: true,
        title: 'ignored attribute',
      },
    });
    assert.equal(res.status, 201, res.body);
    assert.match(String(res.headers['content-type']), /application\/scim\+json/);
    bob = res.json<ScimUser>();
    assert.equal(bob.userName, 'bob@corp.test');
    assert.equal(bob.active, true);
    assert.equal(res.headers.location, bob.meta.location);
    assert.equal(bob.meta.location, `${app.base}/scim/v2/Users/${bob.id}`);
    const read = await scim(`/Users/${bob.id}`);
    assert.equal(read.json<ScimUser>().externalId, 'bob-sub');
    await expectAudit(app, {
      action: 'scim.user.create',
      outcome: 'success',
      actorId: 'scim:default',
      resource: { type: 'user', id: bob.id, workspace: 'default' },
    });
    await expectAudit(app, { action: 'sso.user.provision', details: { provider: 'corp', via: 'scim' } });
    assert.deepEqual(await rolesOf(owner, 'default', bob.id), [], 'no group yet, so no role');
  });

  test('bad input: RFC 7644 error fields, nothing created', async () => {
    const before = (await scim('/Users')).json<ScimList<ScimUser>>().totalResults;
    scimProblem(await scim('/Users', { method: 'POST', body: { externalId: 'x' } }), 400, 'invalidValue');
    scimProblem(await scim('/Users', { method: 'POST', body: { userName: 'no-email-here' } }), 400, 'invalidValue');
    scimProblem(await scim('/Users', { method: 'POST', body: [1, 2] }), 400, 'invalidSyntax');
    scimProblem(await scim('/Users', { method: 'POST', body: { userName: 'BOB@corp.test' } }), 409, 'uniqueness');
    const owners = await owner.req('/api/v1/auth/me');
    const ownerEmail = owners.json<{ user: { email: string } }>().user.email;
    const takeover = await scim('/Users', { method: 'POST', body: { userName: ownerEmail, externalId: 'evil' } });
    scimProblem(takeover, 409, 'uniqueness');
    const malformed = await scim('/Users', { method: 'POST', body: '{"userName":', type: 'application/scim+json' });
    assert.equal(malformed.status, 400, malformed.body);
    assert.equal(malformed.json<{ code: string }>().code, 'MALFORMED_JSON');
    const text = await scim('/Users', { method: 'POST', body: 'userName=x', type: 'text/plain' });
    assert.equal(text.status, 415, text.body);
    scimProblem(await scim('/Users?filter=' + encodeURIComponent('userName co "bob"')), 400, 'invalidFilter');
    scimProblem(await scim('/Users?filter=' + encodeURIComponent('password eq "x"')), 400, 'invalidFilter');
    scimProblem(await scim('/Users?startIndex=abc'), 400, 'invalidValue');
    scimProblem(await scim('/Users/not-a-uuid'), 404);
    scimProblem(await scim('/Users/00000000-0000-4000-8000-000000000000'), 404);
    scimProblem(
      await scim(`/Users/${bob.id}`, { method: 'PATCH', body: { Operations: [{ op: 'replace', path: 'active' }] } }),
      400,
      'invalidValue',
    );
    scimProblem(
      await scim(`/Users/${bob.id}`, {
        method: 'PATCH',
        body: patch([{ op: 'replace', path: 'active', value: 'maybe' }]),
      }),
      400,
      'invalidValue',
    );
    scimProblem(
      await scim('/Groups', {
        method: 'POST',
        body: { displayName: 'x', members: [{ value: owners.json<{ user: { id: string } }>().user.id }] },
      }),
      400,
      'invalidValue',
    );
    assert.equal((await scim('/Users')).json<ScimList<ScimUser>>().totalResults, before, 'nothing created');
    await expectAudit(app, { action: 'scim.user.create', outcome: 'failure', details: { error: 'CONFLICT' } });
    await expectNoAudit(app, { action: 'sso.user.provision', details: { email: ownerEmail } });
  });

  test('filter by userName (case-insensitive) and list with paging', async () => {
    for (const n of ['carl', 'dora', 'emil'])
      assert.equal(
        (await scim('/Users', { method: 'POST', body: { userName: `${n}@corp.test`, externalId: `${n}-sub` } })).status,
        201,
      );
    const found = await scim('/Users?filter=' + encodeURIComponent('userName eq "BOB@corp.test"'));
    assert.equal(found.status, 200, found.body);
    const f = found.json<ScimList<ScimUser>>();
    assert.equal(f.totalResults, 1);
    assert.equal(f.Resources[0]!.id, bob.id);
    const none = (await scim('/Users?filter=' + encodeURIComponent('userName eq "nobody@corp.test"'))).json<
      ScimList<ScimUser>
    >();
    assert.deepEqual([none.totalResults, none.Resources.length], [0, 0]);

    const p1 = (await scim('/Users?startIndex=1&count=2')).json<ScimList<ScimUser>>();
    const p2 = (await scim('/Users?startIndex=3&count=2')).json<ScimList<ScimUser>>();
    assert.deepEqual([p1.totalResults, p1.itemsPerPage, p1.startIndex], [4, 2, 1]);
    assert.deepEqual([p2.totalResults, p2.itemsPerPage, p2.startIndex], [4, 2, 3]);
    const names = [...p1.Resources, ...p2.Resources].map((u) => u.userName);
    assert.deepEqual(names, ['bob@corp.test', 'carl@corp.test', 'dora@corp.test', 'emil@corp.test']);
    const zero = (await scim('/Users?count=0')).json<ScimList<ScimUser>>();
    assert.deepEqual([zero.totalResults, zero.Resources.length], [4, 0]);
  });

  let eng = '';
  test('group membership feeds the mapping at once; SSO sign-in lands on the provisioned account', async () => {
    const created = await scim('/Groups', {
      method: 'POST',
      body: {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
        displayName: 'eng',
        members: [{ value: bob.id }],
      },
    });
    assert.equal(created.status, 201, created.body);
    eng = created.json<{ id: string }>().id;
    assert.deepEqual(await rolesOf(owner, 'default', bob.id), ['engineer'], 'no sign-in needed');
    await expectAudit(app, {
      action: 'sso.membership.sync',
      outcome: 'success',
      details: { via: 'scim', user: bob.id, roles: ['engineer'] },
    });
    const byName = await scim('/Groups?filter=' + encodeURIComponent('displayName eq "eng"'));
    assert.equal(byName.json<ScimList<{ id: string }>>().Resources[0]!.id, eng);

    const admins = await scim('/Groups', { method: 'POST', body: { displayName: 'admins' } });
    const adminsId = admins.json<{ id: string }>().id;
    const add = await scim(`/Groups/${adminsId}`, {
      method: 'PATCH',
      body: patch([{ op: 'Add', path: 'members', value: [{ value: bob.id }] }]),
    });
    assert.equal(add.status, 200, add.body);
    assert.deepEqual(await rolesOf(owner, 'default', bob.id), ['admin', 'engineer']);
    const rm = await scim(`/Groups/${adminsId}`, {
      method: 'PATCH',
      body: patch([{ op: 'remove', path: `members[value eq "${bob.id}"]` }]),
    });
    assert.equal(rm.status, 200, rm.body);
    assert.deepEqual(await rolesOf(owner, 'default', bob.id), ['engineer']);

    // Bob signs in through the IdP: the subject SCIM linked finds the same account.
    idp.accounts.set('bob-sub', { claims: { email: 'bob@corp.test', email_verified: true, groups: ['eng'] } });
    const signIn = await oidcSignIn(app, idp, 'corp', 'bob-sub');
    assert.equal(signIn.res.status, 200, signIn.res.body);
    assert.equal(signIn.res.json<{ user: { id: string } }>().user.id, bob.id);
    assert.equal((await signIn.session!.req('/api/v1/workspaces/default/drives')).status, 200);
  });

  test('active=false deprovisions: no membership, live sessions end (next request 401), audited', async () => {
    const live = await oidcSignIn(app, idp, 'corp', 'bob-sub');
    assert.equal((await live.session!.req('/api/v1/auth/me')).status, 200);
    const off = await scim(`/Users/${bob.id}`, {
      method: 'PATCH',
      body: patch([{ op: 'Replace', value: { active: 'False' } }]),
    });
    assert.equal(off.status, 200, off.body);
    assert.equal(off.json<ScimUser>().active, false);
    assert.equal((await live.session!.req('/api/v1/auth/me')).status, 401, 'the live session is gone');
    assert.deepEqual(await rolesOf(owner, 'default', bob.id), []);
    await expectAudit(app, { action: 'scim.user.update', outcome: 'success', resource: { id: bob.id } });
    // Signing in again does not bring the membership back while SCIM says inactive.
    const again = await oidcSignIn(app, idp, 'corp', 'bob-sub');
    assert.equal(again.res.status, 401, again.res.body);
    // Reactivated: the groups give the role back.
    const on = await scim(`/Users/${bob.id}`, {
      method: 'PATCH',
      body: patch([{ op: 'replace', path: 'active', value: 'True' }]),
    });
    assert.equal(on.status, 200, on.body);
    assert.deepEqual(await rolesOf(owner, 'default', bob.id), ['engineer']);
    // Removing the group takes the role away between sign-ins.
    assert.equal((await scim(`/Groups/${eng}`, { method: 'DELETE' })).status, 204);
    assert.deepEqual(await rolesOf(owner, 'default', bob.id), []);
    await expectAudit(app, { action: 'scim.group.delete', outcome: 'success', actorId: 'scim:default' });
  });

  test('the last owner is never deactivated or demoted through SCIM or single sign-on', async () => {
    await createWorkspace(app, 'ops');
    const opsOwner = await ownerSession(app, 'ops-owner@corp.test', 'ops');
    const s = opsOwner.session;
    const put = await s.req(
      '/api/v1/workspaces/ops/sso/mappings/corp',
      jsonBody({ mappings: [{ group: 'ops-owners', role: 'owner' }] }, 'PUT'),
    );
    assert.equal(put.status, 200, put.body);
    const t = await s.req('/api/v1/workspaces/ops/sso/scim-token', jsonBody({ provider: 'corp' }));
    assert.equal(t.status, 201, t.body);
    const opsToken = t.json<{ token: string }>().token;
    const ops = (p: string, o: { method?: string; body?: unknown } = {}) => scim(p, { ...o, token: opsToken });

    const carol = (
      await ops('/Users', { method: 'POST', body: { userName: 'carol@corp.test', externalId: 'carol-sub' } })
    ).json<ScimUser>();
    const group = await ops('/Groups', {
      method: 'POST',
      body: { displayName: 'ops-owners', members: [{ value: carol.id }] },
    });
    assert.equal(group.status, 201, group.body);
    const groupId = group.json<{ id: string }>().id;
    assert.deepEqual(await rolesOf(s, 'ops', carol.id), ['owner']);
    // The workspace's other owner leaves: carol is now its last owner.
    await app.server.database.db
      .deleteFrom('memberships')
      .where('workspace_id', '=', 'ops')
      .where('user_id', '=', opsOwner.user.id)
      .execute();
    // The default workspace's SCIM client cannot even see ops' users.
    scimProblem(await scim(`/Users/${carol.id}`), 404);

    const off = await ops(`/Users/${carol.id}`, {
      method: 'PATCH',
      body: patch([{ op: 'replace', path: 'active', value: false }]),
    });
    const p = scimProblem(off, 409, 'mutability');
    assert.match(String(p.detail), /last owner/);
    assert.equal((await ops(`/Users/${carol.id}`)).json<ScimUser>().active, true, 'still active');
    await expectAudit(app, {
      action: 'scim.user.update',
      outcome: 'failure',
      resource: { id: carol.id, workspace: 'ops' },
      details: { error: 'CONFLICT', reason: 'last-owner' },
    });
    scimProblem(await ops(`/Users/${carol.id}`, { method: 'DELETE' }), 409, 'mutability');

    const rm = await ops(`/Groups/${groupId}`, {
      method: 'PATCH',
      body: patch([{ op: 'remove', path: 'members', value: [{ value: carol.id }] }]),
    });
    assert.equal(rm.status, 200, rm.body);
    const carolRoles = await app.server.database.db
      .selectFrom('memberships')
      .select('role')
      .where('workspace_id', '=', 'ops')
      .where('user_id', '=', carol.id)
      .execute();
    assert.deepEqual(
      carolRoles.map((r) => r.role),
      ['owner'],
      'the group change kept the last owner',
    );
    await expectAudit(app, {
      action: 'sso.membership.sync',
      outcome: 'denied',
      resource: { workspace: 'ops' },
      details: { user: carol.id, reason: 'last-owner', kept: 'owner', roles: [] },
    });

    // At SSO sign-in her groups map to nothing in ops: she stays its owner, and it is recorded.
    idp.accounts.set('carol-sub', { claims: { email: 'carol@corp.test', email_verified: true, groups: ['eng'] } });
    const signIn = await oidcSignIn(app, idp, 'corp', 'carol-sub');
    assert.equal(signIn.res.status, 200, signIn.res.body);
    assert.equal(signIn.res.json<{ user: { id: string } }>().user.id, carol.id);
    await expectAudit(app, {
      action: 'sso.membership.sync',
      outcome: 'denied',
      details: { provider: 'corp', user: carol.id, reason: 'last-owner', kept: 'owner' },
    });
    const after = await app.server.database.db
      .selectFrom('memberships')
      .select('role')
      .where('workspace_id', '=', 'ops')
      .where('user_id', '=', carol.id)
      .execute();
    assert.deepEqual(
      after.map((r) => r.role),
      ['owner'],
    );
  });

  test('revoking the token stops SCIM at once', async () => {
    const del = await owner.req('/api/v1/workspaces/default/sso/scim-token', { method: 'DELETE' });
    assert.equal(del.status, 204, del.body);
    scimProblem(await scim('/Users'), 401);
    await expectAudit(app, { action: 'sso.scim-token.revoke', outcome: 'success' });
  });
});
