/**
 * Scheduled key rotation: when the active keyring term is older than the schedule
 * (STRONGROOM_KEY_ROTATION_DAYS), add a term and rewrap every sealed value in the background.
 *
 * Guarantees:
 * - The rotation commits with its audit event (`keys.keyring.rotate`, actor `system`) in one
 *   transaction: no event, no rotation. The rewrap's event (naming its task log) is committed
 *   before the rewrap starts.
 * - Several instances may run the schedule: the rotation re-reads the active term inside its
 *   transaction (keyring row locked) and does nothing if another instance already rotated.
 * - Nothing happens while sealed.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { KeysService } from './keys.service.ts';
import { openTaskLog, runRewrapTask, runWorkspaceRewrapTask, type OpenTaskLog } from './keys.tasks.ts';
import type { WorkspaceKeys } from './workspace-keys.ts';
import * as store from './keys.store.ts';

export interface RotationEvent {
  action: 'keys.keyring.rotate' | 'keys.keyring.rewrap' | 'keys.workspace.rotate' | 'keys.workspace.rewrap';
  details: Record<string, string | number | boolean>;
  /** The key concerned; the keyring when absent. */
  resource?: { type: 'workspace-key'; id: string; workspace: string };
}

export interface ScheduleDeps {
  keys: KeysService;
  home: string;
  rotationDays: number;
  /** Records the event in `trx` (rotation) or on its own, committed (rewrap); rejects when it cannot. */
  record(event: RotationEvent, trx?: Transaction<Database>): Promise<void>;
  now?: () => Date;
  /** Where the rewrap's task log goes (default: a file under `home`'s logs/tasks). */
  openTaskLog?: OpenTaskLog;
}

export interface ScheduleOutcome {
  rotated: boolean;
  activeTerm?: number;
  ageDays?: number;
  rewrap?: Promise<unknown>;
  taskId?: string;
}

const DAY_MS = 24 * 3600 * 1000;

/** Rotates (and starts the rewrap) if the active term is older than the schedule. */
export async function rotateIfDue(deps: ScheduleDeps): Promise<ScheduleOutcome> {
  const { keys } = deps;
  if (deps.rotationDays <= 0 || (await keys.state()) !== 'unsealed') return { rotated: false };
  const now = deps.now?.() ?? new Date();
  const status = await keys.status();
  const active = status.terms.find((t) => t.active);
  if (!active?.createdAt) return { rotated: false };
  const ageDays = Math.floor((now.getTime() - new Date(active.createdAt).getTime()) / DAY_MS);
  if (ageDays < deps.rotationDays) return { rotated: false, activeTerm: active.term, ageDays };

  let skipped = false;
  const term = await keys
    .rotate(async (trx) => {
      // Locked by rotate's read of the keyring row: another instance that rotated first wins.
      const row = await store.readKeyringRow(trx);
      if (row && row.active_term !== active.term + 1) {
        skipped = true;
        throw new Error('already rotated');
      }
      await deps.record(
        {
          action: 'keys.keyring.rotate',
          details: { schedule: true, previousTerm: active.term, ageDays, scheduleDays: deps.rotationDays },
        },
        trx,
      );
    })
    .catch((err: unknown) => {
      if (skipped) return undefined;
      throw err;
    });
  if (term === undefined) return { rotated: false, ageDays };

  if (status.rewrap.running) return { rotated: true, activeTerm: term, ageDays };
  const log = await (deps.openTaskLog ?? ((k: string) => openTaskLog(deps.home, k)))('rewrap');
  await deps.record({ action: 'keys.keyring.rewrap', details: { schedule: true, taskId: log.id, taskLog: log.ref } });
  const rewrap = runRewrapTask(keys, log);
  return { rotated: true, activeTerm: term, ageDays, rewrap, taskId: log.id };
}

export interface WorkspaceScheduleDeps {
  db: Kysely<Database>;
  keys: Pick<KeysService, 'state'>;
  workspaceKeys: WorkspaceKeys;
  rotationDays: number;
  record(event: RotationEvent, trx?: Transaction<Database>): Promise<void>;
  openTaskLog: OpenTaskLog;
  now?: () => Date;
}

export interface WorkspaceScheduleOutcome {
  /** Workspaces whose key got a new version, with it. */
  rotated: { workspaceId: string; keyVersion: number }[];
  /** Rewrap tasks started (rotated now, or with superseded versions left from before). */
  rewraps: { workspaceId: string; taskId: string; done: Promise<unknown> }[];
}

const workspaceKeyRef = (workspaceId: string) =>
  ({ type: 'workspace-key', id: workspaceId, workspace: workspaceId }) as const;

/**
 * Workspace keys on the same schedule: each workspace whose current key version is older than
 * STRONGROOM_KEY_ROTATION_DAYS gets a new version, in one transaction with its
 * `keys.workspace.rotate` event (actor `system`); then every workspace that keeps a superseded
 * version is rewrapped in the background (`keys.workspace.rewrap`, naming its task log), which
 * also deletes versions nothing names any more. Several instances: the key row is locked and its
 * age re-read inside the transaction, so only one rotates.
 */
export async function rotateWorkspaceKeysIfDue(deps: WorkspaceScheduleDeps): Promise<WorkspaceScheduleOutcome> {
  const out: WorkspaceScheduleOutcome = { rotated: [], rewraps: [] };
  if (deps.rotationDays <= 0 || (await deps.keys.state()) !== 'unsealed') return out;
  const now = deps.now?.() ?? new Date();
  const before = new Date(now.getTime() - deps.rotationDays * DAY_MS);
  const { due } = await deps.workspaceKeys.dueForRotation(before);
  for (const workspaceId of due) {
    const r = await deps.db.transaction().execute(async (trx) => {
      const res = await deps.workspaceKeys.rotate(workspaceId, trx, { olderThan: before });
      if (res.skipped) return undefined;
      await deps.record(
        {
          action: 'keys.workspace.rotate',
          resource: workspaceKeyRef(workspaceId),
          details: {
            schedule: true,
            previousVersion: res.previousVersion,
            keyVersion: res.keyVersion,
            scheduleDays: deps.rotationDays,
          },
        },
        trx,
      );
      return res;
    });
    if (r) out.rotated.push({ workspaceId, keyVersion: r.keyVersion });
  }
  const { pending } = await deps.workspaceKeys.dueForRotation(before);
  for (const workspaceId of pending) {
    if ((await deps.workspaceKeys.status(workspaceId)).rewrap.running) continue;
    const log = await deps.openTaskLog('workspace-rewrap', { workspace: workspaceId });
    await deps.record({
      action: 'keys.workspace.rewrap',
      resource: workspaceKeyRef(workspaceId),
      details: { schedule: true, taskId: log.id, taskLog: log.ref },
    });
    const done = runWorkspaceRewrapTask(deps.workspaceKeys, workspaceId, log);
    out.rewraps.push({ workspaceId, taskId: log.id, done });
  }
  return out;
}
