/**
 * Cedar authorization (modules/access): the role × action matrix from ONE table (the same table
 * is in docs/security.md §7, and a test holds them equal), workspace isolation, ABAC tag rules,
 * guard rails, the operator's exact rights, default deny, policy validation at start and on save,
 * workspace policies confined to their workspace, and no parsing on the decision path.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Actor } from '../src/core/actor.ts';
import {
  AccessPolicyError,
  authorize,
  createAccessControl,
  type AccessControl,
  type ResourceRef,
} from '../src/modules/access/index.ts';
import { readBuiltinPolicies } from '../src/modules/access/policy-text.ts';
import { loadSchema } from '../src/modules/access/cedar-schema.ts';

const ROLES = ['owner', 'admin', 'steward', 'engineer', 'analyst', 'viewer', 'auditor'] as const;

/**
 * THE role table. Columns: owner admin steward engineer analyst viewer auditor (Y = allowed in
 * the workspace where the role is held), then "signed in, no role", then the operator token.
 * Decisions here are route-level (resource = the workspace; for identity.self.* the actor itself),
 * with a second factor present; tag rules (pii, eu-only) and MFA guards are tested separately.
 */
const MATRIX: ReadonlyArray<readonly [action: string, roles: string, noRole: 'Y' | '-', operator: 'Y' | '-']> = [
  ['access.network-allowlist.read', 'Y Y - - - - Y', '-', '-'],
  ['access.network-allowlist.update', 'Y Y - - - - -', '-', '-'],
  ['access.policy.create', 'Y Y - - - - -', '-', '-'],
  ['access.policy.delete', 'Y Y - - - - -', '-', '-'],
  ['access.policy.list', 'Y Y - - - - Y', '-', '-'],
  ['access.policy.read', 'Y Y - - - - Y', '-', '-'],
  ['audit.event.export', 'Y Y - - - - Y', '-', 'Y'],
  ['audit.event.list', 'Y Y - - - - Y', '-', 'Y'],
  ['audit.trail.verify', 'Y Y - - - - Y', '-', 'Y'],
  ['backups.backup.create', '- - - - - - -', '-', 'Y'],
  ['backups.backup.list', '- - - - - - -', '-', 'Y'],
  ['backups.backup.prune', '- - - - - - -', '-', 'Y'],
  ['backups.backup.read', '- - - - - - -', '-', 'Y'],
  ['backups.backup.verify', '- - - - - - -', '-', 'Y'],
  ['backups.objects.restore', '- - - - - - -', '-', 'Y'],
  ['backups.recovery-key.export', '- - - - - - -', '-', 'Y'],
  ['backups.target.create', '- - - - - - -', '-', 'Y'],
  ['backups.target.delete', '- - - - - - -', '-', 'Y'],
  ['backups.target.list', '- - - - - - -', '-', 'Y'],
  ['backups.target.update', '- - - - - - -', '-', 'Y'],
  ['dataset.data.export', 'Y Y Y Y Y - -', '-', '-'],
  ['dataset.data.preview', 'Y Y Y Y Y - -', '-', '-'],
  ['dataset.data.query', 'Y Y Y Y Y - -', '-', '-'],
  ['dataset.dataset.create', 'Y Y - Y - - -', '-', '-'],
  ['dataset.dataset.delete', 'Y Y - Y - - -', '-', '-'],
  ['dataset.dataset.list', 'Y Y Y Y Y Y Y', '-', '-'],
  ['dataset.dataset.read', 'Y Y Y Y Y Y Y', '-', '-'],
  ['dataset.dataset.update', 'Y Y - Y - - -', '-', '-'],
  ['dataset.profile.read', 'Y Y Y Y Y Y Y', '-', '-'],
  ['dataset.profile.run', 'Y Y Y Y - - -', '-', '-'],
  ['dataset.read.unmasked', '- - - - - - -', '-', '-'],
  ['dataset.upload.cancel', 'Y Y - Y - - -', '-', '-'],
  ['dataset.upload.open', 'Y Y - Y - - -', '-', '-'],
  ['dataset.upload.part', 'Y Y - Y - - -', '-', '-'],
  ['dataset.upload.read', 'Y Y - Y - - -', '-', '-'],
  ['dataset.version.create', 'Y Y - Y - - -', '-', '-'],
  ['dataset.version.delete', 'Y Y - Y - - -', '-', '-'],
  ['dataset.version.read', 'Y Y Y Y Y - -', '-', '-'],
  ['drive.drive.create', 'Y Y - Y - - -', '-', '-'],
  ['drive.drive.delete', 'Y Y - Y - - -', '-', '-'],
  ['drive.drive.list', 'Y Y - Y - - Y', '-', '-'],
  ['drive.drive.read', 'Y Y - Y - - Y', '-', '-'],
  ['drive.drive.test', 'Y Y - Y - - -', '-', '-'],
  ['drive.drive.update', 'Y Y - Y - - -', '-', '-'],
  ['identity.member.list', 'Y Y Y Y Y Y Y', '-', '-'],
  ['identity.membership.update', 'Y Y - - - - -', '-', '-'],
  ['identity.self.logout', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.mfa-activate', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.mfa-enrol', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.mfa-reset', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.mfa-verify', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.password-change', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.read', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.reauth', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.session-list', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.sessions-revoke', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.sso-link', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.token-create', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.token-list', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.token-revoke', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.self.update', 'Y Y Y Y Y Y Y', 'Y', '-'],
  ['identity.service-account.create', 'Y Y - - - - -', '-', '-'],
  ['identity.service-account.disable', 'Y Y - - - - -', '-', '-'],
  ['identity.service-account.list', 'Y Y - - - - Y', '-', '-'],
  ['identity.service-account.update', 'Y Y - - - - -', '-', '-'],
  ['identity.session.list', 'Y Y - - - - Y', '-', '-'],
  ['identity.session.revoke', 'Y Y - - - - -', '-', '-'],
  ['identity.token.create', 'Y Y - - - - -', '-', '-'],
  ['identity.token.list', 'Y Y - - - - Y', '-', '-'],
  ['identity.token.revoke', 'Y Y - - - - -', '-', '-'],
  ['identity.user.create', 'Y Y - - - - -', '-', '-'],
  ['identity.user.disable', 'Y Y - - - - -', '-', '-'],
  ['identity.user.enable', 'Y Y - - - - -', '-', '-'],
  ['identity.user.list', 'Y Y - - - - Y', '-', '-'],
  ['identity.user.mfa-reset', 'Y Y - - - - -', '-', '-'],
  ['identity.user.owner-assign', 'Y - - - - - -', '-', '-'],
  ['identity.user.read', 'Y Y - - - - Y', '-', '-'],
  ['identity.user.role-assign', 'Y Y - - - - -', '-', '-'],
  ['identity.user.update', 'Y Y - - - - -', '-', '-'],
  ['keys.keyring.read', '- - - - - - -', '-', 'Y'],
  ['keys.keyring.rewrap', '- - - - - - -', '-', 'Y'],
  ['keys.keyring.rotate', '- - - - - - -', '-', 'Y'],
  ['keys.root.rotate', '- - - - - - -', '-', 'Y'],
  ['keys.term.retire', '- - - - - - -', '-', 'Y'],
  ['keys.workspace.destroy', '- - - - - - -', '-', 'Y'],
  ['keys.workspace.export', '- - - - - - -', '-', 'Y'],
  ['keys.workspace.read', '- - - - - - -', '-', 'Y'],
  ['keys.workspace.rewrap', '- - - - - - -', '-', 'Y'],
  ['keys.workspace.rotate', '- - - - - - -', '-', 'Y'],
  ['operator.keyring.seal', '- - - - - - -', '-', 'Y'],
  ['operator.keyring.unseal', '- - - - - - -', '-', 'Y'],
  ['operator.sso-provider.create', '- - - - - - -', '-', 'Y'],
  ['operator.sso-provider.delete', '- - - - - - -', '-', 'Y'],
  ['operator.sso-provider.list', '- - - - - - -', '-', 'Y'],
  ['operator.sso-provider.read', '- - - - - - -', '-', 'Y'],
  ['operator.sso-provider.update', '- - - - - - -', '-', 'Y'],
  ['operator.workspace.create', '- - - - - - -', '-', 'Y'],
  ['policy.rule.create', 'Y Y Y - - - -', '-', '-'],
  ['policy.rule.delete', 'Y Y Y - - - -', '-', '-'],
  ['policy.rule.list', 'Y Y Y Y - - Y', '-', '-'],
  ['policy.rule.read', 'Y Y Y Y - - Y', '-', '-'],
  ['policy.rule.update', 'Y Y Y - - - -', '-', '-'],
  ['policy.tag.assign', 'Y Y Y - - - -', '-', '-'],
  ['posture.control.read', 'Y Y - - - - Y', '-', 'Y'],
  ['posture.control.run', 'Y Y - - - - Y', '-', 'Y'],
  ['posture.evidence.export', 'Y Y - - - - Y', '-', 'Y'],
  ['retention.hold.create', '- - - - - - -', '-', 'Y'],
  ['retention.hold.list', '- - - - - - -', '-', 'Y'],
  ['retention.hold.release', '- - - - - - -', '-', 'Y'],
  ['retention.purge.run', '- - - - - - -', '-', 'Y'],
  ['retention.settings.read', '- - - - - - -', '-', 'Y'],
  ['retention.settings.update', '- - - - - - -', '-', 'Y'],
  ['retention.user.erase', '- - - - - - -', '-', 'Y'],
  ['retention.user.export', '- - - - - - -', '-', 'Y'],
  ['retention.workspace.cancel-termination', '- - - - - - -', '-', 'Y'],
  ['retention.workspace.terminate', '- - - - - - -', '-', 'Y'],
  ['scim.config.read', '- - - - - - -', '-', '-'],
  ['scim.group.create', '- - - - - - -', '-', '-'],
  ['scim.group.delete', '- - - - - - -', '-', '-'],
  ['scim.group.list', '- - - - - - -', '-', '-'],
  ['scim.group.read', '- - - - - - -', '-', '-'],
  ['scim.group.update', '- - - - - - -', '-', '-'],
  ['scim.user.create', '- - - - - - -', '-', '-'],
  ['scim.user.delete', '- - - - - - -', '-', '-'],
  ['scim.user.list', '- - - - - - -', '-', '-'],
  ['scim.user.read', '- - - - - - -', '-', '-'],
  ['scim.user.update', '- - - - - - -', '-', '-'],
  ['sso.cli.redeem', '- - - - - - -', '-', '-'],
  ['sso.enforcement.update', 'Y Y - - - - -', '-', '-'],
  ['sso.mapping.update', 'Y Y - - - - -', '-', '-'],
  ['sso.scim-token.revoke', 'Y Y - - - - -', '-', '-'],
  ['sso.scim-token.rotate', 'Y Y - - - - -', '-', '-'],
  ['sso.settings.read', 'Y Y - - - - Y', '-', '-'],
  ['task.log.read', 'Y Y - - - - Y', '-', 'Y'],
  ['task.run.list', 'Y Y - - - - Y', '-', 'Y'],
  ['task.run.read', 'Y Y - - - - Y', '-', 'Y'],
  ['vault.secret.create', 'Y Y - Y - - -', '-', '-'],
  ['vault.secret.delete', 'Y Y - Y - - -', '-', '-'],
  ['vault.secret.destroy', 'Y Y - - - - -', '-', '-'],
  ['vault.secret.list', 'Y Y - Y - - Y', '-', '-'],
  ['vault.secret.read', 'Y Y - Y - - Y', '-', '-'],
  ['vault.secret.reveal', 'Y Y - - - - -', '-', '-'],
  ['vault.secret.undelete', 'Y Y - Y - - -', '-', '-'],
  ['vault.secret.update', 'Y Y - Y - - -', '-', '-'],
  ['workspace.workspace.cancel-termination', 'Y - - - - - -', '-', '-'],
  ['workspace.workspace.delete', 'Y - - - - - -', '-', '-'],
  ['workspace.workspace.read', 'Y Y Y Y Y Y Y', '-', '-'],
  ['workspace.workspace.terminate', 'Y - - - - - -', '-', '-'],
  ['workspace.workspace.update', 'Y Y - - - - -', '-', '-'],
];

