import type { Kysely } from 'kysely';
import { appendEvents } from '../src/core/audit/chain.ts';
import type { Database } from '../src/db/schema.ts';
import { insertEvents, readHead, setHead } from '../src/modules/audit/audit.store.ts';

/**
 * The audit event draft every audit bench writes: one writer's i-th secret read, the same size
 * and shape in each bench so their figures compare.
 */
export function benchDraft(w: number, i: number) {
  return {
    actor: { id: `usr_${w}`, kind: 'user' as const, authMethod: 'password' },
    action: 'vault.secret.read',
    resource: { type: 'secret', id: `sec_${w}_${i}`, workspace: 'ws_main' },
    outcome: 'success' as const,
    requestId: `req-${w}-${i}`,
    sourceIp: '192.0.2.10',
    userAgent: 'bench/1.0',
    details: { writer: w, i, note: 'x'.repeat(40) },
  };
}

/** The same draft as a stored event's input, with its time. */
export const timedBenchDraft = (w: number, i: number, time: string) => ({ time, ...benchDraft(w, i) });

/** Writes `n` chained events (32 writers' drafts, 5,000 a transaction) straight into the store. */
export async function seedChain(db: Kysely<Database>, n: number): Promise<void> {
  const time = new Date().toISOString();
  for (let done = 0; done < n; done += 5000) {
    await db.transaction().execute(async (trx) => {
      const head = await readHead(trx);
      const events = appendEvents(
        head,
        Array.from({ length: Math.min(5000, n - done) }, (_, i) => timedBenchDraft(i % 32, done + i, time)),
      );
      await insertEvents(trx, events);
      await setHead(trx, { seq: events.at(-1)!.seq, hash: events.at(-1)!.hash });
    });
  }
}
