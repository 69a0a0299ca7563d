/**
 * The opened keyed-hash key does not outlive a seal (issue 17): the policies service caches the
 * workspace's opened HMAC key (padded forms, inside compiled plans) for reads, and an operator
 * seal must drop it — at the seal (`forgetKeys`, wired to `keys.onSeal`) and, failing that, at
 * the first read that finds the barrier sealed. Observed through the barrier: after the seal and
 * an unseal, the next read opens the sealed key again instead of reusing the one from before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Actor } from '../src/core/actor.ts';
import { createBarrier, type Barrier } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';
import type { PolicyBody } from '../src/contracts/policies.ts';
import { createPoliciesService } from '../src/modules/policies/policies.service.ts';
import { openParser } from '../src/modules/query/query.engine.ts';
import { createTestDatabase } from './helpers/db.ts';

describe('keyed-hash key cache and seal', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let parser: Awaited<ReturnType<typeof openParser>>;
  let ring = Keyring.create();
  const real = createBarrier({ keyring: ring });
  let opened = 0;
  // The barrier the service sees: the real one, counting how often a sealed value is opened.
  const barrier = {
    get isSealed() {
      return real.isSealed;
    },
    open: (ct: Buffer, ctx: Parameters<Barrier['open']>[1]) => {
      opened += 1;
      return real.open(ct, ctx);
    },
    seal: (pt: Buffer, ctx: Parameters<Barrier['seal']>[1]) => real.seal(pt, ctx),
  } as unknown as Barrier;
  let service: ReturnType<typeof createPoliciesService>;
  const reader: Actor = { id: 'u1', kind: 'user', roles: ['analyst'], attributes: {} };
  const source = { workspaceId: 'default', dataset: 'people', tags: [] };
  /** A copy of the keyring as the operator would bring it back (the live one is wiped at seal). */
  const copyOf = (k: Keyring) => Keyring.fromRecords(k.recordsForSealing());

  before(async () => {
    db = await createTestDatabase('pglite');
    parser = await openParser();
    service = createPoliciesService({
      db: db.db,
      barrier,
      authorize: () => false,
      serialize: parser.serialize,
      tagsOf: async () => [],
    });
    const body = {
      target: { dataset: 'people' },
      description: '',
      hide: [],
      masks: [{ column: 'ssn', kind: 'keyed_hash' }],
    } as PolicyBody;
    await service.save({ ws: 'default', name: 'hash-ssn', body, dryRun: false, actor: 'test' });
  });
  after(async () => {
    parser.close();
    await db.close();
  });

  test('plans reuse the opened key while unsealed', async () => {
    const first = await service.lookup.planFor(reader, source, 'sr_0_');
    assert.ok(first?.cacheId, 'the plan carries a keyed hash');
    const before = opened;
    const again = await service.lookup.planFor(reader, source, 'sr_0_');
    assert.equal(opened, before, 'the second read reuses the opened key');
    assert.deepEqual(again, first);
  });

  test('operator seal (forgetKeys at the seal): the next read after unseal opens the key again', async () => {
    await service.lookup.planFor(reader, source, 'sr_0_');
    const kept = copyOf(ring);
    service.forgetKeys(); // keys.onSeal
    real.sealAndWipe();
    real.unseal(kept); // no read while sealed: only the seal itself can have dropped the key
    ring = kept;
    const before = opened;
    const plan = await service.lookup.planFor(reader, source, 'sr_0_');
    assert.equal(opened, before + 1, 'the key was opened again: nothing from before the seal was reused');
    assert.ok(plan?.cacheId);
  });

  test('a read that finds the barrier sealed drops the opened key too (no listener ran)', async () => {
    await service.lookup.planFor(reader, source, 'sr_0_');
    const kept = copyOf(ring);
    real.sealAndWipe();
    await assert.rejects(
      service.lookup.planFor(reader, source, 'sr_0_'),
      (e: { code?: string }) => e.code === 'SEALED',
    );
    real.unseal(kept);
    ring = kept;
    const before = opened;
    await service.lookup.planFor(reader, source, 'sr_0_');
    assert.equal(opened, before + 1, 'the key was opened again after the unseal');
  });
});
