/**
 * Audit streaming to SIEM sinks (syslog over TLS, HTTPS webhook): every chained event, in seq
 * order, at least once.
 *
 * Guarantees:
 * - Order: a sink gets events in seq order, one batch at a time; a batch is sent only after the
 *   previous one was acknowledged.
 * - At least once, no gap: the delivered position (`audit_stream_positions`) moves only after the
 *   sink acknowledged the whole batch (a webhook's 2xx; for syslog, the bytes written and, after a
 *   broken connection, the last batch sent again — see audit.sinks.ts). A crash or kill -9 between
 *   delivery and the position update re-sends that batch; nothing is skipped.
 * - A sink that is down never blocks or loses events: recording and chaining do not wait for it,
 *   the events stay in the chain, and the sink's loop retries with backoff (0.5 s doubling to
 *   60 s) and catches up from its position. Memory per sink is one batch, however long it is down.
 * - Several instances may stream the same sink: the position only moves forward from the value a
 *   loop read (compare-and-set), so the worst case is a batch delivered twice.
 */
import type { AuditEvent } from '../../core/audit/event.ts';
import { eventPages, readHead, type Executor } from './audit.store.ts';
import { advancePosition, ensurePosition, eventTimeAfter, recordSinkError } from './audit.stream.store.ts';

export interface AuditSink {
  /** Stable name: the position row's key (`syslog`, `webhook`). */
  readonly name: string;
  /** Delivers a batch; resolves only once the receiver has it. Throws on any failure. */
  deliver(events: readonly AuditEvent[]): Promise<void>;
  close(): Promise<void>;
}

export interface SinkLag {
  sink: string;
  deliveredSeq: number;
  headSeq: number;
  lagEvents: number;
  oldestUndeliveredAt: string | null;
  lastError: string | null;
  deliveredAt: string | null;
}

export interface StreamerOptions {
  db: Executor;
  sinks: readonly AuditSink[];
  batchSize?: number;
  /** Poll period when a sink is up to date (default 500 ms). */
  idleMs?: number;
  maxBackoffMs?: number;
  onError?: (err: unknown, sink: string) => void;
}

/** A safe one-line description of a delivery failure (codes and our own words only). */
export function failureText(err: unknown): string {
  const e = err as { code?: unknown; status?: unknown; message?: unknown };
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.status === 'number') return `HTTP ${e.status}`;
  return err instanceof SinkError ? err.message : 'delivery failed';
}

/** A failure whose message is ours (safe to store and show). */
export class SinkError extends Error {}

export function createAuditStreamer(o: StreamerOptions) {
  const batchSize = o.batchSize ?? 500;
  const idleMs = o.idleMs ?? 500;
  const maxBackoffMs = o.maxBackoffMs ?? 60_000;
  let stopped = true;
  const loops: Promise<void>[] = [];
  const wakers = new Set<() => void>();
  const delivered = new Map<string, number>();

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done() {
        clearTimeout(t);
        wakers.delete(done);
        resolve();
      }
      wakers.add(done);
    });

  async function nextBatch(after: number): Promise<AuditEvent[]> {
    for await (const page of eventPages(o.db, after + 1, after + batchSize, batchSize)) return page;
    return [];
  }

  async function runSink(sink: AuditSink): Promise<void> {
    let backoff = 500;
    while (!stopped) {
      try {
        const pos = await ensurePosition(o.db, sink.name);
        delivered.set(sink.name, pos.seq);
        const batch = await nextBatch(pos.seq);
        if (batch.length === 0) {
          await sleep(idleMs);
          continue;
        }
        await sink.deliver(batch);
        const last = batch[batch.length - 1]!.seq;
        await advancePosition(o.db, sink.name, pos.seq, last);
        delivered.set(sink.name, last);
        backoff = 500;
      } catch (err) {
        o.onError?.(err, sink.name);
        await recordSinkError(o.db, sink.name, failureText(err)).catch(() => undefined);
        await sleep(backoff);
        backoff = Math.min(maxBackoffMs, backoff * 2);
      }
    }
  }

  return {
    sinks: o.sinks.map((s) => s.name),
    start(): void {
      if (!stopped) return;
      stopped = false;
      for (const s of o.sinks) loops.push(runSink(s));
    },
    /** Wakes idle loops (new events were chained). */
    wake(): void {
      for (const w of [...wakers]) w();
    },
    async stop(): Promise<void> {
      stopped = true;
      this.wake();
      await Promise.all(loops.splice(0));
      await Promise.all(o.sinks.map((s) => s.close().catch(() => undefined)));
    },
    /** Each sink's delivered position against the chain head (for the posture control and metrics). */
    async lag(): Promise<SinkLag[]> {
      const head = await readHead(o.db);
      const out: SinkLag[] = [];
      for (const s of o.sinks) {
        const pos = await ensurePosition(o.db, s.name);
        out.push({
          sink: s.name,
          deliveredSeq: pos.seq,
          headSeq: head.seq,
          lagEvents: Math.max(0, head.seq - pos.seq),
          oldestUndeliveredAt: head.seq > pos.seq ? await eventTimeAfter(o.db, pos.seq) : null,
          lastError: pos.lastError,
          deliveredAt: pos.deliveredAt,
        });
      }
      return out;
    },
    /** Last delivered seq per sink as this process saw it (cheap; for metrics). */
    delivered(): ReadonlyMap<string, number> {
      return delivered;
    },
  };
}

export type AuditStreamer = ReturnType<typeof createAuditStreamer>;
