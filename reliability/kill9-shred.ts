/**
 * The kill9 suite's crypto-shredding phase: a workspace key destroyed, then a restore, each with a
 * SIGKILL at a seeded moment. Afterwards each is either done or not done, never half:
 *
 * - killing the server during the destruction's confirmation: after a restart the workspace key
 *   is either destroyed (its data set no longer opens) or whole (its data set downloads intact),
 *   a confirmation answered before the kill means destroyed, and `audit verify` passes;
 * - killing `strongroom backup restore` (0–3 s after it began) of a backup taken before the destruction: the new data
 *   directory is either restored whole or marked unfinished, which `serve` refuses; restoring
 *   again completes; the restored trail verifies offline (`audit verify`) and the key destroyed
 *   after the backup is destroyed there too (the shred ledger on the backup target is applied).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { openDatabase } from '../src/db/database.ts';
import { BIN, cliAsync, freePort, inheritedEnv, runCli } from '../test/helpers/cli.ts';
import type { Instance, rng } from './lib/instance.ts';

const WS = 'doomed';
const D = `/api/v1/workspaces/${WS}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The folder of backup `id` on the default local drive. */
async function backupFolder(home: string, id: string): Promise<string | undefined> {
  for (const e of await readdir(path.join(home, 'drives'), { withFileTypes: true, recursive: true }))
    if (e.isDirectory() && e.name === id) return path.join(e.parentPath, e.name);
  return undefined;
}

