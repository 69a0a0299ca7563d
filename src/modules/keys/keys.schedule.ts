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
import type { Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { KeysService } from './keys.service.ts';
import { openTaskLog, runRewrapTask, type OpenTaskLog } from './keys.tasks.ts';
import * as store from './keys.store.ts';

export interface RotationEvent {
  action: 'keys.keyring.rotate' | 'keys.keyring.rewrap';
  details: Record<string, string | number | boolean>;
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
