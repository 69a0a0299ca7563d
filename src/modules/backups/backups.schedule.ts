/**
 * Scheduled backup work: a daily backup (then prune) at the configured UTC hour and a weekly
 * restore drill. Each run is a row in `maintenance_jobs`, planned idempotently (one per kind and
 * time) and claimed with FOR UPDATE SKIP LOCKED under a lease, so any number of instances may
 * tick and each job runs once; a job whose process died is claimed again when its lease ends.
 * Every run is audited (actor `system`), before it starts and with its result.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { AuditEventInput } from '../audit/index.ts';
import type { BackupsService } from './backups.service.ts';
import * as store from './backups.store.ts';

export interface SchedulerDeps {
  db: Kysely<Database>;
  backups: BackupsService;
  owner: string;
  /** Records an event on its own (fail-closed: a job whose event fails does not run). */
  record: (input: AuditEventInput) => Promise<void>;
  now?: () => Date;
}

const LEASE_MS = 30 * 60 * 1000;
const SYSTEM = { id: 'system:scheduler', kind: 'system' as const };

/** The next daily run (the next `hour`:00 UTC after `now`) and the next weekly drill (an hour later, on its weekday). */
export function plannedTimes(now: Date, hour: number, drillWeekday: number): { backup: Date; drill: Date } {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hour);
  const backup = new Date(today > now.getTime() ? today : today + 86_400_000);
  let drill = today + ((drillWeekday - now.getUTCDay() + 7) % 7) * 86_400_000 + 3_600_000;
  if (drill <= now.getTime()) drill += 7 * 86_400_000;
  return { backup, drill: new Date(drill) };
}

export function createBackupScheduler(deps: SchedulerDeps) {
  const now = deps.now ?? (() => new Date());
  return {
    /** One tick: plan today's runs, then run every due job this instance can claim. */
    async tick(): Promise<{ ran: string[] }> {
      await deps.backups.failExpired();
      if ((await store.listTargets(deps.db)).length === 0) return { ran: [] };
      const s = await store.readSettings(deps.db);
      const t = plannedTimes(now(), s.schedule_hour_utc, s.drill_weekday);
      await store.planJob(deps.db, randomUUID(), 'backup', t.backup);
      await store.planJob(deps.db, randomUUID(), 'drill', t.drill);
      await deps.backups.syncLedger();
      const ran: string[] = [];
      for (let job; (job = await store.claimJob(deps.db, deps.owner, now(), LEASE_MS));) {
        const action = job.kind === 'drill' ? 'backups.backup.verify' : 'backups.backup.create';
        await deps.record({
          actor: SYSTEM,
          action,
          resource: { type: 'maintenance-job', id: job.id },
          outcome: 'success',
          details: { scheduled: true, attempt: job.attempts + 1 },
        });
        try {
          const result =
            job.kind === 'drill'
              ? await deps.backups.verify()
              : { created: (await deps.backups.create({ trigger: 'scheduled' })).id, ...(await deps.backups.prune()) };
          await store.finishJob(deps.db, job.id, true, result);
          if ('deleted' in result)
            for (const id of result.deleted)
              await deps.record({
                actor: SYSTEM,
                action: 'backups.backup.prune',
                resource: { type: 'backup', id },
                outcome: 'success',
                details: { reason: 'rotation' },
              });
        } catch (err) {
          await store.finishJob(deps.db, job.id, false, { error: err instanceof Error ? err.name : 'failed' });
          await deps.record({
            actor: SYSTEM,
            action,
            resource: { type: 'maintenance-job', id: job.id },
            outcome: 'failure',
            details: { scheduled: true },
          });
        }
        ran.push(`${job.kind}:${job.id}`);
      }
      return { ran };
    },
  };
}
