/**
 * Backups end to end on both backends, local drive target: create (audited), list with what
 * rotation keeps, the restore drill, restore into a new data directory with the root key and
 * with the recovery key (same rows, same audit head then `system.restored`, `audit verify` green),
 * a workspace key destroyed after the backup stays destroyed after the restore, tampered
 * backups refused with a clear error, and a backup whose audit rows were altered before it was
 * taken refused by the restore itself (nothing usable left behind).
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createLocalDriver } from '../src/adapters/blob/local.ts';
import { openDatabase } from '../src/db/database.ts';
import { createAuditModule } from '../src/modules/audit/index.ts';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { restoreInstallation } from '../src/modules/backups/index.ts';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { createWorkspace } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';

type Any = any;
const body = (r: { json(): unknown }): Any => r.json();
const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
/** A POST to a route that takes no body (the pipeline refuses one). */
const post = { method: 'POST' };

for (const backend of BACKENDS) {
  describe(`backups on ${backend}, local drive`, () => {
    let app: TestApp;
    let skip = false;
    let backupId = '';
    let recoveryKey = '';
    let driveDir = '';
    const scratch: string[] = [];
    const tmp = async () => {
      const d = await mkdtemp(path.join(os.tmpdir(), 'sr-restore-'));
      scratch.push(d);
      return d;
    };

    before(async (t) => {
      if (
        backend === 'postgres' &&
        !requirePeer(t as never, 'PostgreSQL', await postgresAvailable(), 'pg_ctlcluster 15 main start')
      ) {
        skip = true;
        return;
      }
      app = await startTestApp(backend);
      for (const workspaceId of ['ops', 'acme', 'doomed']) await createWorkspace(app, workspaceId);
      await app.server.drives.ensureDefaults();
      await app.server.workspaceKeys.encryptorFor('acme');
      await app.server.workspaceKeys.encryptorFor('doomed');
      driveDir = path.join(app.config.STRONGROOM_HOME, 'drives', 'ops', 'default');
    });
    after(async () => {
      if (!skip) await app.close();
      for (const d of scratch) await rm(d, { recursive: true, force: true });
    });

    test('a target, the recovery key once, a backup (audited) and the list with its rotation reasons', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const noTarget = await app.server.posture.posture.registry.get('backups.freshness')!.check({ now: new Date() });
      assert.equal(noTarget.status, 'fail');
      assert.match(noTarget.summary, /no backup target/);
      assert.equal(
        (await app.server.posture.posture.registry.get('backups.drill')!.check({ now: new Date() })).status,
        'fail',
      );
      const none = await app.asOperator('/api/v1/backups', json({}));
      assert.equal(none.status, 409);
      assert.match(body(none).detail, /No backup target/);
      const target = await app.asOperator(
        '/api/v1/backups/targets',
        json({ name: 'local', workspace: 'ops', drive: 'default', prefix: 'bk' }),
      );
      assert.equal(target.status, 201, target.body);
      const rk = await app.asOperator('/api/v1/backups/recovery-key', post);
      assert.equal(rk.status, 200, rk.body);
      recoveryKey = body(rk).recoveryKey;
      assert.match(recoveryKey, /^srr_[A-Za-z0-9_-]{43}$/);
      const again = await app.asOperator('/api/v1/backups/recovery-key', post);
      assert.equal(again.status, 409);
      const created = await app.asOperator('/api/v1/backups', json({}));
      assert.equal(created.status, 201, created.body);
      const b = body(created);
      backupId = b.id;
      assert.equal(b.recoveryWrapped, true);
      assert.ok(b.rows > 10 && b.tables > 20);
      await expectAudit(app, { action: 'backups.backup.create', actorId: 'operator', outcome: 'success' });
      await expectAudit(app, { action: 'backups.recovery-key.export', mustNotContain: [recoveryKey.slice(4)] });
      const list = body(await app.asOperator('/api/v1/backups'));
      assert.equal(list.backups.length, 1);
      assert.equal(list.backups[0].state, 'complete');
      assert.deepEqual(list.backups[0].keptBecause, ['daily', 'weekly', 'monthly']);
      assert.equal(list.status.stale, true, 'nothing verified yet: stale');
      const files = await readdir(path.join(driveDir, 'bk', backupId));
      assert.deepEqual(files.sort(), ['data.sro', 'manifest.json']);
      const stored = await readFile(path.join(driveDir, 'bk', backupId, 'data.sro'));
      assert.ok(!stored.includes(Buffer.from('workspace_keys')), 'the object is ciphertext');
      const denied = await app.req('/api/v1/backups', json({}));
      assert.equal(denied.status, 401);
    });

    test('the drill restores into a scratch database and records the measured recovery time', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const r = await app.asOperator(`/api/v1/backups/${backupId}/verify`, post);
      assert.equal(r.status, 200, r.body);
      assert.equal(body(r).ok, true);
      assert.ok(body(r).ms > 0);
      const status = body(await app.asOperator('/api/v1/backups/status'));
      assert.equal(status.stale, false);
      assert.equal(status.lastDrill.ok, true);
      await expectAudit(app, { action: 'backups.backup.verify', resource: { type: 'backup', id: backupId } });
    });

    test('posture: backups.freshness and backups.drill pass now, fail once the newest backup or drill is too old', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const check = (id: string, at: Date) => app.server.posture.posture.registry.get(id)!.check({ now: at });
      const now = new Date();
      const fresh = await check('backups.freshness', now);
      assert.equal(fresh.status, 'pass', fresh.summary);
      assert.equal(fresh.evidence.objectiveHours, 26);
      const late = await check('backups.freshness', new Date(now.getTime() + 27 * 3_600_000));
      assert.equal(late.status, 'fail');
      assert.match(late.summary, /older than the 26 h objective/);
      const drill = await check('backups.drill', now);
      assert.equal(drill.status, 'pass', drill.summary);
      assert.ok(Number(drill.evidence.recoveryMs) > 0, 'the measured recovery time is the evidence');
      // A day after the backup: the drill is recent but the newest verified backup is past the objective.
      assert.equal((await check('backups.drill', new Date(now.getTime() + 27 * 3_600_000))).status, 'warn');
      const oldDrill = await check('backups.drill', new Date(now.getTime() + 9 * 24 * 3_600_000));
      assert.equal(oldDrill.status, 'fail');
      assert.match(oldDrill.summary, /9 days old/);
      assert.equal((await check('backups.recovery-key', now)).status, 'pass');
      const status = body(await app.asOperator('/api/v1/backups/status'));
      assert.equal(status.targets, 1);
      assert.ok(status.lastDrill.at);
    });

    test('restore with the recovery key: same rows, the destroyed workspace key stays destroyed, the trail continues and verifies', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      // Destroy a workspace key AFTER the backup; the ledger reaches the target.
      const { token } = await app.server.workspaceKeys.requestDestroy('doomed');
      await app.server.workspaceKeys.confirmDestroy('doomed', token);
      const synced = await app.server.backups.syncLedger();
      assert.equal(synced.entries, 1);
      const manifest = JSON.parse(await readFile(path.join(driveDir, 'bk', backupId, 'manifest.json'), 'utf8'));
      const drive = createLocalDriver({ root: driveDir });
      const home = await tmp();
      const report = await restoreInstallation({
        source: { driver: drive, folder: `bk/${backupId}` },
        ledger: { driver: drive, folder: 'bk/shred-ledger' },
        home: path.join(home, 'restored'),
        key: { recoveryKey },
      });
      assert.deepEqual(report.shredsApplied, ['doomed']);
      assert.equal(
        report.rows,
        manifest.tables.reduce((n: number, x: { rows: number }) => n + x.rows, 0),
      );
      const db = await openDatabase({ kind: 'pglite', dataDir: path.join(home, 'restored', 'db') });
      try {
        const keys = await db.db.selectFrom('workspace_keys').select(['workspace_id', 'sealed']).execute();
        assert.equal(keys.find((k) => k.workspace_id === 'doomed')!.sealed, null);
        assert.ok(keys.find((k) => k.workspace_id === 'acme')!.sealed);
        const audit = createAuditModule({
          db: db.db,
          barrier: createBarrier(),
          logDir: path.join(home, 'restored', 'logs'),
        });
        const last = (await audit.tail(1))[0]!;
        assert.equal(last.action, 'system.backup.restored');
        // Drafts still pending at the snapshot are chained after the backup's head, then the restore.
        // On a loaded machine nothing may have been chained yet at the snapshot (head seq 0, the
        // genesis): the restored trail then starts at seq 1.
        if (manifest.auditHead.seq > 0) {
          const fromHead = await audit.tail(last.seq - manifest.auditHead.seq + 1);
          assert.equal(fromHead[0]!.seq, manifest.auditHead.seq);
          assert.equal(fromHead[0]!.hash, manifest.auditHead.hash, 'the same audit head');
        } else assert.equal((await audit.tail(last.seq))[0]!.seq, 1, 'the whole trail was chained after the restore');
        const v = await audit.verify();
        assert.deepEqual(
          v.problems.filter((p) => p.kind !== 'export-mismatch'),
          [],
        );
      } finally {
        await db.close();
      }
    });

    test('restore with the root key file into a new directory; a second restore into it is refused', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const drive = createLocalDriver({ root: driveDir });
      const home = path.join(await tmp(), 'h');
      const rootKeyFile = path.join(app.home, 'root.key');
      const r = await restoreInstallation({
        source: { driver: drive, folder: `bk/${backupId}` },
        home,
        key: { rootKeyFile },
      });
      assert.equal(r.backupId, backupId);
      await assert.rejects(
        restoreInstallation({ source: { driver: drive, folder: `bk/${backupId}` }, home, key: { rootKeyFile } }),
        /already holds an installation/,
      );
      await assert.rejects(
        restoreInstallation({
          source: { driver: drive, folder: `bk/${backupId}` },
          home: path.join(await tmp(), 'h'),
          key: { recoveryKey: `srr_${'A'.repeat(43)}` },
        }),
        (err: Error & { code?: string }) =>
          err.code === 'BACKUP_INVALID' &&
          /does not open this backup/.test(err.message + String((err as { detail?: string }).detail)),
      );
    });

    test("tampered backups are refused: a flipped byte, a truncated object, another backup's manifest", async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const second = body(await app.asOperator('/api/v1/backups', json({}))).id as string;
      const rootKeyFile = path.join(app.home, 'root.key');
      const attempt = async (mutate: (dir: string) => Promise<void>, expected: RegExp) => {
        const copy = await tmp();
        await cp(path.join(driveDir, 'bk', backupId), path.join(copy, 'b'), { recursive: true });
        await mutate(path.join(copy, 'b'));
        const home = path.join(await tmp(), 'h');
        await assert.rejects(
          restoreInstallation({
            source: { driver: createLocalDriver({ root: copy }), folder: 'b' },
            home,
            key: { rootKeyFile },
          }),
          (err: { code?: string; detail?: string }) => err.code === 'BACKUP_INVALID' && expected.test(err.detail ?? ''),
        );
      };
      await attempt(async (dir) => {
        const f = path.join(dir, 'data.sro');
        const bytes = await readFile(f);
        bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
        await writeFile(f, bytes);
      }, /failed decryption|SHA-256/);
      await attempt(async (dir) => {
        const f = path.join(dir, 'data.sro');
        const bytes = await readFile(f);
        await writeFile(f, bytes.subarray(0, bytes.length - 100));
      }, /bytes; the manifest says/);
      await attempt(async (dir) => {
        await cp(path.join(driveDir, 'bk', second, 'manifest.json'), path.join(dir, 'manifest.json'));
      }, /bytes; the manifest says|failed decryption|SHA-256/);
      await attempt(async (dir) => {
        const f = path.join(dir, 'manifest.json');
        const m = JSON.parse(await readFile(f, 'utf8'));
        m.tables[0].rows += 1;
        await writeFile(f, JSON.stringify(m));
      }, /MAC does not verify/);
    });

    test('a backup whose audit rows were altered is refused by the restore, which leaves nothing usable', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      // An event edited in the live database, a backup taken then (its object and manifest are
      // sound: the alteration is in the rows), and the event put back.
      const db = app.server.database.db;
      const seq = 3;
      const original = await sql<{ d: string }>`select details::text as d from audit_events where seq = ${seq}`.execute(
        db,
      );
      await sql`update audit_events set details = ${JSON.stringify({ note: 'nothing to see' })}::jsonb where seq = ${seq}`.execute(
        db,
      );
      let tampered = '';
      try {
        const made = await app.asOperator('/api/v1/backups', json({}));
        assert.equal(made.status, 201, made.body);
        tampered = body(made).id;
      } finally {
        await sql`update audit_events set details = ${original.rows[0]!.d}::jsonb where seq = ${seq}`.execute(db);
      }
      const home = path.join(await tmp(), 'h');
      await assert.rejects(
        restoreInstallation({
          source: { driver: createLocalDriver({ root: driveDir }), folder: `bk/${tampered}` },
          home,
          key: { rootKeyFile: path.join(app.home, 'root.key') },
        }),
        (err: { code?: string; detail?: string }) => {
          assert.equal(err.code, 'BACKUP_INVALID');
          assert.match(err.detail ?? '', /audit chain in the backup does not verify \(edited at seq 3/);
          assert.match(err.detail ?? '', /refusing to restore/);
          return true;
        },
      );
      // No database, no root key, no marker: nothing of it is left to serve or to mistake.
      const left = await readdir(home).catch(() => []);
      assert.deepEqual(
        left.filter((n) => ['db', 'root.key', 'RESTORE-IN-PROGRESS', 'logs'].includes(n)),
        [],
      );
      // The untampered backup still restores (the refusal is about that backup's rows).
      const fine = await restoreInstallation({
        source: { driver: createLocalDriver({ root: driveDir }), folder: `bk/${backupId}` },
        home: path.join(await tmp(), 'h2'),
        key: { rootKeyFile: path.join(app.home, 'root.key') },
      });
      assert.equal(fine.backupId, backupId);
    });
  });
}
