/**
 * Workspace policies in the database (migration 0005) on both backends: validated before they
 * are saved, applied only after their transaction commits, confined to their workspace, removed
 * only from their own workspace, reloaded by a fresh instance, and a stored policy that no longer
 * validates locks its workspace instead of being half-applied.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { Actor } from '../src/core/actor.ts';
import { AppError } from '../src/core/errors.ts';
import type { Transact } from '../src/db/transact.ts';
import {
  createAccessControl,
  createAccessService,
  reload,
  type AccessControl,
  type AccessService,
} from '../src/modules/access/index.ts';
import { BACKENDS, createTestDatabase, postgresAvailable, type Backend } from './helpers/db.ts';
import { requirePeer } from './helpers/peers.ts';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;

const engineer = (workspaceId: string): Actor => ({
  id: 'u-eng',
  kind: 'user',
  authMethod: 'password+totp',
  workspace: workspaceId,
  roles: ['engineer'],
  attributes: { mfa: true },
});
const secret = (workspaceId: string) => ({ type: 'secret', id: 's1', workspace: workspaceId });
const REVEAL =
  'permit (principal, action == Action::"vault.secret.reveal", resource is Secret)\nwhen { principal.roles.contains("engineer") };';

async function withDb(
  t: TestContext,
  backend: Backend,
  body: (db: Db, ac: AccessControl, policies: AccessService) => Promise<void>,
): Promise<void> {
  if (
    backend === 'postgres' &&
    !requirePeer(t, 'PostgreSQL', await postgresAvailable(), 'start it: pg_ctlcluster 15 main start')
  )
    return;
  const db = await createTestDatabase(backend);
  try {
    const ac = createAccessControl();
    await body(db, ac, createAccessService({ db: db.db, accessControl: ac }));
  } finally {
    await db.close();
  }
}

for (const backend of BACKENDS) {
  describe(`workspace policies on ${backend}`, () => {
    test('add: validated first, applied at once, only in its workspace; remove undoes it', (t) =>
      withDb(t, backend, async (_db, ac, policies) => {
        assert.equal(ac.authorize(engineer('A'), 'vault.secret.reveal', secret('A')).allowed, false);
        const bad = await policies
          .add({
            workspaceId: 'A',
            text: 'permit (principal, action == Action::"vault.secret.peek", resource);',
            createdBy: 'u-admin',
          })
          .catch((e: unknown) => e);
        assert.ok(bad instanceof AppError && bad.code === 'VALIDATION_FAILED');
        assert.match(String((bad.meta?.errors as string[])[0]), /line 1, column \d+: unrecognized action/);
        assert.deepEqual(await policies.list('A'), [], 'nothing stored');

        const p = await policies.add({ workspaceId: 'A', text: REVEAL, createdBy: 'u-admin' });
        assert.equal(p.workspace, 'A');
        assert.equal(p.createdBy, 'u-admin');
        assert.ok(p.createdAt instanceof Date);
        assert.deepEqual(
          (await policies.list('A')).map((x) => x.id),
          [p.id],
        );
        assert.deepEqual(await policies.list('B'), []);
        assert.ok(ac.authorize(engineer('A'), 'vault.secret.reveal', secret('A')).allowed, 'applied in A');
        assert.equal(ac.authorize(engineer('B'), 'vault.secret.reveal', secret('B')).allowed, false, 'not in B');

        await assert.rejects(
          policies.remove({ workspaceId: 'B', id: p.id }),
          (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND',
          'B cannot remove A’s policy',
        );
        await policies.remove({ workspaceId: 'A', id: p.id });
        assert.deepEqual(await policies.list('A'), []);
        assert.equal(ac.authorize(engineer('A'), 'vault.secret.reveal', secret('A')).allowed, false, 'removed');
      }));

    test('fail-closed: when the caller’s transaction (with the audit event) fails, nothing is stored or applied', (t) =>
      withDb(t, backend, async ({ db }, ac, policies) => {
        // The caller's transaction fails after the work, as when its audit event cannot be written.
        const hook: Transact = (work) =>
          db.transaction().execute(async (trx) => {
            await work(trx);
            throw new AppError('AUDIT_UNAVAILABLE');
          });
        await assert.rejects(
          policies.add({ workspaceId: 'A', text: REVEAL, createdBy: 'u-admin' }, hook),
          /cannot record|AUDIT/i,
        );
        assert.deepEqual(await policies.list('A'), []);
        assert.equal(ac.authorize(engineer('A'), 'vault.secret.reveal', secret('A')).allowed, false);

        const p = await policies.add({ workspaceId: 'A', text: REVEAL, createdBy: 'u-admin' });
        await assert.rejects(policies.remove({ workspaceId: 'A', id: p.id }, hook));
        assert.equal((await policies.list('A')).length, 1, 'still there');
        assert.ok(ac.authorize(engineer('A'), 'vault.secret.reveal', secret('A')).allowed, 'still applied');
      }));

    test('reload: a fresh instance loads every workspace; a policy deleted elsewhere is dropped', (t) =>
      withDb(t, backend, async ({ db }, ac, policies) => {
        const p = await policies.add({ workspaceId: 'A', text: REVEAL, createdBy: 'u-admin' });
        await policies.add({
          workspaceId: 'C',
          text: 'forbid (principal, action == Action::"dataset.data.export", resource);',
          createdBy: 'u-admin',
        });
        const fresh = createAccessControl();
        assert.deepEqual(await reload(db, fresh), { workspaces: 2, policies: 2, locked: [] });
        assert.ok(fresh.authorize(engineer('A'), 'vault.secret.reveal', secret('A')).allowed);
        await db.deleteFrom('workspace_policies').where('id', '=', p.id).execute(); // another instance removed it
        assert.deepEqual(await reload(db, fresh), { workspaces: 2, policies: 1, locked: [] });
        assert.equal(fresh.authorize(engineer('A'), 'vault.secret.reveal', secret('A')).allowed, false);
      }));

    test('a stored policy that no longer validates locks its workspace only', (t) =>
      withDb(t, backend, async ({ db }, ac) => {
        await db
          .insertInto('workspace_policies')
          .values({
            id: 'legacy',
            workspace_id: 'A',
            text: 'permit (principal, action == Action::"vault.secret.gone", resource);',
            created_by: 'u-admin',
          })
          .execute();
        const r = await reload(db, ac);
        assert.equal(r.locked.length, 1);
        assert.equal(r.locked[0]!.workspace, 'A');
        assert.match(r.locked[0]!.errors.join(' '), /vault\.secret\.gone/);
        const owner = (workspaceId: string): Actor => ({
          id: 'o',
          kind: 'user',
          workspace: workspaceId,
          roles: ['owner'],
          attributes: { mfa: true },
        });
        assert.equal(ac.authorize(owner('A'), 'dataset.dataset.read').allowed, false);
        assert.ok(ac.authorize(owner('B'), 'dataset.dataset.read').allowed);
      }));

    test('workspace ids are checked', (t) =>
      withDb(t, backend, async (_db, _ac, policies) => {
        await assert.rejects(
          policies.list('../x'),
          (e: unknown) => e instanceof AppError && e.code === 'VALIDATION_FAILED',
        );
        await assert.rejects(
          policies.add({ workspaceId: '', text: REVEAL, createdBy: 'u' }),
          (e: unknown) => e instanceof AppError && e.code === 'VALIDATION_FAILED',
        );
      }));
  });
}
