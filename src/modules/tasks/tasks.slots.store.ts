/**
 * Periodic background work run once per period across every server on one database: the first
 * server to insert the period's row in `maintenance_jobs` (unique on kind and run_at) runs it;
 * the others' inserts do nothing. A server that dies while running leaves the row `running`
 * with its lease; the next period runs anyway (these are periodic checks, not backlogs).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';

/** The start of the period of `periodMs` that holds `now` (periods aligned to the epoch). */
export function periodStart(now: Date, periodMs: number): Date {
  return new Date(Math.floor(now.getTime() / periodMs) * periodMs);
}

/** True if this server claimed `kind`'s current period (and must run it), false if another did. */
export async function claimPeriod(
  db: Kysely<Database>,
  kind: string,
  periodMs: number,
  owner: string,
  now: Date,
): Promise<boolean> {
  const runAt = periodStart(now, periodMs);
  const r = await db
    .insertInto('maintenance_jobs')
    .values({
      id: `${kind}:${runAt.toISOString()}`,
      kind,
      run_at: runAt,
      state: 'running',
      attempts: 1,
      lease_owner: owner,
      lease_expires_at: new Date(runAt.getTime() + periodMs),
    })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/** Marks a claimed period done or failed. */
export async function finishPeriod(
  db: Kysely<Database>,
  kind: string,
  periodMs: number,
  now: Date,
  ok: boolean,
): Promise<void> {
  await db
    .updateTable('maintenance_jobs')
    .set({ state: ok ? 'done' : 'failed', finished_at: new Date(), lease_owner: null })
    .where('id', '=', `${kind}:${periodStart(now, periodMs).toISOString()}`)
    .execute();
}