/** Returns the problems found (none when every invariant holds). */
export async function shredAndRestore(
  inst: Instance,
  r: ReturnType<typeof rng>,
  log: (l: string) => void,
): Promise<string[]> {
  const problems: string[] = [];
  const ws = await inst.json(
    'POST',
    '/api/v1/workspaces',
    { id: WS, name: WS, ownerEmail: 'owner@reliability.test' },
    'operator',
  );
  if (ws.status !== 201) return [`setup workspace: ${ws.status} ${ws.body.slice(0, 200)}`];
  const body = Buffer.alloc(256 * 1024 + r.int(0, 999), `doomed-${r.int(0, 1e9)};`);
  const up = await inst.req(`${D}/datasets/d/versions?filename=d.bin`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
  if (up.status !== 201) return [`setup upload: ${up.status} ${up.body.slice(0, 200)}`];
  const backup = await inst.json('POST', '/api/v1/backups', {}, 'operator');
  if (backup.status !== 201) return [`setup backup: ${backup.status} ${backup.body.slice(0, 200)}`];
  const backupId = backup.json<{ id: string }>().id;

  // 1. SIGKILL while the destruction is being confirmed.
  const destroy = () => inst.req(`/api/v1/keys/workspaces/${WS}/destroy`, { method: 'POST', as: 'operator' });
  const asked = await destroy();
  if (asked.status !== 200) return [`destroy request: ${asked.status} ${asked.body.slice(0, 200)}`];
  const confirm = (token: string) =>
    inst.json('POST', `/api/v1/keys/workspaces/${WS}/destroy/confirm`, { token }, 'operator');
  let confirmed: number | undefined;
  const inflight = confirm(asked.json<{ token: string }>().token).then(
    (a) => (confirmed = a.status),
    () => undefined,
  );
  const delay = r.int(0, 300);
  await new Promise((res) => setTimeout(res, delay));
  await inst.kill9();
  await inflight;
  await inst.start();
  const destroyed = async () =>
    (await inst.req(`/api/v1/keys/workspaces/${WS}`, { as: 'operator' })).json<{ destroyed: boolean }>().destroyed;
  const isDestroyed = await destroyed();
  const dl = await inst.req(`${D}/datasets/d/versions/1/content`);
  if (isDestroyed && dl.status === 200) problems.push('shred: key destroyed, yet the data set still opens');
  if (!isDestroyed && (dl.status !== 200 || sha(dl.raw) !== sha(body)))
    problems.push(`shred: key whole, yet the data set does not download whole (${dl.status})`);
  if (confirmed === 200 && !isDestroyed) problems.push('shred: confirmation answered 200, key not destroyed');
  if (confirmed !== undefined && confirmed >= 500 && confirmed !== 503)
    problems.push(`shred: confirmation answered ${confirmed}`);
  const verify = await inst.req('/api/v1/audit/verify', { as: 'operator' });
  if (verify.status !== 200 || verify.json<{ ok: boolean }>().ok !== true)
    problems.push(`shred: audit verify ${verify.status} ${verify.body.slice(0, 200)}`);
  log(
    `shred: killed ${delay} ms into the confirmation (${confirmed ?? 'no answer'}); key ${isDestroyed ? 'destroyed' : 'whole'}`,
  );
  if (!isDestroyed) {
    const again = await destroy();
    const done = again.status === 200 ? await confirm(again.json<{ token: string }>().token) : again;
    if (done.status !== 200 || !(await destroyed()))
      return [...problems, `shred: destroying again after the restart: ${done.status} ${done.body.slice(0, 200)}`];
  }
  // The shred ledger reaches the backup target with the next backup.
  const next = await inst.json('POST', '/api/v1/backups', {}, 'operator');
  if (next.status !== 201) return [...problems, `backup after the shred: ${next.status} ${next.body.slice(0, 200)}`];

  // 2. SIGKILL during a restore of the backup taken before the destruction.
  const from = await backupFolder(inst.home, backupId);
  if (!from) return [...problems, `backup ${backupId}: folder not found under the data directory`];
  const home = path.join(inst.dir, 'restored');
  const args = [
    'backup',
    'restore',
    '--from',
    from,
    '--home',
    home,
    '--root-key-file',
    path.join(inst.home, 'root.key'),
  ];
  const child = spawn(process.execPath, [BIN, ...args], { env: inheritedEnv(), stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  // The kill lands a seeded moment (0–3 s) after the restore marked the directory as its own.
  const after = r.int(0, 3000);
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  for (let i = 0; i < 2400 && code === undefined && !existsSync(path.join(home, 'RESTORE-IN-PROGRESS')); i++)
    await new Promise((res) => setTimeout(res, 50));
  let killed = false;
  const timer = setTimeout(() => (killed = child.kill('SIGKILL')), after);
  code = await exited;
  clearTimeout(timer);
  if (code !== 0 && !killed) problems.push(`restore: failed by itself (exit ${code})`);
  const unfinished = existsSync(path.join(home, 'RESTORE-IN-PROGRESS'));
  log(
    `restore: ${code === 0 ? 'finished' : `killed ${after} ms after it marked its directory`}; ${unfinished ? 'marked unfinished' : 'no marker'}`,
  );
  const env = { STRONGROOM_HOME: home, STRONGROOM_HTTPS_PORT: String(await freePort()), STRONGROOM_HTTP_PORT: 'off' };
  if (code !== 0 && existsSync(path.join(home, 'db')) && !unfinished)
    problems.push('restore: killed, its database is there, and no marker says it is unfinished');
  if (unfinished) {
    const refused = runCli(['serve'], { ...env, STRONGROOM_METRICS_PORT: 'off' });
    if (refused.status === 0 || !/did not finish/.test(refused.stdout + refused.stderr))
      problems.push(`restore: serve did not refuse an unfinished restore (${refused.status})`);
  }
  if (code !== 0) {
    // Not runCli: a restore on a loaded machine can take longer than its 60 s guard.
    const redo = await cliAsync(args, {});
    if (redo.status !== 0) return [...problems, `restore again: ${redo.status} ${redo.stderr.slice(0, 300)}`];
  }
  const verified = await cliAsync(['audit', 'verify'], env);
  if (verified.status !== 0)
    problems.push(`restored trail: ${verified.stdout.slice(0, 300)} ${verified.stderr.slice(0, 300)}`);
  const db = await openDatabase({ kind: 'pglite', dataDir: path.join(home, 'db') });
  try {
    const key = await db.db
      .selectFrom('workspace_keys')
      .select(['sealed', 'destroyed_at'])
      .where('workspace_id', '=', WS)
      .executeTakeFirst();
    if (!key || key.sealed !== null || key.destroyed_at === null)
      problems.push('restore: the workspace key destroyed after the backup is whole again');
  } finally {
    await db.close();
  }
  return problems;
}
