/**
 * The daily purge: one `retention-purge` row per day in `maintenance_jobs` (planned idempotently
 * for 03:00 UTC), claimed with FOR UPDATE SKIP LOCKED under a lease like the backup jobs, so any
 * number of instances may tick and each day's purge runs once; a purge whose process died is
 * claimed again when its lease ends and resumes (every step is its own transaction).
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { AuditEventInput } from '../audit/index.ts';
import { SYSTEM_ACTOR, type RetentionService } from './retention.service.ts';

const KIND = 'retention-purge';
const LEASE_MS = 30 * 60 * 1000;
const HOUR_UTC = 3;

export function nextPurgeTime(now: Date): Date {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), HOUR_UTC);
  return new Date(today > now.getTime() ? today : today + 86_400_000);
}

export function createRetentionScheduler(deps: {
  db: Kysely<Database>;
  retention: RetentionService;
  owner: string;
  record: (input: AuditEventInput) => Promise<void>;
  now?: () => Date;
}) {
  const now = deps.now ?? (() => new Date());
  const claim = (at: Date) =>
    deps.db.transaction().execute(async (trx) => {
      const job = await trx
        .selectFrom('maintenance_jobs')
        .select(['id', 'attempts'])
        .where('kind', '=', KIND)
        .where('run_at', '<=', at)
        .where((eb) =>
          eb.or([eb('state', '=', 'pending'), eb.and([eb('state', '=', 'running'), eb('lease_expires_at', '<', at)])]),
        )
        .orderBy('run_at')
        .limit(1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (!job) return undefined;
      await trx
        .updateTable('maintenance_jobs')
        .set({
          state: 'running',
          lease_owner: deps.owner,
          lease_expires_at: new Date(at.getTime() + LEASE_MS),
          attempts: sql<number>`attempts + 1` as never,
        })
        .where('id', '=', job.id)
        .execute();
      return job;
    });
  const finish = (id: string, ok: boolean, result: unknown) =>
    deps.db
      .updateTable('maintenance_jobs')
      .set({ state: ok ? 'done' : 'failed', finished_at: now(), result: JSON.stringify(result), lease_owner: null })
      .where('id', '=', id)
      .execute();

  return {
    /** Plans the next purge, then runs every due one this instance can claim. */
    async tick(): Promise<{ ran: string[] }> {
      const at = now();
      await deps.db
        .insertInto('maintenance_jobs')
        .values({ id: randomUUID(), kind: KIND, run_at: nextPurgeTime(at), state: 'pending' })
        .onConflict((oc) => oc.columns(['kind', 'run_at']).doNothing())
        .execute();
      const ran: string[] = [];
      for (let job; (job = await claim(now()));) {
        const resource = { type: 'maintenance-job', id: job.id };
        await deps.record({
          actor: SYSTEM_ACTOR,
          action: 'retention.purge.run',
          resource,
          outcome: 'success',
          details: { scheduled: true, attempt: job.attempts + 1 },
        });
        try {
          await finish(job.id, true, await deps.retention.purge(now()));
        } catch (err) {
          await finish(job.id, false, { error: err instanceof Error ? err.name : 'failed' });
          await deps.record({
            actor: SYSTEM_ACTOR,
            action: 'retention.purge.run',
            resource,
            outcome: 'failure',
            details: { scheduled: true },
          });
        }
        ran.push(job.id);
      }
      return { ran };
    },
  };
}