const OPERATOR: Actor = {
  id: 'operator',
  kind: 'operator',
  authMethod: 'operator-token',
  roles: ['operator'],
  attributes: {},
};
const user = (
  roles: readonly string[],
  attributes: Actor['attributes'] = { mfa: true },
  workspace: string | null = 'A',
  id = 'u1',
): Actor => ({
  id,
  kind: 'user',
  authMethod: attributes.mfa === true ? 'password+totp' : 'password',
  ...(workspace !== null ? { workspace } : {}),
  roles,
  attributes,
});
const service = (roles: readonly string[], workspaceId = 'A'): Actor => ({
  id: 'sa1',
  kind: 'service',
  authMethod: 'api-token',
  workspace: workspaceId,
  roles,
  attributes: { mfa: true },
});

const ac: AccessControl = createAccessControl();
const schema = loadSchema();
const isSelf = (a: string) => a.startsWith('identity.self.');
const isOperatorOnly = (a: string) => !schema.actions.get(a)!.principalTypes.includes('User');
/** A concrete resource of the action's own type (not the workspace) in workspace `ws`. */
function concrete(action: string, workspaceId: string, tags: string[] = []): ResourceRef | undefined {
  const t = schema.actions
    .get(action)!
    .resourceTypes.find((r) => r !== 'Workspace' && r !== 'System' && r !== 'User' && r !== 'ServiceAccount');
  return t ? { type: t, id: `${t.toLowerCase()}-1`, workspace: workspaceId, tags } : undefined;
}

