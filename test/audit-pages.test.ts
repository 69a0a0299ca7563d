/**
 * `eventPages`, the bulk read under verify, export and streaming, on both backends: rows come
 * back as arrays (the ARRAY_ROWS hint) and become the same events `appendEvents` made; several
 * pages are requested ahead, and holes in seq (deleted or pruned events) are skipped without
 * losing, repeating or reordering any event, whatever the page size and the bounds.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { appendEvents } from '../src/core/audit/chain.ts';
import type { AuditEvent } from '../src/core/audit/event.ts';
import { eventPages, insertEvents, setHead } from '../src/modules/audit/audit.store.ts';
import { BACKENDS, createTestDatabase, postgresAvailable, type Backend } from './helpers/db.ts';
import { requirePeer } from './helpers/peers.ts';

const time = '2026-03-01T10:00:00.123Z';

/** Events 1..n with optional fields present on some and absent on others. */
function chain(n: number): AuditEvent[] {
  return appendEvents(
    { seq: 0, hash: '0'.repeat(64) },
    Array.from({ length: n }, (_, i) => ({
      time,
      actor:
        i % 2 === 0
          ? { id: `usr_${i}`, kind: 'user' as const, authMethod: 'password' }
          : { id: 'sys', kind: 'system' as const },
      action: 'vault.secret.read',
      resource: i % 3 === 0 ? { type: 'secret', id: `sec_${i}`, workspace: 'ws_a' } : { type: 'installation' },
      outcome: 'success' as const,
      ...(i % 2 === 0 ? { requestId: `req-${i}`, sourceIp: '2001:db8::1', userAgent: 'test/1 ✓' } : {}),
      details: { i, nested: { list: [1, 'two', null, true] }, text: 'ünïcode' },
    })),
  );
}

async function read(db: Parameters<typeof eventPages>[0], from: number, to: number, size: number) {
  const pages: AuditEvent[][] = [];
  for await (const page of eventPages(db, from, to, size)) pages.push(page);
  return pages;
}

describe('audit event pages', () => {
  for (const backend of BACKENDS) {
    test(`on ${backend}: every stored event once, in order, equal to what was chained, across holes`, async (t: TestContext) => {
      if (backend === 'postgres' && !requirePeer(t, 'PostgreSQL', await postgresAvailable(), 'start it')) return;
      const h = await createTestDatabase(backend as Backend);
      try {
        const events = chain(60);
        await h.db.transaction().execute(async (trx) => {
          await insertEvents(trx, events);
          await setHead(trx, { seq: 60, hash: events[59]!.hash });
        });
        // Holes: one event, a run longer than several pages, and the first and the last event.
        const removed = new Set([1, 7, ...Array.from({ length: 25 }, (_, i) => 20 + i), 60]);
        await sql`delete from audit_events where seq = any(${[...removed]}::bigint[])`.execute(h.db);
        const kept = events.filter((e) => !removed.has(e.seq));

        for (const size of [1, 3, 4, 100]) {
          const pages = await read(h.db, 1, Number.MAX_SAFE_INTEGER, size);
          assert.ok(
            pages.every((p) => p.length > 0 && p.length <= size),
            `page size ${size}`,
          );
          assert.deepEqual(pages.flat(), kept, `page size ${size}`);
        }
        // Bounds inside the table, starting and ending in holes.
        const bounded = (await read(h.db, 5, 47, 2)).flat();
        assert.deepEqual(
          bounded.map((e) => e.seq),
          kept.filter((e) => e.seq >= 5 && e.seq <= 47).map((e) => e.seq),
        );
        assert.deepEqual(await read(h.db, 20, 44, 3), []);
      } finally {
        await h.close();
      }
    });
  }
});
