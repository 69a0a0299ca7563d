/**
 * kill -9 of the real processes (PGlite, default local drive as the backup target):
 * - the server in the middle of writing a backup: nothing is listed as complete and no manifest
 *   exists; after a restart the backup is `failed` (interrupted) at once, its partial object and
 *   the driver's temp file are removed by the cleanup, and the next backup succeeds;
 * - `strongroom backup restore` in the middle of a restore: the new data directory is unusable and
 *   says so (`serve` refuses it), never half-restored-and-serving; restoring again into the same
 *   directory starts over and gives a working installation whose trail ends with the restore.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { openDatabase } from '../src/db/database.ts';
import {
  BIN,
  cliAsync,
  freePort,
  inheritedEnv,
  installationEnv,
  runCli,
  startServe,
  type ServeProcess,
} from './helpers/cli.ts';

let dir: string;
const started: ServeProcess[] = [];
after(async () => {
  for (const s of started) s.child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true, recursive: true }).catch(() => []))
    if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

/** Polls until `ready()` holds (a file appeared); fails after many tries with `what`. */
async function until(ready: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never saw ${what}`);
}

test(
  'kill -9 during a backup write and during a restore: nothing partial is listed or served',
  { timeout: 600_000 },
  async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sr-backup-crash-'));
    const home = path.join(dir, 'data');
    const env = await installationEnv(home);
    const init = runCli(['init'], env);
    assert.equal(init.status, 0, init.stderr);
    // Bulk, so the backup takes long enough to be killed in the middle of its write.
    const db = await openDatabase({ kind: 'pglite', dataDir: path.join(home, 'db') });
    try {
      for (let batch = 0; batch < 20; batch++)
        await db.db
          .insertInto('posture_results')
          .values(
            Array.from({ length: 1000 }, (_, i) => ({
              run_id: `bulk-${batch}`,
              scope: '',
              control_id: `bulk.${i}`,
              status: 'pass' as const,
              summary: randomBytes(900).toString('hex'),
              evidence: JSON.stringify({ n: i }),
              checked_at: new Date(),
            })),
          )
          .execute();
    } finally {
      await db.close();
    }

    let serve = await startServe(env);
    started.push(serve);
    const add = runCli(
      ['backup', 'target', 'add', 'local', '--workspace', 'default', '--drive', 'default', '--prefix', 'bk'],
      env,
    );
    assert.equal(add.status, 0, add.stderr);
    const bk = path.join(home, 'drives', 'default', 'default', 'bk');

    // 1. kill -9 the server while the backup object is being written.
    const create = cliAsync(['backup', 'create'], env);
    await until(
      async () => (await filesUnder(bk)).some((f) => path.basename(f).startsWith('.strongroom-tmp-data.sro-')),
      'the backup object being written',
    );
    serve.child.kill('SIGKILL');
    await serve.exited;
    const cli = await create;
    assert.notEqual(cli.status, 0, 'the create call did not succeed');
    const leftovers = await filesUnder(bk);
    assert.ok(!leftovers.some((f) => f.endsWith('manifest.json')), 'no manifest: no reader accepts the partial object');
    assert.ok(leftovers.length > 0, 'the partial object is there before the cleanup');

    serve = await startServe(env);
    started.push(serve);
    const cleaned = await serve.waitFor('backup cleanup removed unfinished backups');
    assert.equal(cleaned.interrupted, 1);
    assert.equal(cleaned.cleaned, 1);
    assert.deepEqual(
      (await filesUnder(bk)).filter((f) => !f.includes('shred-ledger')),
      [],
      'no orphan left on the target',
    );
    const listed = JSON.parse(runCli(['backup', 'list'], env).stdout) as {
      backups: { id: string; state: string; error?: string }[];
    };
    assert.equal(listed.backups.length, 1);
    assert.equal(listed.backups[0]!.state, 'failed');
    assert.match(listed.backups[0]!.error ?? '', /interrupted/);

    const again = runCli(['backup', 'create'], env);
    assert.equal(again.status, 0, again.stderr);
    const id = (JSON.parse(again.stdout) as { id: string }).id;
    const after2 = JSON.parse(runCli(['backup', 'list'], env).stdout) as { backups: { id: string; state: string }[] };
    assert.deepEqual(
      after2.backups.map((b) => b.state),
      ['complete', 'failed'],
    );
    assert.deepEqual((await filesUnder(path.join(bk, id))).map((f) => path.basename(f)).sort(), [
      'data.sro',
      'manifest.json',
    ]);
    serve.child.kill('SIGTERM');
    await serve.exited;

    // 2. kill -9 the restore while it loads the new data directory.
    const restored = path.join(dir, 'restored');
    const restoreArgs = [
      'backup',
      'restore',
      '--from',
      path.join(bk, id),
      '--home',
      restored,
      '--root-key-file',
      path.join(home, 'root.key'),
    ];
    const child = spawn(process.execPath, [BIN, ...restoreArgs], { env: inheritedEnv(), stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    await until(
      () => existsSync(path.join(restored, 'RESTORE-IN-PROGRESS')) && existsSync(path.join(restored, 'db')),
      'the restore writing its database',
    );
    child.kill('SIGKILL');
    await exited;
    assert.ok(existsSync(path.join(restored, 'RESTORE-IN-PROGRESS')), 'the marker says the restore did not finish');
    const renv = { ...env, STRONGROOM_HOME: restored, STRONGROOM_HTTPS_PORT: String(await freePort()) };
    const refused = runCli(['serve'], renv);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stdout + refused.stderr, /restore into .* did not finish: this data directory is unusable/);

    const redo = runCli(restoreArgs, {});
    assert.equal(redo.status, 0, redo.stderr);
    assert.equal((JSON.parse(redo.stdout) as { backupId: string }).backupId, id);
    assert.ok(!existsSync(path.join(restored, 'RESTORE-IN-PROGRESS')));
    serve = await startServe(renv);
    started.push(serve);
    const tail = runCli(['audit', 'tail', '-n', '5'], renv);
    assert.equal(tail.status, 0, tail.stderr);
    assert.match(tail.stdout, /system\.backup\.restored/);
    const verify = runCli(['audit', 'verify'], renv);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    serve.child.kill('SIGTERM');
    await serve.exited;
  },
);
