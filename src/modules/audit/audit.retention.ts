/**
 * Pruning the oldest audit events without losing the proof. Events are removed only as a prefix
 * of the chain that ends exactly at a signed checkpoint (`audit_checkpoints`): that checkpoint is
 * then the start `audit verify` proves the remaining chain from (`prunedBefore` of
 * `core/audit/verify.ts`), and its `headHash` must equal the `prev_hash` of the first remaining
 * event. Checkpoints are exported with their segments when they are signed, so the pruned
 * events stay in the export area (`<logDir>/audit/`, the archive) — nothing is pruned there.
 */
import { sql } from 'kysely';
import type { SignedCheckpoint } from '../../core/audit/checkpoint.ts';
import type { Executor } from './audit.store.ts';
import { parseJson } from './audit.rows.ts';

/** The signed checkpoint the database's chain starts from after pruning, if anything was pruned. */
export async function prunedStart(ex: Executor): Promise<SignedCheckpoint | undefined> {
  const row = await ex.selectFrom('audit_retention').select('pruned_through').where('id', '=', 1).executeTakeFirst();
  if (!row) return undefined;
  const cp = await ex
    .selectFrom('audit_checkpoints')
    .select(['body', 'signature'])
    .where('tree_size', '=', Number(row.pruned_through))
    .executeTakeFirst();
  // No checkpoint at the pruned point: an empty object, which the verifier reports as malformed.
  if (!cp) return {} as SignedCheckpoint;
  const body = parseJson(cp.body);
  return { ...(body as object), signature: cp.signature } as SignedCheckpoint;
}

/**
 * The largest checkpoint tree size that may be pruned through: every event up to it is older
 * than `before`, no event up to it has seq >= `ceiling` (held events), and it is beyond what was
 * already pruned. Undefined when nothing may be pruned.
 */
export async function prunablePoint(ex: Executor, before: Date, ceiling: number): Promise<number | undefined> {
  const r = await sql<{ point: unknown }>`
    select max(c.tree_size) as point from audit_checkpoints c
    where c.tree_size > coalesce((select pruned_through from audit_retention where id = 1), 0)
      and c.tree_size < ${ceiling}
      and c.tree_size < coalesce((select min(seq) from audit_events where time >= ${before}), 9223372036854775807)
      and exists (select 1 from audit_events e where e.seq = c.tree_size)`.execute(ex);
  const p = r.rows[0]?.point;
  return p === null || p === undefined ? undefined : Number(p);
}

export interface PruneEvidence {
  events: number;
  firstSeq: number;
  lastSeq: number;
  firstTime: string | null;
  lastTime: string | null;
}

/** What `pruneThrough(through)` would delete, without deleting it (the retention preview). */
export async function pruneExtent(ex: Executor, through: number): Promise<PruneEvidence> {
  const r = await sql<{ n: unknown; first: unknown; last: unknown; ft: string | null; lt: string | null }>`
    select count(*) as n, min(seq) as first, max(seq) as last,
      to_char(min(time) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as ft,
      to_char(max(time) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as lt
    from audit_events where seq <= ${through}`.execute(ex);
  return evidenceOf(r.rows[0]);
}

/** Deletes events with seq <= `through` and moves the pruned start there; run it in the caller's transaction. */
export async function pruneThrough(ex: Executor, through: number, now: Date): Promise<PruneEvidence> {
  const r = await sql<{ n: unknown; first: unknown; last: unknown; ft: string | null; lt: string | null }>`
    with gone as (delete from audit_events where seq <= ${through} returning seq, time)
    select count(*) as n, min(seq) as first, max(seq) as last,
      to_char(min(time) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as ft,
      to_char(max(time) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as lt
    from gone`.execute(ex);
  await ex
    .insertInto('audit_retention')
    .values({ id: 1, pruned_through: through, pruned_at: now })
    .onConflict((oc) => oc.column('id').doUpdateSet({ pruned_through: through, pruned_at: now }))
    .execute();
  return evidenceOf(r.rows[0]);
}

function evidenceOf(
  row: { n: unknown; first: unknown; last: unknown; ft: string | null; lt: string | null } | undefined,
): PruneEvidence {
  return {
    events: Number(row?.n ?? 0),
    firstSeq: Number(row?.first ?? 0),
    lastSeq: Number(row?.last ?? 0),
    firstTime: row?.ft ?? null,
    lastTime: row?.lt ?? null,
  };
}