describe('role × action matrix (route level, the table of docs/security.md)', () => {
  test('the table lists exactly the schema actions', () => {
    assert.deepEqual(
      MATRIX.map((r) => r[0]),
      [...ac.actions],
    );
    assert.ok(ac.actions.length >= 70);
  });

  for (const [action, roles, noRole, op] of MATRIX) {
    test(action, () => {
      const expected = roles.split(' ');
      ROLES.forEach((role, i) => {
        const d = ac.authorize(user([role]), action);
        assert.equal(d.allowed, expected[i] === 'Y', `${role} ${action}: ${d.reason}`);
        if (d.allowed) assert.ok(d.policies.length > 0 && d.reason.startsWith('permitted by '), d.reason);
        // A service account with the role gets the same, except the user-only self actions.
        if (!isSelf(action))
          assert.equal(ac.authorize(service([role]), action).allowed, expected[i] === 'Y', `service ${role} ${action}`);
      });
      assert.equal(ac.authorize(user([]), action).allowed, noRole === 'Y', `no role ${action}`);
      assert.equal(
        ac.authorize(user(['analyst'], { mfa: true }, null), action).allowed,
        noRole === 'Y',
        `no workspace ${action}`,
      );
      assert.equal(ac.authorize(OPERATOR, action).allowed, op === 'Y', `operator ${action}`);
    });
  }

  test('the same holds with a concrete resource of the action’s type in the workspace', () => {
    for (const [action, roles] of MATRIX) {
      const r = concrete(action, 'A');
      if (!r || isOperatorOnly(action) || isSelf(action)) continue;
      const expected = roles.split(' ');
      ROLES.forEach((role, i) =>
        assert.equal(
          ac.authorize(user([role]), action, r).allowed,
          expected[i] === 'Y',
          `${role} ${action} on ${r.type}`,
        ),
      );
    }
  });

  test('docs/security.md carries the same table', () => {
    const doc = readFileSync(new URL('../docs/security.md', import.meta.url), 'utf8');
    const rows = doc
      .split('\n')
      .map((l) => /^\| `([a-z.-]+)` \|(.*)\|\s*$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && schema.actions.has(m[1]!))
      .map((m) => [m[1]!, m[2]!.split('|').map((c) => (c.trim() === '✓' ? 'Y' : '-'))] as const);
    assert.deepEqual(
      rows.map(([a, cells]) => [a, cells.join(' ')]),
      MATRIX.map(([a, roles, noRole, op]) => [a, `${roles} ${noRole} ${op}`]),
    );
  });

  test('every action a route or audit event declares in src/ exists in the schema', () => {
    const found = new Set<string>();
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = path.join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.routes.ts')) {
          const src = readFileSync(p, 'utf8');
          // Every `action: '…'` of a declaration (whatever the formatting), and actions a loader
          // chooses (`action: prior ? 'a.b.c' : 'a.b.d'`).
          for (const m of src.matchAll(/\baction:\s*([^,\n}]+)/g))
            for (const a of m[1]!.matchAll(/'([a-z]+(?:\.[a-z-]+){2})'/g)) found.add(a[1]!);
        }
      }
    };
    walk(new URL('../src', import.meta.url).pathname);
    assert.ok(
      found.has('keys.keyring.rotate') && found.has('audit.event.list') && found.size >= 50,
      `the scan finds route actions (${found.size})`,
    );
    const missing = [...found].filter((a) => !ac.actions.includes(a));
    assert.deepEqual(missing, [], 'route actions missing from schema.cedarschema');
  });
});

