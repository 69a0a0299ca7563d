/**
 * The backup before a schema migration, with the real `strongroom serve` (PGlite): an older schema
 * is made by migrating the newest migration down, then the server starts.
 * - no backup target: the migration runs, the skip and its reason are logged and audited;
 * - a target: a `pre-migration` backup is taken first (logged, listed, audited), then the migration;
 * - the backup fails (the target's directory is a file): the server refuses to start and the
 *   database is NOT migrated; STRONGROOM_PRE_MIGRATION_BACKUP=off migrates anyway, audited as an
 *   override.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { after, test } from 'node:test';
import { openDatabase } from '../src/db/database.ts';
import { migrateTo } from '../src/db/migrate.ts';
import { migrations } from '../src/db/migrations/index.ts';
import { installationEnv, runCli, startServe, type ServeProcess } from './helpers/cli.ts';

let dir: string;
const started: ServeProcess[] = [];
after(async () => {
  for (const s of started) s.child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

const names = Object.keys(migrations).sort();
const newest = names[names.length - 1]!;
const previous = names[names.length - 2]!;

async function withDb<T>(home: string, fn: (db: Kysely<unknown>) => Promise<T>): Promise<T> {
  const h = await openDatabase({ kind: 'pglite', dataDir: path.join(home, 'db') });
  try {
    return await fn(h.db as Kysely<unknown>);
  } finally {
    await h.close();
  }
}
const downgrade = (home: string) => withDb(home, (db) => migrateTo(db, previous));
const applied = (home: string) =>
  withDb(home, async (db) =>
    (await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db)).rows.map((r) => r.name),
  );

test(
  'a backup before every migration: skipped without a target, taken with one, refusing to migrate when it fails',
  { timeout: 600_000 },
  async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sr-premigration-'));
    const home = path.join(dir, 'data');
    const env = await installationEnv(home);
    const stop = async (s: ServeProcess) => {
      s.child.kill('SIGTERM');
      await s.exited;
    };
    assert.equal(runCli(['init'], env).status, 0);

    // 1. No target: skipped, with its reason, then migrated.
    await downgrade(home);
    let serve = await startServe(env);
    started.push(serve);
    const skipped = await serve.waitFor('pre-migration backup skipped');
    assert.match(String(skipped.reason), /no backup target/);
    assert.deepEqual(skipped.pending, [newest]);
    let tail = runCli(['audit', 'tail', '-n', '50'], env).stdout;
    assert.match(tail, /system\.migration\.backup/);
    const add = runCli(
      ['backup', 'target', 'add', 'local', '--workspace', 'default', '--drive', 'default', '--prefix', 'bk'],
      env,
    );
    assert.equal(add.status, 0, add.stderr);
    await stop(serve);

    // 2. A target: the backup first, then the migration.
    await downgrade(home);
    assert.ok(!(await applied(home)).includes(newest));
    serve = await startServe(env);
    started.push(serve);
    const taken = await serve.waitFor('pre-migration backup complete');
    assert.deepEqual(taken.pending, [newest]);
    assert.equal(taken.target, 'local');
    const migrated = await serve.waitFor('database migrated');
    assert.deepEqual(migrated.applied, [newest]);
    const order = serve.lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    assert.ok(order.indexOf('pre-migration backup complete') < order.indexOf('database migrated'), 'backup first');
    const list = JSON.parse(runCli(['backup', 'list'], env).stdout) as {
      backups: { id: string; trigger: string; state: string }[];
    };
    assert.deepEqual(
      list.backups.map((b) => [b.trigger, b.state]),
      [['pre-migration', 'complete']],
    );
    assert.equal(list.backups[0]!.id, taken.backupId);
    tail = runCli(['audit', 'tail', '-n', '50'], env).stdout;
    assert.match(tail, new RegExp(`system\\.migration\\.backup[\\s\\S]*${taken.backupId as string}`));
    // The backup it took is of the OLD schema, and passes its restore drill.
    const drill = runCli(['backup', 'verify', String(taken.backupId)], env);
    assert.equal(drill.status, 0, drill.stderr);
    assert.equal((JSON.parse(drill.stdout) as { ok: boolean }).ok, true);
    await stop(serve);

    // 3. The backup fails: no migration, the server says why; the override migrates, audited.
    await downgrade(home);
    const driveDir = path.join(home, 'drives', 'default', 'default');
    await rename(driveDir, `${driveDir}.away`);
    await writeFile(driveDir, 'not a directory'); // every write under the drive fails
    const refused = runCli(['serve'], env);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stdout + refused.stderr, /backup before migrating .* failed: .*NOT migrated/);
    assert.match(refused.stdout + refused.stderr, /STRONGROOM_PRE_MIGRATION_BACKUP=off/);
    assert.ok(!(await applied(home)).includes(newest), 'not migrated');
    serve = await startServe({ ...env, STRONGROOM_PRE_MIGRATION_BACKUP: 'off' });
    started.push(serve);
    const off = await serve.waitFor('pre-migration backup skipped');
    assert.match(String(off.reason), /turned off by the operator/);
    assert.ok((await serve.waitFor('database migrated')) !== undefined);
    tail = runCli(['audit', 'tail', '-n', '50'], env).stdout;
    assert.match(tail, /"override":true/);
    await stop(serve);
    await rm(driveDir);
    await rename(`${driveDir}.away`, driveDir);
  },
);
