/** SQL of audit streaming: one position row per sink (`audit_stream_positions`, migration 0016). */
import { sql } from 'kysely';
import type { Executor } from './audit.store.ts';

export interface SinkPosition {
  sink: string;
  seq: number;
  deliveredAt: string | null;
  lastError: string | null;
}

/** The sink's position, created at 0 (the start of the chain) on first use. */
export async function ensurePosition(ex: Executor, sink: string): Promise<SinkPosition> {
  await ex
    .insertInto('audit_stream_positions')
    .values({ sink, seq: 0 })
    .onConflict((oc) => oc.column('sink').doNothing())
    .execute();
  const r = await ex
    .selectFrom('audit_stream_positions')
    .selectAll()
    .where('sink', '=', sink)
    .executeTakeFirstOrThrow();
  return {
    sink: r.sink,
    seq: Number(r.seq),
    deliveredAt: r.delivered_at ? new Date(r.delivered_at).toISOString() : null,
    lastError: r.last_error,
  };
}

/**
 * Moves the position from `from` to `to` if nobody moved it meanwhile (another instance
 * streaming the same sink). Returns whether it moved.
 */
export async function advancePosition(ex: Executor, sink: string, from: number, to: number): Promise<boolean> {
  const r = await ex
    .updateTable('audit_stream_positions')
    .set({
      seq: to,
      delivered_at: sql<string>`now()` as never,
      last_error: null,
      updated_at: sql<string>`now()` as never,
    })
    .where('sink', '=', sink)
    .where('seq', '=', from)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function recordSinkError(ex: Executor, sink: string, error: string): Promise<void> {
  await ex
    .updateTable('audit_stream_positions')
    .set({ last_error: error.slice(0, 500), updated_at: sql<string>`now()` as never })
    .where('sink', '=', sink)
    .execute();
}

/** Time of the first event after `seq`, if any (how long the oldest undelivered event has waited). */
export async function eventTimeAfter(ex: Executor, seq: number): Promise<string | null> {
  const r = await ex
    .selectFrom('audit_events')
    .select('time')
    .where('seq', '=', seq + 1)
    .executeTakeFirst();
  return r ? new Date(r.time).toISOString() : null;
}