describe('workspaces', () => {
  test('a role in workspace A gives nothing in workspace B', () => {
    for (const [action] of MATRIX) {
      if (isSelf(action) || isOperatorOnly(action)) continue;
      for (const role of ROLES) {
        const a = user([role]);
        assert.equal(
          ac.authorize(a, action, { type: 'workspace', id: 'B' }).allowed,
          false,
          `${role} ${action} on workspace B`,
        );
        const r = concrete(action, 'B');
        if (r) assert.equal(ac.authorize(a, action, r).allowed, false, `${role} ${action} on ${r.type} in B`);
      }
    }
  });

  test('identity.self.* applies to one’s own account only', () => {
    assert.ok(ac.authorize(user(['viewer']), 'identity.self.read', { type: 'user', id: 'u1' }).allowed);
    const other = ac.authorize(user(['owner']), 'identity.self.read', { type: 'user', id: 'u2', workspace: 'A' });
    assert.equal(other.allowed, false);
    assert.equal(ac.authorize(service(['viewer']), 'identity.self.read').allowed, true);
    assert.match(
      ac.authorize(service(['viewer']), 'identity.self.token-create').reason,
      /not available to service actors/,
    );
  });

  test('a resource of a workspace-scoped type that names no workspace is denied', () => {
    assert.match(
      ac.authorize(user(['owner']), 'vault.secret.read', { type: 'secret', id: 's1' }).reason,
      /must name its workspace/,
    );
  });

  test('property: without a role in a workspace, no workspace-scoped action is ever allowed there', () => {
    const wsActions = ac.actions.filter((a) => !isSelf(a) && !isOperatorOnly(a));
    const role = fc.constantFrom(...ROLES, 'operator', 'Owner', 'root', '');
    fc.assert(
      fc.property(
        fc.constantFrom(...wsActions),
        fc.constantFrom('A', 'B', 'C'),
        fc.option(fc.constantFrom('A', 'B', 'C'), { nil: undefined }),
        fc.array(role, { maxLength: 4 }),
        fc.constantFrom<'user' | 'service'>('user', 'service'),
        fc.record({
          clearance: fc.integer({ min: -1, max: 9 }),
          mfa: fc.boolean(),
          region: fc.constantFrom('eu', 'us', ''),
        }),
        fc.subarray(['pii', 'eu-only', 'public']),
        fc.boolean(),
        (action, target, actorWs, roles, kind, attributes, tags, useConcrete) => {
          // The actor has no role in `target`: either it acts in another workspace (or none), or
          // it acts in `target` with an empty role set.
          const actor: Actor = {
            id: 'x',
            kind,
            ...(actorWs ? { workspace: actorWs } : {}),
            roles: actorWs === target ? [] : roles,
            attributes,
          };
          const resource = useConcrete
            ? (concrete(action, target, tags) ?? { type: 'workspace', id: target })
            : { type: 'workspace', id: target };
          const d = ac.authorize(actor, action, resource);
          assert.equal(d.allowed, false, `${JSON.stringify(actor)} ${action} ${JSON.stringify(resource)}: ${d.reason}`);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('attribute rules (ABAC) and guard rails', () => {
  const pii: ResourceRef = { type: 'dataset', id: 'd1', workspace: 'A', tags: ['pii'] };

  test('a pii-tagged dataset needs clearance ≥ 2 AND a second factor', () => {
    const cases: Array<[clearance: unknown, mfa: boolean, allowed: boolean]> = [
      [0, false, false],
      [0, true, false],
      [1, true, false],
      [2, false, false],
      [2, true, true],
      [3, true, true],
      [5, false, false],
    ];
    for (const [clearance, mfa, allowed] of cases) {
      for (const action of ['dataset.version.read', 'dataset.data.query', 'dataset.data.export']) {
        const d = ac.authorize(user(['analyst'], { clearance: clearance as number, mfa }), action, pii);
        assert.equal(d.allowed, allowed, `clearance ${String(clearance)} mfa ${mfa} ${action}: ${d.reason}`);
        if (!allowed) assert.deepEqual(d.policies, ['abac.pii-needs-clearance-and-mfa']);
      }
    }
    // Metadata of the same dataset stays readable; the rule is on content.
    assert.ok(ac.authorize(user(['viewer'], { clearance: 0, mfa: false }), 'dataset.dataset.read', pii).allowed);
    // An owner is no exception.
    assert.equal(
      ac.authorize(user(['owner'], { clearance: 0, mfa: true }), 'dataset.version.read', pii).allowed,
      false,
    );
  });

  test('badly typed attributes never widen access (normalised before Cedar sees them)', () => {
    for (const clearance of ['high', '2.5', -3, 1e20, true, Number.NaN]) {
      const d = ac.authorize(
        user(['analyst'], { clearance: clearance as never, mfa: true }),
        'dataset.version.read',
        pii,
      );
      assert.equal(d.allowed, false, `clearance ${String(clearance)}`);
    }
    assert.equal(
      ac.authorize(user(['analyst'], { clearance: '3', mfa: true }), 'dataset.version.read', pii).allowed,
      true,
      'a numeric string is a number',
    );
    assert.equal(
      ac.authorize(user(['analyst'], { clearance: 3, mfa: 'yes' as never }), 'dataset.version.read', pii).allowed,
      false,
      'mfa must be true',
    );
  });

  test('an eu-only dataset needs region eu', () => {
    const r: ResourceRef = { type: 'dataset', id: 'd2', workspace: 'A', tags: ['eu-only'] };
    assert.equal(ac.authorize(user(['analyst'], { region: 'eu' }), 'dataset.version.read', r).allowed, true);
    assert.equal(ac.authorize(user(['analyst'], { region: 'us' }), 'dataset.version.read', r).allowed, false);
    assert.equal(ac.authorize(user(['analyst'], {}), 'dataset.version.read', r).allowed, false);
  });

  test('revealing a secret needs a second factor, whatever the role', () => {
    const s: ResourceRef = { type: 'secret', id: 's1', workspace: 'A' };
    assert.equal(ac.authorize(user(['owner'], { mfa: true }), 'vault.secret.reveal', s).allowed, true);
    const d = ac.authorize({ ...user(['owner'], { mfa: false }), authMethod: 'password' }, 'vault.secret.reveal', s);
    assert.deepEqual([d.allowed, d.policies], [false, ['guard.reveal-needs-mfa']]);
    assert.equal(
      ac.authorize({ ...user(['admin'], {}), authMethod: 'password+totp' }, 'vault.secret.reveal', s).allowed,
      true,
      'a TOTP auth method counts',
    );
    assert.equal(
      ac.authorize(user(['engineer']), 'vault.secret.reveal', s).allowed,
      false,
      'engineers only by a workspace policy',
    );
  });
});

describe('operator, anonymous and unknown actions (default deny)', () => {
  test('the operator keeps exactly its interim rights: keys.*, audit.*, backups.*, retention.*, operator.*, posture.*, task.* and nothing else', () => {
    const interim = /^(keys|audit|backups|retention|operator|posture|task)\.[a-z-]+\.[a-z-]+$/;
    for (const action of ac.actions) {
      assert.equal(ac.authorize(OPERATOR, action).allowed, interim.test(action), action);
      // Routes with a :ws parameter give the operator a workspace; nothing changes.
      assert.equal(
        ac.authorize({ ...OPERATOR, workspace: 'A' }, action).allowed,
        interim.test(action),
        `${action} with workspace`,
      );
    }
    assert.ok(ac.authorize(OPERATOR, 'keys.keyring.rotate', { type: 'keyring', id: 'root' }).allowed);
    assert.ok(ac.authorize(OPERATOR, 'keys.term.retire', { type: 'key-term', id: '3' }).allowed);
    assert.ok(
      ac.authorize(OPERATOR, 'keys.workspace.destroy', { type: 'workspace-key', id: 'A', workspace: 'A' }).allowed,
    );
    assert.equal(ac.authorize(OPERATOR, 'keys.keyring.rotate').reason, 'permitted by operator.actions');
    // The module-level authorize() every existing caller uses behaves the same.
    assert.ok(authorize(OPERATOR, 'keys.keyring.rotate').allowed);
    assert.equal(authorize(OPERATOR, 'vault.secret.read').allowed, false);
  });

  test('users never get operator actions, whatever their roles (even one named "operator")', () => {
    for (const action of ac.actions.filter(isOperatorOnly)) {
      assert.equal(ac.authorize(user(['owner', 'admin', 'operator']), action).allowed, false, action);
    }
  });

  test('anonymous and system actors are denied everything', () => {
    const anon: Actor = {
      id: 'anonymous',
      kind: 'anonymous',
      roles: ['owner'],
      workspace: 'A',
      attributes: { mfa: true },
    };
    const sys: Actor = { id: 'system', kind: 'system', roles: ['owner'], workspace: 'A', attributes: {} };
    for (const action of ac.actions) {
      assert.deepEqual(ac.authorize(anon, action), { allowed: false, reason: 'not authenticated', policies: [] });
      assert.equal(ac.authorize(sys, action).allowed, false);
    }
  });

  test('unknown actions, action groups and unknown resource types are denied, never thrown', () => {
    for (const action of [
      'vault.secret.steal',
      'group:operator',
      'keys.x.y',
      '',
      'Action::"keys.keyring.rotate"',
      '__proto__',
      'constructor',
    ]) {
      assert.deepEqual(
        ac.authorize(OPERATOR, action),
        { allowed: false, reason: 'unknown action', policies: [] },
        action,
      );
    }
    assert.match(
      ac.authorize(user(['owner']), 'vault.secret.read', { type: 'spaceship', id: 'x', workspace: 'A' }).reason,
      /unknown resource type/,
    );
    assert.match(
      ac.authorize(user(['owner']), 'vault.secret.read', { type: 'dataset', id: 'x', workspace: 'A' }).reason,
      /does not apply to Dataset/,
    );
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.option(fc.string()),
        fc.array(fc.string(), { maxLength: 3 }),
        (action, type, id, tags) => {
          const d = ac.authorize(user(['owner']), action, {
            type,
            ...(id !== null ? { id } : {}),
            workspace: 'A',
            tags,
          });
          assert.equal(typeof d.allowed, 'boolean');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('policy validation', () => {
  test('the built-in policies load, validate and have stable ids', () => {
    assert.deepEqual([...ac.builtinPolicyIds].sort(), [
      'abac.eu-only-needs-eu-region',
      'abac.pii-needs-clearance-and-mfa',
      'guard.admin-only',
      'guard.owner-only',
      'guard.reveal-needs-mfa',
      'operator.actions',
      'rbac.admin',
      'rbac.analyst',
      'rbac.auditor',
      'rbac.engineer',
      'rbac.owner',
      'rbac.steward',
      'rbac.viewer',
      'self.own-account',
    ]);
  });

  test('a built-in policy that does not validate stops creation with a clear message', () => {
    const bad = '@id("rbac.typo")\npermit (principal, action == Action::"vault.secret.raed", resource);';
    assert.throws(
      () => createAccessControl({ builtinPolicies: [...readBuiltinPolicies(), { origin: 'typo.cedar', text: bad }] }),
      (err: unknown) =>
        err instanceof AccessPolicyError &&
        /do not validate against the schema/.test(err.message) &&
        /rbac\.typo/.test(err.message) &&
        /vault\.secret\.read/.test(err.message),
    );
    const typeError = '@id("abac.bad-type")\nforbid (principal, action, resource) when { principal.clearance > "2" };';
    assert.throws(
      () => createAccessControl({ builtinPolicies: [{ origin: 'bad.cedar', text: typeError }] }),
      /abac\.bad-type/,
    );
    assert.throws(
      () => createAccessControl({ builtinPolicies: [{ origin: 'broken.cedar', text: 'permit (principal,' }] }),
      /broken\.cedar does not parse/,
    );
    const dup = '@id("x")\npermit (principal is Operator, action == Action::"keys.keyring.read", resource);';
    assert.throws(
      () =>
        createAccessControl({
          builtinPolicies: [
            { origin: 'a.cedar', text: dup },
            { origin: 'b.cedar', text: dup },
          ],
        }),
      /used twice/,
    );
  });

  test('validatePolicy rejects bad text with a useful message, and accepts good text', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /empty/],
      ['permit (principal, action, resource', /line 1, column \d+: .*unexpected end of input/],
      [
        'permit (principal, action == Action::"vault.secret.revael", resource);',
        /line 1, column \d+: unrecognized action `Action::"vault.secret.revael"` \(did you mean/,
      ],
      [
        'permit (principal is User, action, resource)\nwhen { principal.clearance > "x" };',
        /line 2, column \d+: .*expected Long but saw String/,
      ],
      [
        'permit (principal is User, action, resource) when { principal.nickname == "x" };',
        /attribute `nickname` on entity type `User` not found/,
      ],
      ['permit (principal == ?principal, action, resource);', /template/],
      ['x'.repeat(20_001), /longer than/],
    ];
    for (const [text, re] of cases) {
      const v = ac.validatePolicy(text, 'A');
      assert.equal(v.ok, false, text.slice(0, 60));
      assert.match(v.errors.join('\n'), re, text.slice(0, 60));
    }
    assert.deepEqual(
      ac.validatePolicy(
        'permit (principal, action == Action::"vault.secret.reveal", resource is Secret)\nwhen { principal.roles.contains("engineer") };',
        'A',
      ),
      { ok: true, errors: [] },
    );
  });
});

describe('workspace policies', () => {
  const reveal = {
    id: 'p1',
    text: 'permit (principal, action == Action::"vault.secret.reveal", resource) when { principal.roles.contains("engineer") };',
  };
  const noExport = {
    id: 'p2',
    text: 'forbid (principal, action == Action::"dataset.data.export", resource) unless { principal.roles.contains("owner") };',
  };

  test('apply only inside their own workspace', () => {
    const w = createAccessControl({ workspacePolicies: { A: [reveal, noExport] } });
    const engA = user(['engineer']);
    const engB = user(['engineer'], { mfa: true }, 'B');
    assert.ok(
      w.authorize(engA, 'vault.secret.reveal', { type: 'secret', id: 's', workspace: 'A' }).allowed,
      'A policy grants reveal in A',
    );
    assert.match(
      w.authorize(engA, 'vault.secret.reveal', { type: 'secret', id: 's', workspace: 'A' }).reason,
      /^permitted by ws:A:p1#0$/,
    );
    assert.equal(
      w.authorize(engB, 'vault.secret.reveal', { type: 'secret', id: 's', workspace: 'B' }).allowed,
      false,
      'not in B',
    );
    assert.equal(
      w.authorize(engA, 'vault.secret.reveal', { type: 'secret', id: 's', workspace: 'B' }).allowed,
      false,
      'not on a B resource from A',
    );
    assert.equal(w.authorize(user(['analyst']), 'dataset.data.export').allowed, false, 'A forbids export');
    assert.equal(
      w.authorize(user(['analyst'], { mfa: true }, 'B'), 'dataset.data.export').allowed,
      true,
      'B unaffected',
    );
    assert.equal(w.authorize(user(['owner']), 'dataset.data.export').allowed, true);
    // The guard rail still holds: no reveal without MFA, even where a policy permits it.
    assert.equal(
      w.authorize(user(['engineer'], { mfa: false }), 'vault.secret.reveal', {
        type: 'secret',
        id: 's',
        workspace: 'A',
      }).allowed,
      false,
    );
  });

  test('cannot reach the operator, operator actions, guard rails or other workspaces', () => {
    const w = createAccessControl({
      workspacePolicies: {
        A: [
          { id: 'all', text: 'permit (principal, action, resource);' },
          {
            id: 'deny-all',
            text: 'forbid (principal, action, resource) when { context.authMethod == "operator-token" };',
          },
        ],
      },
    });
    const viewer = user(['viewer']);
    assert.ok(w.authorize(viewer, 'dataset.version.read').allowed, 'permit-all works inside A');
    assert.equal(w.authorize(viewer, 'keys.keyring.rotate').allowed, false, 'no operator action for a user');
    assert.equal(
      w.authorize(viewer, 'keys.workspace.destroy', { type: 'workspace-key', id: 'A', workspace: 'A' }).allowed,
      false,
    );
    assert.equal(w.authorize(viewer, 'access.policy.create').allowed, false, 'guard.admin-only holds');
    assert.equal(w.authorize(viewer, 'identity.user.owner-assign').allowed, false, 'guard.owner-only holds');
    assert.equal(
      w.authorize(user(['viewer'], { mfa: true }, 'B'), 'dataset.version.read').allowed,
      false,
      'B unaffected',
    );
    for (const action of ac.actions) {
      assert.equal(
        w.authorize({ ...OPERATOR, workspace: 'A' }, action).allowed,
        ac.authorize(OPERATOR, action).allowed,
        `operator ${action}`,
      );
    }
  });

  test('property: a workspace’s policies never change decisions outside it', () => {
    const w = createAccessControl({
      workspacePolicies: { A: [{ id: 'all', text: 'permit (principal, action, resource);' }, noExport] },
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...ac.actions),
        fc.constantFrom('B', 'C'),
        fc.subarray([...ROLES]),
        fc.record({ clearance: fc.integer({ min: 0, max: 3 }), mfa: fc.boolean() }),
        fc.boolean(),
        (action, ws, roles, attributes, useConcrete) => {
          const actor = user(roles, attributes, ws);
          const r = useConcrete ? concrete(action, ws) : undefined;
          assert.deepEqual(w.authorize(actor, action, r), ac.authorize(actor, action, r));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('invalid workspace policies lock that workspace instead of being half-applied', () => {
    const w = createAccessControl();
    const r = w.setWorkspacePolicies('A', [
      { id: 'bad', text: 'permit (principal, action == Action::"nope", resource);' },
    ]);
    assert.equal(r.ok, false);
    assert.match(w.authorize(user(['owner']), 'dataset.dataset.read').reason, /do not validate/);
    assert.ok(w.authorize(user(['owner'], { mfa: true }, 'B'), 'dataset.dataset.read').allowed);
    assert.ok(w.setWorkspacePolicies('A', []).ok);
    assert.ok(w.authorize(user(['owner']), 'dataset.dataset.read').allowed);
  });
});

describe('pre-parsed policies', () => {
  test('decisions parse nothing: the pre-parse count stays fixed while decisions run', () => {
    const w = createAccessControl({
      workspacePolicies: {
        A: [{ id: 'p', text: 'permit (principal, action == Action::"vault.secret.reveal", resource);' }],
      },
    });
    const before = w.stats();
    assert.equal(before.preparses, 2, 'built-in set + workspace A, once each');
    for (let i = 0; i < 200; i++)
      // (action, role) distinct for every i whatever the number of actions (no common period).
      w.authorize(
        user([ROLES[Math.floor(i / ac.actions.length) % ROLES.length]!], { mfa: true }, i % 2 ? 'A' : 'B'),
        ac.actions[i % ac.actions.length]!,
      );
    const after = w.stats();
    assert.equal(after.preparses, before.preparses);
    assert.ok(after.decisions - before.decisions >= 150, 'the Cedar engine was asked');
    w.setWorkspacePolicies('A', [{ id: 'p', text: 'forbid (principal, action, resource);' }]);
    assert.equal(w.stats().preparses, before.preparses + 1, 'a policy change re-parses once');
  });

  test('memoised decisions are exact: the same answer as another engine for every input, Cedar asked once per distinct request', () => {
    const w = createAccessControl();
    const ref = createAccessControl();
    const secret = (tags?: string[]): ResourceRef => ({
      type: 'secret',
      id: 's1',
      workspace: 'A',
      ...(tags ? { tags } : {}),
    });
    const questions: [string, ResourceRef | undefined][] = [
      ['vault.secret.reveal', undefined],
      ['vault.secret.reveal', secret()],
      ['vault.secret.reveal', secret(['pii'])],
      ['vault.secret.read', secret(['pii', 'eu-only'])],
      ['dataset.dataset.read', { type: 'dataset', id: 'd', workspace: 'A', tags: ['eu-only'] }],
      ['dataset.data.query', undefined],
    ];
    const seen = new Set<string>();
    const RUNS = 200;
    fc.assert(
      fc.property(
        fc.constantFrom(...ROLES),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.constantFrom('eu', 'us', ''),
        fc.constantFrom('A', 'B'),
        fc.integer({ min: 0, max: questions.length - 1 }),
        (role, clearance, mfa, region, ws, q) => {
          const actor = user([role], { clearance, mfa, region }, ws);
          const [action, resource] = questions[q]!;
          seen.add(JSON.stringify([role, clearance, mfa, region, ws, q]));
          const expected = { ...ref.authorize(actor, action, resource) };
          assert.deepEqual({ ...w.authorize(actor, action, resource) }, expected);
          assert.deepEqual({ ...w.authorize(actor, action, resource) }, expected, 'and again (from the memo)');
        },
      ),
      { numRuns: RUNS },
    );
    const { decisions, memoHits } = w.stats();
    assert.equal(decisions + memoHits, 2 * RUNS, 'every question was answered by Cedar or the memo');
    assert.ok(memoHits >= RUNS, 'every repeated question came from the memo');
    assert.ok(
      decisions <= seen.size,
      `Cedar was asked at most once per distinct question (${decisions} for ${seen.size})`,
    );
    const d = w.authorize(user(['owner']), 'vault.secret.reveal', secret());
    assert.ok(Object.isFrozen(d) && Object.isFrozen(d.policies), 'memoised decisions cannot be altered by a caller');
  });

  test('memoised decisions never outlive a policy change: permit → forbid → removed, each seen by the very next decision', () => {
    const w = createAccessControl();
    const owner = user(['owner']);
    const secret: ResourceRef = { type: 'secret', id: 'team/db', workspace: 'A' };
    assert.ok(w.authorize(owner, 'vault.secret.reveal', secret).allowed);
    assert.ok(w.authorize(owner, 'vault.secret.reveal', secret).allowed);
    assert.ok(w.stats().memoHits >= 1);
    // The workspace's set is replaced in place (same set id): the memo must not answer from the old one.
    const other = 'forbid (principal, action == Action::"vault.secret.reveal", resource == Secret::"team/other");';
    assert.ok(w.setWorkspacePolicies('A', [{ id: 'other', text: other }]).ok);
    assert.ok(w.authorize(owner, 'vault.secret.reveal', secret).allowed);
    assert.ok(w.authorize(owner, 'vault.secret.reveal', secret).allowed);
    assert.ok(
      w.setWorkspacePolicies('A', [
        { id: 'other', text: other },
        {
          id: 'lock',
          text: 'forbid (principal, action == Action::"vault.secret.reveal", resource == Secret::"team/db");',
        },
      ]).ok,
    );
    assert.match(w.authorize(owner, 'vault.secret.reveal', secret).reason, /forbidden by ws:A:lock/);
    assert.equal(
      w.setWorkspacePolicies('A', [{ id: 'bad', text: 'permit (principal, action == Action::"nope", resource);' }]).ok,
      false,
    );
    assert.match(
      w.authorize(owner, 'vault.secret.reveal', secret).reason,
      /do not validate/,
      'a locked workspace denies',
    );
    assert.ok(w.setWorkspacePolicies('A', []).ok);
    assert.ok(w.authorize(owner, 'vault.secret.reveal', secret).allowed, 'back to the built-ins');
    // Roles, attributes and tags are part of the question: a change in any of them is a new one.
    assert.equal(w.authorize(user(['viewer']), 'vault.secret.reveal', secret).allowed, false);
    assert.equal(w.authorize(owner, 'vault.secret.reveal', { ...secret, tags: ['pii'] }).allowed, false);
    assert.ok(
      w.authorize(user(['owner'], { mfa: true, clearance: 2 }), 'vault.secret.reveal', { ...secret, tags: ['pii'] })
        .allowed,
    );
  });

  test('the memo is bounded', () => {
    const w = createAccessControl();
    for (let i = 0; i < 5000; i++)
      w.authorize(user(['owner'], { mfa: true }, 'A', `u${i}`), 'vault.secret.reveal', {
        type: 'secret',
        id: `s${i}`,
        workspace: 'A',
      });
    assert.ok(w.stats().memoEntries <= 4096, `${w.stats().memoEntries} entries`);
    assert.ok(
      w.authorize(user(['owner'], { mfa: true }, 'A', 'u4999'), 'vault.secret.reveal', {
        type: 'secret',
        id: 's4999',
        workspace: 'A',
      }).allowed,
    );
  });
});
