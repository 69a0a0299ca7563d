/**
 * The single sign-on and client network controls, each driven to pass, warn and fail against a
 * real app on PGlite: providers, role mappings and enforcement are written as the sso module
 * stores them (a provider saved over the API needs a live identity provider; sso-oidc.test.ts
 * covers that path), and the network control reads the settings the server enforces.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { login, ownerSession } from './helpers/identity.ts';
import { networkControls, type ControlResult } from '../src/modules/posture/index.ts';
import { parseClientNetwork } from '../src/core/net/client-allowlist.ts';

describe('sso.* and network.* posture controls', () => {
  let app: TestApp;
  const check = (id: string, workspaceId?: string): Promise<ControlResult> => {
    const c = app.server.posture.posture.registry.get(id);
    assert.ok(c, id);
    return c.check({ now: new Date(), ...(workspaceId ? { workspace: workspaceId } : {}) });
  };
  const db = () => app.server.database.db;

  before(async () => {
    app = await startTestApp('pglite', {
      env: { STRONGROOM_POSTURE_CHECK_SECONDS: '0', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
    });
    await db().insertInto('workspaces').values({ id: 'other', name: 'Other' }).execute();
  });
  after(() => app.close());

  test('sso.configured and sso.enforced: warn with no SSO, pass when mapped and enforced, fail when broken', async () => {
    const none = await check('sso.configured', 'default');
    assert.equal(none.status, 'warn');
    assert.match(none.summary, /no single sign-on provider is mapped/);
    const notEnforced = await check('sso.enforced', 'default');
    assert.equal(notEnforced.status, 'warn');
    assert.equal(notEnforced.evidence.enforced, false);

    await db()
      .insertInto('sso_providers')
      .values({
        id: 'corp-idp',
        kind: 'oidc',
        display_name: 'Corp IdP',
        issuer: 'https://idp.corp.test',
        enabled: true,
        settings: JSON.stringify({ clientId: 'strongroom' }),
        secret_sealed: null,
      })
      .execute();
    await db()
      .insertInto('sso_role_mappings')
      .values({ workspace_id: 'default', provider_id: 'corp-idp', group_name: 'analysts', role: 'analyst' })
      .execute();
    const mapped = await check('sso.configured', 'default');
    assert.equal(mapped.status, 'pass', mapped.summary);
    assert.deepEqual(mapped.evidence.providers, ['corp-idp']);
    const configuredOnly = await check('sso.enforced', 'default');
    assert.equal(configuredOnly.status, 'warn');
    assert.match(configuredOnly.summary, /configured but not enforced/);

    await db()
      .insertInto('sso_workspace_settings')
      .values({ workspace_id: 'default', enforce_sso: true, updated_at: new Date() })
      .execute();
    assert.equal((await check('sso.enforced', 'default')).status, 'pass');

    // The provider starts failing: configured fails; enforcement now leaves only break-glass.
    await db()
      .updateTable('sso_providers')
      .set({ last_error: 'discovery failed', last_error_at: new Date() })
      .where('id', '=', 'corp-idp')
      .execute();
    const broken = await check('sso.configured', 'default');
    assert.equal(broken.status, 'fail');
    assert.deepEqual(broken.evidence.brokenProviders, ['corp-idp']);
    const stranded = await check('sso.enforced', 'default');
    assert.equal(stranded.status, 'fail');
    assert.match(stranded.summary, /only break-glass owners can sign in/);
    assert.ok(!JSON.stringify(broken).includes('discovery failed'), 'the provider’s error text is not evidence');

    // The operator's run names the workspaces; a workspace report holds nothing of another's.
    const all = await check('sso.configured');
    assert.equal(all.status, 'fail');
    assert.deepEqual(all.evidence.failing, ['default']);
    const other = await check('sso.configured', 'other');
    assert.equal(other.status, 'warn');
    assert.ok(!JSON.stringify(other).includes('corp-idp'));
  });

  test('sso.break-glass: a real password sign-in of an SSO owner with MFA under enforcement is chained and warns', async () => {
    // Enforced on `default` by the test above; make it so here too, in case it ran alone.
    await db()
      .insertInto('sso_workspace_settings')
      .values({ workspace_id: 'default', enforce_sso: true, updated_at: new Date() })
      .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ enforce_sso: true }))
      .execute();
    const stranded = await check('sso.break-glass', 'default');
    assert.equal(stranded.status, 'fail', stranded.summary);
    assert.match(stranded.summary, /no owner has a password with MFA/);

    const { user } = await ownerSession(app, 'glass@corp.test');
    await db()
      .insertInto('external_identities')
      .values({ issuer: 'https://idp.corp.test', subject: 'glass', user_id: user.id, provider_id: 'corp-idp' })
      .execute();
    await app.server.audit.chainPending();
    const ready = await check('sso.break-glass', 'default');
    assert.equal(ready.status, 'pass', ready.summary);
    assert.equal(ready.evidence.breakGlassOwners, 1);
    assert.equal(ready.evidence.signInsLast30Days, 0, 'the sign-in before the SSO identity was not break-glass');

    await login(app, 'glass@corp.test'); // the password is let through: an owner with MFA, marked
    await app.server.audit.chainPending();
    const used = await check('sso.break-glass', 'default');
    assert.equal(used.status, 'warn', used.summary);
    assert.deepEqual(used.evidence.accounts, ['glass@corp.test']);
    const [seq] = used.evidence.auditSeqs as string[];
    const event = await db()
      .selectFrom('audit_events')
      .select(['action', 'details'])
      .where('seq', '=', String(seq))
      .executeTakeFirstOrThrow();
    assert.equal(event.action, 'identity.session.create');
    assert.equal((event.details as { breakGlass?: boolean }).breakGlass, true);
    // Another tenant's report does not name the account.
    assert.ok(!JSON.stringify(await check('sso.break-glass', 'other')).includes('glass@corp.test'));
  });

  test('network.client-allowlist: warn when open, pass when set, fail when too wide to restrict', async () => {
    const control = (allowed: string) => networkControls({ network: parseClientNetwork(allowed, '') })[0]!;
    const now = { now: new Date() };
    const open = await control('').check(now);
    assert.equal(open.status, 'warn');
    assert.match(open.summary, /answers every address/);
    const set = await control('10.0.0.0/8,2001:db8::/32').check(now);
    assert.equal(set.status, 'pass');
    assert.deepEqual(set.evidence.allowed, ['10.0.0.0/8', '2001:db8::/32']);
    const wide = await control('0.0.0.0/1,128.0.0.0/1').check(now);
    assert.equal(wide.status, 'fail');
    assert.match(wide.summary, /too wide/);
    // The installation's own (no allowlist in this app): registered and warning.
    assert.equal((await check('network.client-allowlist')).status, 'warn');
  });
});
