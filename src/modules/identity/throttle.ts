/**
 * Sign-in throttling per account and per source address, in the database so every instance
 * shares it. `reserve` counts an attempt BEFORE the password is checked, in one conditional
 * upsert: the row lock of `on conflict do update … where` makes the check and the increment one
 * step, so N parallel attempts can never get more than the limit of password verifications.
 * After `freeAttempts` failures each further attempt must wait 1 s, 2 s, 4 s … (max 5 min); at
 * `maxAttempts` within the window the key is locked for `lockSeconds`. A success clears the
 * account's row (never the address's).
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';

export interface ThrottleRule {
  maxAttempts: number;
  /** Attempts before backoff starts; ≥ maxAttempts means no backoff. */
  freeAttempts: number;
  windowSeconds: number;
  lockSeconds: number;
}

const MAX_BACKOFF_SECONDS = 300;

/** Count one attempt for `key`; false when the key is locked or backing off (do not verify). */
export async function reserveAttempt(db: Kysely<Database>, key: string, rule: ThrottleRule, now: Date): Promise<boolean> {
  const windowFloor = new Date(now.getTime() - rule.windowSeconds * 1000);
  const fresh = sql`(t.window_start <= ${windowFloor} or (t.locked_until is not null and t.locked_until <= ${now}))`;
  const next = sql`(case when ${fresh} then 1 else t.attempts + 1 end)`;
  const backoff = (n: ReturnType<typeof sql>) =>
    sql`(case when ${n} >= ${rule.freeAttempts} then ${now}::timestamptz + least(power(2, ${n} - ${rule.freeAttempts}), ${MAX_BACKOFF_SECONDS}) * interval '1 second' else null end)`;
  const lock = (n: ReturnType<typeof sql>) =>
    sql`(case when ${n} >= ${rule.maxAttempts} then ${now}::timestamptz + ${rule.lockSeconds} * interval '1 second' else null end)`;
  const first = sql`1`;
  const r = await sql<{ attempts: number }>`
    insert into login_throttle as t (key, attempts, window_start, next_allowed_at, locked_until)
    values (${key}, 1, ${now}, ${backoff(first)}, ${lock(first)})
    on conflict (key) do update set
      attempts = ${next},
      window_start = case when ${fresh} then ${now} else t.window_start end,
      next_allowed_at = ${backoff(next)},
      locked_until = ${lock(next)}
    where (t.locked_until is null or t.locked_until <= ${now})
      and (t.next_allowed_at is null or t.next_allowed_at <= ${now})
      and (${fresh} or t.attempts < ${rule.maxAttempts})
    returning t.attempts`.execute(db);
  return r.rows.length === 1;
}

export async function clearAttempts(db: Kysely<Database>, key: string): Promise<void> {
  await db.deleteFrom('login_throttle').where('key', '=', key).execute();
}
