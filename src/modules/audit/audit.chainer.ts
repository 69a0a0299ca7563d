/**
 * The chainer: moves drafts from `audit_pending` into the hash chain.
 *
 * Guarantees:
 * - One chainer at a time across every instance: each batch runs in one transaction that first
 *   locks the single `audit_head` row (`SELECT … FOR UPDATE`).
 * - A batch is atomic: the pending rows are taken (deleted), the events inserted and the head
 *   moved in the same transaction, so a draft is chained exactly once or not at all.
 * - Drafts are chained in ingest order as far as committed rows show it; the total order is the
 *   chain's `seq`.
 * - A pending row that is not a valid draft (only possible by writing to the table directly) is
 *   chained as an `audit.pending.rejected` system event naming its ingest id, so the chain never
 *   stalls and the anomaly is itself evidence.
 */
import type { Kysely } from 'kysely';
import { appendEvents } from '../../core/audit/chain.ts';
import {
  AuditFormatError,
  auditEventDraftSchema,
  type AuditEvent,
  type AuditEventDraft,
  type ChainHead,
} from '../../core/audit/event.ts';
import type { Database } from '../../db/schema.ts';
import { insertEvents, lockHead, setHead, takePending } from './audit.store.ts';

/** Rows chained per transaction. */
export const DEFAULT_BATCH_SIZE = 5000;

/** Receives a batch's events and their export lines, once the batch has committed. */
export type OnChained = (events: readonly AuditEvent[], lines: readonly Buffer[]) => void;

/** Chains one batch; returns how many events it added. */
export async function chainBatch(
  db: Kysely<Database>,
  batchSize: number,
  now: () => Date,
  onChained?: OnChained,
): Promise<number> {
  const lines: Buffer[] = [];
  const events = await db.transaction().execute(async (trx) => {
    const head = await lockHead(trx);
    const { ids, drafts } = await takePending(trx, batchSize);
    if (ids.length === 0) return [];
    lines.length = 0;
    const chained = chainDrafts(head, drafts, ids, now, onChained === undefined ? undefined : lines);
    await insertEvents(trx, chained);
    const last = chained[chained.length - 1];
    if (last !== undefined) await setHead(trx, { seq: last.seq, hash: last.hash });
    return chained;
  });
  if (events.length > 0) onChained?.(events, lines);
  return events.length;
}

/** Chains until nothing is pending (as seen when the last batch started); returns the total. */
export async function chainAll(
  db: Kysely<Database>,
  batchSize: number,
  now: () => Date,
  onChained?: OnChained,
): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await chainBatch(db, batchSize, now, onChained);
    total += n;
    if (n < batchSize) return total;
  }
}

/** Fast path: the whole batch validates once inside `appendEvents`; only a bad batch is sifted. */
function chainDrafts(
  head: ChainHead,
  drafts: unknown[],
  ids: number[],
  now: () => Date,
  lines: Buffer[] | undefined,
): AuditEvent[] {
  try {
    return appendEvents(head, drafts as AuditEventDraft[], lines);
  } catch (err) {
    if (!(err instanceof AuditFormatError)) throw err;
    if (lines !== undefined) lines.length = 0;
    return appendEvents(
      head,
      drafts.map((d, i) => asDraft(d, ids[i] as number, now)),
      lines,
    );
  }
}

function asDraft(raw: unknown, ingestId: number, now: () => Date): AuditEventDraft {
  const parsed = auditEventDraftSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  return {
    time: now().toISOString(),
    actor: { id: 'strongroom', kind: 'system' },
    action: 'audit.pending.rejected',
    resource: { type: 'audit_pending', id: String(ingestId) },
    outcome: 'failure',
    details: { reason: 'a pending row was not a valid audit draft (written outside the audit module?)' },
  };
}
