/** The keys module on both backends: init, unseal, rotate, rewrap, retire, root rotation, shred. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { createBarrier } from '../../core/crypto/barrier.ts';
import { createRootKeyProvider } from '../../adapters/keys/index.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import { BACKENDS, createTestDatabase, postgresAvailable } from '../../../test/helpers/db.ts';
import { requirePeer } from '../../../test/helpers/peers.ts';
import { createKeysService, createWorkspaceKeys } from './index.ts';

const logger = pino({ level: 'silent' });

for (const backend of BACKENDS) {
  describe(`keys on ${backend}`, () => {
    let handle: DatabaseHandle;
    let dir: string;
    let skip = false;
    before(async (t) => {
      if (
        backend === 'postgres' &&
        !requirePeer(t as never, 'PostgreSQL', await postgresAvailable(), 'pg_ctlcluster 15 main start')
      ) {
        skip = true;
        return;
      }
      handle = await createTestDatabase(backend);
      dir = await mkdtemp(path.join(os.tmpdir(), 'sr-keys-'));
    });
    after(async () => {
      if (skip) return;
      await handle.close();
      await rm(dir, { recursive: true, force: true });
    });

    test('file provider: init unseals; rotation, rewrap and retire keep every value readable', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const barrier = createBarrier();
      const keys = createKeysService({
        db: handle.db,
        barrier,
        provider: createRootKeyProvider({ kind: 'file', dataDir: dir }),
        logger,
      });
      assert.equal(await keys.state(), 'uninitialized');
      await keys.initialize();
      assert.equal(await keys.state(), 'unsealed');
      await assert.rejects(keys.initialize(), /already exists/);

      const ws = createWorkspaceKeys(handle.db, barrier);
      const enc = await ws.encryptorFor('ws-1');
      const sealedValue = enc.seal(Buffer.from('customer data'), 'dataset:1');
      await ws.encryptorFor('ws-2');
      let status = await keys.status();
      assert.deepEqual(
        status.terms.map((x) => [x.term, x.sealedValues, x.active]),
        [[1, 2, true]],
      );

      assert.equal(await keys.rotate(), 2);
      await ws.encryptorFor('ws-3'); // new writes use term 2
      status = await keys.status();
      assert.deepEqual(
        status.terms.map((x) => [x.term, x.sealedValues]),
        [
          [1, 2],
          [2, 1],
        ],
      );
      await assert.rejects(keys.retire(1), /still protects 2/);
      assert.equal(
        (await ws.encryptorFor('ws-1')).open(sealedValue, 'dataset:1').toString(),
        'customer data',
        'term 1 readable before rewrap',
      );

      const progress = await keys.rewrap({ batch: 1 });
      assert.equal(progress.rewrapped, 2);
      status = await keys.status();
      assert.deepEqual(
        status.terms.map((x) => [x.term, x.sealedValues]),
        [
          [1, 0],
          [2, 3],
        ],
      );
      await keys.retire(1);
      status = await keys.status();
      assert.ok(status.terms.find((x) => x.term === 1)?.retiredAt, 'term 1 retired');
      assert.equal(
        (await ws.encryptorFor('ws-1')).open(sealedValue, 'dataset:1').toString(),
        'customer data',
        'still readable after rewrap',
      );

      // A fresh process (new barrier) auto-unseals from the file and reads everything.
      const barrier2 = createBarrier();
      const keys2 = createKeysService({
        db: handle.db,
        barrier: barrier2,
        provider: createRootKeyProvider({ kind: 'file', dataDir: dir }),
        logger,
      });
      assert.equal(await keys2.autoUnseal(), true);
      assert.equal(
        (await createWorkspaceKeys(handle.db, barrier2).encryptorFor('ws-1')).open(sealedValue, 'dataset:1').toString(),
        'customer data',
      );

      // Sealing wipes: everything answers SEALED.
      keys2.seal();
      assert.equal(await keys2.state(), 'sealed');
      await assert.rejects(
        createWorkspaceKeys(handle.db, barrier2).encryptorFor('ws-1'),
        (e: any) => e.code === 'SEALED',
      );
      await assert.rejects(keys2.rotate(), (e: any) => e.code === 'SEALED');

      // Root rotation re-seals only the keyring; the old root key no longer opens it.
      const newRoot = randomBytes(32);
      const keyFile = path.join(dir, 'root.key');
      await keys.rotateRoot(
        newRoot,
        () => writeFile(`${keyFile}.next`, newRoot, { mode: 0o600 }),
        () => rename(`${keyFile}.next`, keyFile),
      );
      const barrier3 = createBarrier();
      const keys3 = createKeysService({
        db: handle.db,
        barrier: barrier3,
        provider: createRootKeyProvider({ kind: 'file', dataDir: dir }),
        logger,
      });
      assert.equal(await keys3.autoUnseal(), true, 'the new root key opens the keyring');
      assert.equal(
        (await createWorkspaceKeys(handle.db, barrier3).encryptorFor('ws-1')).open(sealedValue, 'dataset:1').toString(),
        'customer data',
      );
    });

    test('crypto-shredding: a destroyed workspace key makes its data unreadable, in two steps', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const barrier = createBarrier();
      const keys = createKeysService({
        db: handle.db,
        barrier,
        provider: createRootKeyProvider({ kind: 'file', dataDir: dir }),
        logger,
      });
      await keys.autoUnseal();
      const ws = createWorkspaceKeys(handle.db, barrier);
      const enc = await ws.encryptorFor('ws-shred');
      const copy = enc.seal(Buffer.from('to be shredded'), 'x');
      const { token } = await ws.requestDestroy('ws-shred');
      await assert.rejects(ws.confirmDestroy('ws-shred', 'destroy-wrong'), /No matching/);
      assert.equal(
        (await ws.encryptorFor('ws-shred')).open(copy, 'x').toString(),
        'to be shredded',
        'nothing destroyed by a wrong token',
      );
      await ws.confirmDestroy('ws-shred', token);
      await assert.rejects(
        ws.encryptorFor('ws-shred'),
        (e: any) => e.code === 'KEY_DESTROYED' && /cannot be decrypted/.test(e.detail),
      );
      const row = await handle.db
        .selectFrom('workspace_keys')
        .selectAll()
        .where('workspace_id', '=', 'ws-shred')
        .executeTakeFirstOrThrow();
      assert.equal(row.sealed, null, 'no key material left in the database');
      await assert.rejects(ws.confirmDestroy('ws-shred', token), /No matching/);
    });

    test('shamir: sealed at start; K shares unseal; a wrong key never unseals', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const db2 = await createTestDatabase(backend);
      const sdir = await mkdtemp(path.join(os.tmpdir(), 'sr-shamir-'));
      try {
        const barrier = createBarrier();
        const provider = createRootKeyProvider({ kind: 'shamir', dataDir: sdir, shares: 5, threshold: 3 });
        const keys = createKeysService({ db: db2.db, barrier, provider, logger });
        const { shares } = await keys.initialize();
        assert.equal(shares?.length, 5);
        assert.equal(await keys.state(), 'sealed', 'shamir never auto-unseals');
        assert.equal(await keys.autoUnseal(), false);
        const p1 = await keys.submitShare(shares![4]!);
        assert.equal(p1.progress, 1);
        assert.equal(p1.sealed, true);
        await keys.submitShare(shares![1]!);
        const p3 = await keys.submitShare(shares![2]!);
        assert.equal(p3.sealed, false);
        assert.equal(await keys.state(), 'unsealed');
        assert.ok(!JSON.stringify(p3).includes('rootKey'), 'the root key is never returned');
        await assert.rejects(keys.submitShare(shares![0]!), /Already unsealed/);
      } finally {
        await db2.close();
        await rm(sdir, { recursive: true, force: true });
      }
    });
  });
}

test('every barrier-sealed column in the schema is registered for rotation', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const { SEALED_COLUMNS } = await import('./index.ts');
  const registered = new Set(SEALED_COLUMNS.map((c) => `${c.table}.${c.column}`));
  // Every `barrier.seal(…, { table, column … })` context and every `ctx` constant naming one.
  const found = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/table:\s*'([a-z_]+)',\s*column:\s*'([a-z_]+)'/g))
          found.add(`${m[1]}.${m[2]}`);
      }
    }
  };
  const src = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
  walk(path.join(src, 'modules'));
  walk(path.join(src, 'server'));
  assert.ok(found.size >= 2, `found: ${[...found].join(', ')}`);
  for (const f of found)
    if (!f.startsWith('test_')) assert.ok(registered.has(f), `${f} is sealed by the barrier but not in SEALED_COLUMNS`);
});
