/**
 * Crypto-shredding reaches the vault on the live server (both backends): once a workspace key is
 * destroyed, that workspace's secrets answer 410 KEY_DESTROYED on reveal, rollback and write —
 * never the value, never a 500 — and their values are gone from the database; another
 * workspace's secrets still reveal; a backup taken before the destruction and restored afterwards
 * does not bring the values back. The workspace's data-policy keyed-hash key is destroyed in the
 * same transaction: a keyed_hash mask there then refuses (KEY_DESTROYED), the cached opened key
 * and plans are dropped, and a restore re-applies that too.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLocalDriver } from '../src/adapters/blob/local.ts';
import { openDatabase } from '../src/db/database.ts';
import { restoreInstallation } from '../src/modules/backups/index.ts';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { GOOD_PASSWORD, createWorkspace, jsonBody, ownerSession, totpNow, type Session } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';
import { AppError } from '../src/core/errors.ts';
import type { Actor } from '../src/core/actor.ts';

const CANARY = 'shred-canary-7f3a91';
const secrets = (ws: string) => `/api/v1/workspaces/${ws}/secrets`;
const analyst: Actor = { id: 'u-analyst', kind: 'user', roles: ['analyst'], attributes: {} };
const hashPolicy = {
  target: { dataset: 'people' },
  description: 'pseudonymous ids',
  masks: [{ column: 'ssn', kind: 'keyed_hash' as const }],
  hide: [],
};

for (const backend of BACKENDS) {
  describe(`vault secrets follow their workspace key on ${backend}`, () => {
    let app: TestApp;
    let skip = false;
    let home = '';
    const owners: Record<string, { s: Session; totp: string }> = {};
    // The clock moves a TOTP step before a re-authentication (the enrolment's code is spent).
    let offset = 0;
    const now = () => new Date(Date.now() + offset);
    const reauth = (ws: string) => {
      offset += 31_000;
      return owners[ws]!.s.req(
        '/api/v1/auth/reauth',
        jsonBody({ password: GOOD_PASSWORD, code: totpNow(owners[ws]!.totp, now().getTime()) }),
      );
    };
    const reveal = (ws: string, p: string, version?: number) =>
      owners[ws]!.s.req(`${secrets(ws)}/reveal/${p}${version ? `?version=${version}` : ''}`, { method: 'POST' });
    const put = (ws: string, p: string, password: string) =>
      owners[ws]!.s.req(`${secrets(ws)}/data/${p}`, jsonBody({ type: 'password', value: { password } }, 'PUT'));

    before(async (t) => {
      if (
        backend === 'postgres' &&
        !requirePeer(t as never, 'PostgreSQL', await postgresAvailable(), 'pg_ctlcluster 15 main start')
      ) {
        skip = true;
        return;
      }
      app = await startTestApp(backend, { now });
      home = await mkdtemp(path.join(os.tmpdir(), 'sr-shred-'));
      for (const ws of ['doomed', 'kept', 'ops']) await createWorkspace(app, ws);
      for (const ws of ['doomed', 'kept']) {
        const o = await ownerSession(app, `owner-${ws}@corp.test`, ws);
        owners[ws] = { s: o.session, totp: o.secret };
        await app.server.workspaceKeys.encryptorFor(ws);
      }
      await app.server.drives.ensureDefaults();
    });
    after(async () => {
      if (!skip) await app.close();
      if (home) await rm(home, { recursive: true, force: true });
    });

    test('destroying the workspace key refuses its secrets (410), spares another workspace, and a restore keeps them gone', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      for (const ws of ['doomed', 'kept']) {
        assert.equal((await put(ws, 'db/password', `${CANARY}-${ws}-1`)).status, 201);
        assert.equal((await put(ws, 'db/password', `${CANARY}-${ws}-2`)).status, 200);
        assert.equal((await reauth(ws)).status, 200);
        const r = await reveal(ws, 'db/password');
        assert.equal(r.status, 200, r.body);
        assert.equal(r.json<any>().value.password, `${CANARY}-${ws}-2`);
      }
      // A keyed_hash policy in each workspace; its plan opens (and caches) the workspace's hash key.
      const policies = app.server.policies;
      const planOf = (ws: string) =>
        policies.lookup.planFor(analyst, { workspaceId: ws, dataset: 'people', tags: [] }, 'sr_0_');
      const hashParams = (plan: Awaited<ReturnType<typeof planOf>>) =>
        Object.values(plan?.params ?? {}).filter((v) => typeof v === 'string' && /^[0-9a-f]{128}$/.test(v));
      for (const ws of ['doomed', 'kept']) {
        await policies.save({ ws, name: 'pseudo', body: hashPolicy as never, dryRun: false, actor: 'test' });
        const plan = await planOf(ws);
        assert.ok(plan && plan.replace.length === 1, JSON.stringify(plan));
        assert.equal(hashParams(plan).length, 2); // the padded inner and outer key
      }
      const keyRow = (ws: string) =>
        app.server.database.db
          .selectFrom('data_policy_keys')
          .select(['sealed', 'destroyed_at'])
          .where('workspace_id', '=', ws)
          .executeTakeFirst();
      assert.ok((await keyRow('doomed'))?.sealed);

      // A backup while the key and the secrets are live.
      const target = await app.asOperator(
        '/api/v1/backups/targets',
        jsonBody({ name: 'local', workspace: 'ops', drive: 'default', prefix: 'bk' }),
      );
      assert.equal(target.status, 201, target.body);
      const backup = await app.asOperator('/api/v1/backups', jsonBody({}));
      assert.equal(backup.status, 201, backup.body);
      const backupId = backup.json<any>().id as string;

      const req = await app.asOperator('/api/v1/keys/workspaces/doomed/destroy', { method: 'POST' });
      assert.equal(req.status, 200, req.body);
      assert.match(req.json<any>().warning, /vault secret/);
      const ok = await app.asOperator(
        '/api/v1/keys/workspaces/doomed/destroy/confirm',
        jsonBody({ token: req.json<any>().token }),
      );
      assert.equal(ok.status, 200, ok.body);
      assert.deepEqual(ok.json(), { destroyed: true, secretsDestroyed: 2 });
      await expectAudit(app, { action: 'keys.workspace.destroy', details: { step: 'confirmed', secretsDestroyed: 2 } });

      // The keyed-hash key went in the same transaction: a tombstone, and the mask fails closed
      // (the opened key cached a moment ago is not used), while the other workspace still hashes.
      const tomb = await keyRow('doomed');
      assert.equal(tomb?.sealed, null);
      assert.ok(tomb?.destroyed_at);
      for (let i = 0; i < 2; i++) {
        await assert.rejects(planOf('doomed'), (err: unknown) => {
          assert.ok(err instanceof AppError);
          assert.equal(err.code, 'KEY_DESTROYED');
          assert.equal(err.status, 410);
          assert.match(err.message + String(err.detail ?? ''), /keyed-hash/);
          return true;
        });
      }
      await assert.rejects(policies.rawReadGuard(analyst, 'doomed', 'people', []), /KEY_DESTROYED|destroyed/);
      assert.equal((await keyRow('doomed'))?.sealed, null, 'no fresh key is created for a shredded workspace');
      assert.equal(hashParams(await planOf('kept')).length, 2);
      assert.ok((await keyRow('kept'))?.sealed);

      // Reads and writes of the shredded workspace: a clear 410, never the value.
      const refused = [
        await reveal('doomed', 'db/password'),
        await reveal('doomed', 'db/password', 1),
        await put('doomed', 'db/password', 'new-value-after-shred'),
        await put('doomed', 'db/new', 'new-value-after-shred'),
        await owners.doomed!.s.req(`${secrets('doomed')}/rollback/db/password`, jsonBody({ version: 1 })),
      ];
      for (const r of refused) {
        assert.equal(r.status, 410, r.body);
        assert.equal(r.json<any>().code, 'KEY_DESTROYED');
        assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
        assert.ok(!r.body.includes(CANARY));
      }
      const db = app.server.database.db;
      const rows = await db
        .selectFrom('secret_versions')
        .select(['workspace_id', 'value_sealed', 'destroyed_by'])
        .orderBy('workspace_id')
        .execute();
      assert.deepEqual(
        rows.filter((r) => r.workspace_id === 'doomed').map((r) => [r.value_sealed, r.destroyed_by]),
        [
          [null, 'system:key-destroyed'],
          [null, 'system:key-destroyed'],
        ],
      );
      assert.equal(
        (await db.selectFrom('secrets').select('path').where('workspace_id', '=', 'doomed').execute()).length,
        1,
      );
      // The metadata still lists the secret, its versions now destroyed.
      const meta = await owners.doomed!.s.req(`${secrets('doomed')}/metadata/db/password`);
      assert.equal(meta.status, 200, meta.body);
      assert.deepEqual(
        meta.json<any>().versions.map((v: any) => v.state),
        ['destroyed', 'destroyed'],
      );

      // Another workspace is untouched.
      const other = await reveal('kept', 'db/password');
      assert.equal(other.status, 200, other.body);
      assert.equal(other.json<any>().value.password, `${CANARY}-kept-2`);
      assert.equal((await put('kept', 'db/password', `${CANARY}-kept-3`)).status, 200);

      // The backup from before the destruction, restored afterwards: the values stay destroyed.
      const synced = await app.server.backups.syncLedger();
      assert.equal(synced.entries, 1);
      const driveDir = path.join(app.config.STRONGROOM_HOME, 'drives', 'ops', 'default');
      const drive = createLocalDriver({ root: driveDir });
      const restored = path.join(home, 'restored');
      const report = await restoreInstallation({
        source: { driver: drive, folder: `bk/${backupId}` },
        ledger: { driver: drive, folder: 'bk/shred-ledger' },
        home: restored,
        key: { rootKeyFile: path.join(app.home, 'root.key') },
      });
      assert.deepEqual(report.shredsApplied, ['doomed']);
      const back = await openDatabase({ kind: 'pglite', dataDir: path.join(restored, 'db') });
      try {
        const versions = await back.db.selectFrom('secret_versions').select(['workspace_id', 'value_sealed']).execute();
        assert.deepEqual(
          versions.filter((v) => v.workspace_id === 'doomed').map((v) => v.value_sealed),
          [null, null],
        );
        assert.equal(versions.filter((v) => v.workspace_id === 'kept' && v.value_sealed !== null).length, 2);
        const key = await back.db
          .selectFrom('workspace_keys')
          .select(['sealed', 'destroyed_at'])
          .where('workspace_id', '=', 'doomed')
          .executeTakeFirstOrThrow();
        assert.equal(key.sealed, null);
        assert.ok(key.destroyed_at);
        const hashKeys = await back.db
          .selectFrom('data_policy_keys')
          .select(['workspace_id', 'sealed'])
          .orderBy('workspace_id')
          .execute();
        assert.deepEqual(
          hashKeys.map((k) => [k.workspace_id, k.sealed === null]),
          [
            ['doomed', true],
            ['kept', false],
          ],
        );
      } finally {
        await back.close();
      }
    });
  });
}
