/**
 * Retention use cases: classes, legal holds, workspace termination and the purge. Every purge
 * step commits its deletion and its evidence event (class, counts, range) in ONE transaction, so
 * nothing is removed without a record and a crash mid-purge leaves the rest for the next run.
 */
import { randomUUID } from 'node:crypto';
import { readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Actor } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import { prunablePoint, pruneExtent, pruneThrough, type AuditModule } from '../audit/index.ts';
import type { WorkspaceKeys } from '../keys/index.ts';
import type { ClassesUpdate, RetentionClass } from './retention.classes.ts';
import type { RetentionPreview } from '../../contracts/index.ts';
import * as store from './retention.store.ts';
import { createPersonRights } from './retention.person.ts';

const DAY = 86_400_000;
/** PCI DSS asks for at least 12 months of audit events. */
const RECOMMENDED_AUDIT_DAYS = 365;
export const SYSTEM_ACTOR = { id: 'system:retention', kind: 'system' as const };

export interface RetentionDeps {
  db: Kysely<Database>;
  audit: Pick<AuditModule, 'record' | 'hmac' | 'search'>;
  workspaceKeys: Pick<WorkspaceKeys, 'requestDestroy' | 'confirmDestroy'>;
  /** `<home>/logs/tasks`: task logs older than their class are deleted. */
  taskLogDir: string;
  now?: () => Date;
}

export interface PurgeReport {
  audit: { events: number; firstSeq?: number; lastSeq?: number; blockedByHold: boolean };
  taskLogs: number;
  workspaces: { purged: string[]; held: string[] };
}

export type RetentionService = ReturnType<typeof createRetentionService>;

