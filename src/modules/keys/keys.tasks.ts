/**
 * Key tasks that touch files as well as the database, shared by the API and the offline CLI:
 * the rewrap task (with its task log under `logs/tasks/`) and root-key rotation for the file
 * provider.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../core/config.ts';
import { AppError } from '../../core/errors.ts';
import type { KeyChangeTx, KeysService, RewrapProgress } from './keys.service.ts';
import type { WorkspaceKeys, WorkspaceRewrapProgress } from './workspace-keys.ts';

export interface TaskLog {
  id: string;
  /** Path relative to the data directory, recorded in the audit event. */
  ref: string;
  write(entry: Record<string, unknown>): Promise<void>;
  /** Replaces the run's progress summary shown with the task (a task log on the system drive keeps it). */
  progress?(p: Record<string, number>): void;
  /** Ends the run (a task log on the system drive records its status and its audit event). */
  finish?(status: 'succeeded' | 'failed'): Promise<void>;
}

/**
 * Opens a task log of `kind` (the tasks module's, on the system drive, where the server has one);
 * `opts.workspace`: the workspace the task runs for.
 */
export type OpenTaskLog = (kind: string, opts?: { workspace?: string }) => Promise<TaskLog>;

export async function openTaskLog(home: string, kind: string): Promise<TaskLog> {
  const id = `${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`;
  const dir = path.join(home, 'logs', 'tasks');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${id}.jsonl`);
  await writeFile(file, '', { mode: 0o600, flag: 'wx' });
  return {
    id,
    ref: path.join('logs', 'tasks', `${id}.jsonl`),
    write: (entry) => appendFile(file, `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`),
  };
}

/** Rewrap every sealed value to the active term, logging progress to a task log. */
export async function runRewrapTask(
  keys: KeysService,
  log: TaskLog,
  onProgress?: (p: RewrapProgress) => void,
): Promise<RewrapProgress> {
  await log.write({ event: 'started', activeTerm: (await keys.status()).activeTerm });
  try {
    const result = await keys.rewrap({
      onProgress: (p) => {
        onProgress?.(p);
        log.progress?.({ rewrapped: p.rewrapped });
        void log.write({ event: 'progress', rewrapped: p.rewrapped });
      },
    });
    const status = await keys.status();
    await log.write({
      event: 'finished',
      rewrapped: result.rewrapped,
      terms: status.terms.map((t) => ({ term: t.term, sealedValues: t.sealedValues })),
    });
    await log.finish?.('succeeded');
    return result;
  } catch (err) {
    await log.write({ event: 'failed', error: err instanceof AppError ? err.code : 'INTERNAL' });
    await log.finish?.('failed');
    throw err;
  }
}

/** Re-wrap a workspace's data keys under its current key version, logging progress to a task log. */
export async function runWorkspaceRewrapTask(
  workspaceKeys: WorkspaceKeys,
  workspaceId: string,
  log: TaskLog,
): Promise<WorkspaceRewrapProgress> {
  await log.write({ event: 'started', workspaceId });
  try {
    const result = await workspaceKeys.rewrap(workspaceId, {
      onProgress: (p) => {
        log.progress?.({ rewrapped: p.rewrapped, remaining: p.remaining ?? 0 });
        void log.write({ event: 'progress', rewrapped: p.rewrapped, remaining: p.remaining ?? 0 });
      },
    });
    log.progress?.({ rewrapped: result.rewrapped, remaining: result.remaining ?? 0 });
    await log.write({
      event: 'finished',
      rewrapped: result.rewrapped,
      remaining: result.remaining ?? 0,
      retiredVersions: result.retired ?? [],
    });
    await log.finish?.('succeeded');
    return result;
  } catch (err) {
    await log.write({ event: 'failed', error: err instanceof AppError ? err.code : 'INTERNAL' });
    await log.finish?.('failed');
    throw err;
  }
}

function rootKeyFile(config: Config): string {
  return config.STRONGROOM_ROOT_KEY_FILE ?? path.join(config.STRONGROOM_HOME, 'root.key');
}

/**
 * Root rotation for the file provider: the new key is written next to the old one (0600,
 * exclusive), the keyring re-sealed under it in one transaction, then the new file replaces
 * the old. If the process dies in between, `recoverRootKeyRotation` finishes the job at start.
 */
export async function rotateFileRootKey(keys: KeysService, config: Config, tx?: KeyChangeTx): Promise<void> {
  if (keys.provider.kind !== 'file') {
    throw new AppError('CONFLICT', {
      detail: `Root key rotation is supported for the file provider; this installation uses ${keys.provider.kind}.`,
    });
  }
  const file = rootKeyFile(config);
  const next = `${file}.next`;
  const newKey = randomBytes(32);
  try {
    await keys.rotateRoot(
      newKey,
      () => writeFile(next, newKey, { mode: 0o600, flag: 'wx' }),
      () => rename(next, file),
      tx,
    );
  } catch (err) {
    if (existsSync(next)) await unlink(next).catch(() => undefined);
    throw err;
  } finally {
    newKey.fill(0);
  }
}

/** A rotation interrupted after the database switched: adopt the `.next` key if it opens the keyring. */
export async function recoverRootKeyRotation(keys: KeysService, config: Config): Promise<boolean> {
  const file = rootKeyFile(config);
  const next = `${file}.next`;
  if (keys.provider.kind !== 'file' || !existsSync(next)) return false;
  const { readFile } = await import('node:fs/promises');
  const key = await readFile(next);
  try {
    await keys.unsealWith(key);
  } catch {
    await unlink(next); // the database never switched: the old key is still the right one
    return false;
  } finally {
    key.fill(0);
  }
  await rename(next, file);
  return true;
}