export function createRetentionService(deps: RetentionDeps) {
  const now = deps.now ?? (() => new Date());
  const db = deps.db;

  /**
   * Where an audit purge at `at` keeping `days` would stop: the newest signed checkpoint before the
   * cutoff that no legal hold in force reaches (`point`, undefined: nothing to prune), and whether
   * a hold is what holds it back.
   */
  async function auditPlan(at: Date, days: number) {
    const before = new Date(at.getTime() - days * DAY);
    const held = await store.firstHeldAuditSeq(db);
    const free = await prunablePoint(db, before, Number.MAX_SAFE_INTEGER);
    const point = await prunablePoint(db, before, held ?? Number.MAX_SAFE_INTEGER);
    return { before, point, blockedByHold: free !== undefined && free !== point };
  }

  /** Task log files older than `days` at `at`, by name, sorted. */
  async function oldTaskLogs(at: Date, days: number): Promise<string[]> {
    const names = await readdir(deps.taskLogDir).catch(() => [] as string[]);
    const old: string[] = [];
    for (const n of names.filter((x) => x.endsWith('.jsonl'))) {
      const s = await stat(path.join(deps.taskLogDir, n)).catch(() => undefined);
      if (s && s.mtimeMs < at.getTime() - days * DAY) old.push(n);
    }
    return old.sort();
  }

  async function purgeAudit(at: Date, days: number): Promise<PurgeReport['audit']> {
    const { before, point, blockedByHold } = await auditPlan(at, days);
    if (point === undefined) return { events: 0, blockedByHold };
    const ev = await db.transaction().execute(async (trx) => {
      const e = await pruneThrough(trx, point, at);
      await deps.audit.record(trx, {
        actor: SYSTEM_ACTOR,
        action: 'retention.purge.run',
        resource: { type: 'retention-class', id: 'audit' },
        outcome: 'success',
        details: { class: 'audit', days, before: before.toISOString(), ...e, blockedByHold },
      });
      return e;
    });
    return { events: ev.events, firstSeq: ev.firstSeq, lastSeq: ev.lastSeq, blockedByHold };
  }

  async function purgeTaskLogs(at: Date, days: number): Promise<number> {
    const old = await oldTaskLogs(at, days);
    if (old.length === 0) return 0;
    // The evidence first (fail-closed), then the files.
    await db.transaction().execute((trx) =>
      deps.audit.record(trx, {
        actor: SYSTEM_ACTOR,
        action: 'retention.purge.run',
        resource: { type: 'retention-class', id: 'task-logs' },
        outcome: 'success',
        details: { class: 'task-logs', days, files: old.length, first: old[0] ?? '', last: old.at(-1) ?? '' },
      }),
    );
    for (const n of old) await unlink(path.join(deps.taskLogDir, n)).catch(() => undefined);
    return old.length;
  }

  async function purgeWorkspaces(at: Date): Promise<PurgeReport['workspaces']> {
    const purged: string[] = [];
    const held: string[] = [];
    const due = (await store.listTerminations(db)).filter((t) => t.state === 'pending' && t.purge_after <= at);
    for (const t of due) {
      await db.transaction().execute(async (trx) => {
        const row = (await store.claimDueTermination(trx, at)).find((r) => r.workspace_id === t.workspace_id);
        if (!row) return; // another instance has it, or it was cancelled
        const holds = await store.holdsOnWorkspace(trx, row.workspace_id);
        if (holds.length > 0) {
          held.push(row.workspace_id);
          return;
        }
        const shredded = await shredKey(trx, row.workspace_id);
        const counts = await store.deleteWorkspaceAccess(trx, row.workspace_id);
        const evidence = { keyDestroyed: shredded, ...counts, requestedAt: row.requested_at.toISOString() };
        await store.finishTermination(trx, row.workspace_id, 'purged', at, evidence);
        await deps.audit.record(trx, {
          actor: SYSTEM_ACTOR,
          action: 'retention.purge.run',
          resource: { type: 'workspace', id: row.workspace_id, workspace: row.workspace_id },
          outcome: 'success',
          details: { class: 'terminated-workspaces', ...evidence },
        });
        purged.push(row.workspace_id);
      });
    }
    return { purged, held };
  }

  /** Destroys the workspace key through the keys module (two steps, one transaction); false if it had none. */
  async function shredKey(trx: store.Db, workspaceId: string): Promise<boolean> {
    try {
      const { token } = await deps.workspaceKeys.requestDestroy(workspaceId, trx);
      await deps.workspaceKeys.confirmDestroy(workspaceId, token, trx);
      return true;
    } catch (err) {
      if (err instanceof AppError && (err.code === 'NOT_FOUND' || err.code === 'KEY_DESTROYED')) return false;
      throw err;
    }
  }

  return {
    db,
    ...createPersonRights({ db, audit: deps.audit }),

    async show() {
      const [classes, backupsDays, holds, terminations] = await Promise.all([
        store.readClasses(db),
        store.backupMaxAgeDays(db),
        store.listHolds(db),
        store.listTerminations(db),
      ]);
      return {
        classes: { ...classes, backups: backupsDays },
        holds: holds.map(holdOut),
        terminations: terminations.map((t) => ({
          workspace: t.workspace_id,
          state: t.state,
          requestedAt: t.requested_at.toISOString(),
          purgeAfter: t.purge_after.toISOString(),
          finishedAt: t.finished_at?.toISOString() ?? null,
        })),
      };
    },

    async setClasses(trx: store.Db, update: ClassesUpdate): Promise<Record<RetentionClass, number>> {
      for (const [cls, days] of Object.entries(update))
        if (days !== undefined) await store.writeClass(trx, cls as RetentionClass, days);
      return store.readClasses(trx);
    },

    listHolds: async (all = false) => (await store.listHolds(db, all)).map(holdOut),

    async addHold(
      trx: store.Db,
      actor: Actor,
      h: { scope: 'workspace' | 'dataset' | 'user'; target: string; workspace?: string | undefined; reason: string },
    ) {
      if (h.scope === 'dataset' && !h.workspace)
        throw new AppError('VALIDATION_FAILED', { detail: 'A dataset hold names its workspace.' });
      if (h.scope === 'workspace' && !(await store.workspaceExists(trx, h.target)))
        throw new AppError('NOT_FOUND', { detail: 'No such workspace.' });
      const id = `hold_${randomUUID()}`;
      const workspace = h.scope === 'workspace' ? h.target : (h.workspace ?? null);
      await store.insertHold(trx, {
        id,
        scope: h.scope,
        workspace_id: workspace,
        target: h.target,
        reason: h.reason,
        created_by: actor.id,
        created_at: now(),
      });
      return { id };
    },

    async releaseHold(trx: store.Db, actor: Actor, id: string): Promise<void> {
      if (!(await store.releaseHold(trx, id, actor.id, now())))
        throw new AppError('NOT_FOUND', { detail: 'No legal hold in force with that id.' });
    },

    async terminate(trx: store.Db, actor: Actor, workspaceId: string) {
      if (!(await store.workspaceExists(trx, workspaceId)))
        throw new AppError('NOT_FOUND', { detail: 'No such workspace.' });
      const existing = await store.readTermination(trx, workspaceId);
      if (existing && existing.state !== 'cancelled')
        throw new AppError('CONFLICT', {
          detail: `Workspace ${workspaceId} is already ${existing.state === 'pending' ? 'terminated' : 'purged'}.`,
        });
      const days = (await store.readClasses(trx))['terminated-workspaces'];
      const at = now();
      const purgeAfter = new Date(at.getTime() + days * DAY);
      await store.upsertTermination(trx, workspaceId, actor.id, at, purgeAfter);
      return { workspace: workspaceId, purgeAfter: purgeAfter.toISOString(), graceDays: days };
    },

    async cancelTermination(trx: store.Db, workspaceId: string): Promise<void> {
      if (!(await store.finishTermination(trx, workspaceId, 'cancelled', now())))
        throw new AppError('NOT_FOUND', { detail: 'No pending termination of that workspace.' });
    },

    /**
     * What the next purge would delete if `update` were saved, deleting nothing: the audit events
     * (count, range, and whether a legal hold holds some back), the task log files, and the pending
     * terminations with their purge dates. A new grace period applies to terminations requested
     * after the change; a pending one keeps the date its owners were given.
     */
    async preview(update: ClassesUpdate, at = now()): Promise<RetentionPreview> {
      const classes = { ...(await store.readClasses(db)), ...definedOf(update) };
      const plan = await auditPlan(at, classes.audit);
      const audit = plan.point === undefined ? undefined : await pruneExtent(db, plan.point);
      const taskLogs = await oldTaskLogs(at, classes['task-logs']);
      const pending = (await store.listTerminations(db)).filter((t) => t.state === 'pending');
      const workspaces = await Promise.all(
        pending.map(async (t) => ({
          workspace: t.workspace_id,
          purgeAfter: t.purge_after.toISOString(),
          due: t.purge_after <= at,
          held: (await store.holdsOnWorkspace(db, t.workspace_id)).length > 0,
        })),
      );
      return {
        at: at.toISOString(),
        classes,
        audit: {
          before: plan.before.toISOString(),
          events: audit?.events ?? 0,
          firstSeq: audit?.firstSeq ?? null,
          lastSeq: audit?.lastSeq ?? null,
          firstTime: audit?.firstTime ?? null,
          lastTime: audit?.lastTime ?? null,
          blockedByHold: plan.blockedByHold,
          belowRecommended: classes.audit < RECOMMENDED_AUDIT_DAYS,
        },
        taskLogs: { before: new Date(at.getTime() - classes['task-logs'] * DAY).toISOString(), files: taskLogs.length },
        terminations: {
          graceDaysForNew: classes['terminated-workspaces'],
          pending: workspaces,
        },
      };
    },

    /** One purge of every class (the scheduled job, or on demand). */
    async purge(at = now()): Promise<PurgeReport> {
      const classes = await store.readClasses(db);
      return {
        audit: await purgeAudit(at, classes.audit),
        taskLogs: await purgeTaskLogs(at, classes['task-logs']),
        workspaces: await purgeWorkspaces(at),
      };
    },
  };
}

function holdOut(h: Awaited<ReturnType<typeof store.listHolds>>[number]) {
  return {
    id: h.id,
    scope: h.scope,
    target: h.target,
    workspace: h.workspace_id,
    reason: h.reason,
    createdBy: h.created_by,
    createdAt: h.created_at.toISOString(),
    releasedAt: h.released_at?.toISOString() ?? null,
  };
}

/** The classes an update sets (an absent or undefined key leaves the class as it is). */
function definedOf(update: ClassesUpdate): Partial<Record<RetentionClass, number>> {
  return Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined));
}
