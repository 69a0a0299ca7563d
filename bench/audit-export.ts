/**
 * Audit export (issue 15): the whole filtered range streamed by `exportChunks` (1000 events per
 * internal page, keyset cursor) as JSON lines and as CSV with emails, over 100 k chained events
 * of one workspace in a file-backed PGlite. Compared with the ceiling: the same pages read with
 * `searchEvents` and nothing rendered. Also the peak heap growth, which must stay flat (the
 * export is never held whole).
 * Last line: audit-export: events=<n> jsonl_per_s=<n> csv_per_s=<n> pages_only_per_s=<n> jsonl_ratio=<x> heap_growth_mb=<n>
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { appendEvents } from '../src/core/audit/chain.ts';
import { openDatabase, type DatabaseHandle } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { exportChunks, searchEvents, type SearchQuery } from '../src/modules/audit/audit.search.ts';
import { insertEvents, readHead, setHead } from '../src/modules/audit/audit.store.ts';

const N = Number(process.argv[2] ?? 100_000);

async function fill(h: DatabaseHandle, n: number): Promise<void> {
  const time = new Date().toISOString();
  for (let done = 0; done < n; done += 5000) {
    await h.db.transaction().execute(async (trx) => {
      const head = await readHead(trx);
      const events = appendEvents(
        head,
        Array.from({ length: Math.min(5000, n - done) }, (_, i) => ({
          actor: { id: `usr_${(done + i) % 50}`, kind: 'user' as const, authMethod: 'password' },
          action: (done + i) % 2 ? 'dataset.dataset.read' : 'dataset.version.create',
          resource: { type: 'dataset', id: `ds_${done + i}`, workspace: 'ws_main' },
          outcome: 'success' as const,
          requestId: `req-${done + i}`,
          sourceIp: '192.0.2.10',
          details: { i: done + i, note: 'x'.repeat(40) },
          time,
        })),
      );
      await insertEvents(trx, events);
      await setHead(trx, { seq: events.at(-1)!.seq, hash: events.at(-1)!.hash });
    });
  }
}

async function timed(run: () => Promise<number>): Promise<{ perS: number; count: number }> {
  const t0 = performance.now();
  const count = await run();
  return { perS: count / ((performance.now() - t0) / 1000), count };
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-bench-audit-export-'));
try {
  const h = await openDatabase({ kind: 'pglite', dataDir: path.join(dir, 'db') });
  await migrateToLatest(h.db as never);
  await fill(h, N);
  const search = (q: SearchQuery) => searchEvents(h.db, q);
  const query: SearchQuery = { workspace: 'ws_main' };
  const emails = new Map(Array.from({ length: 50 }, (_, i) => [`usr_${i}`, `person${i}@corp.test`] as const));
  const heap0 = process.memoryUsage().heapUsed;
  let peak = heap0;
  const drain = async (format: 'jsonl' | 'csv') => {
    let lines = 0;
    for await (const chunk of exportChunks(search, query, format, async () => emails)) {
      for (let i = chunk.indexOf('\n'); i !== -1; i = chunk.indexOf('\n', i + 1)) lines++;
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    return format === 'csv' ? lines - 1 : lines;
  };
  const pagesOnly = await timed(async () => {
    let n = 0;
    let cursor: string | undefined;
    do {
      const page = await search({ ...query, limit: 1000, ...(cursor ? { cursor } : {}) });
      n += page.events.length;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return n;
  });
  const jsonl = await timed(() => drain('jsonl'));
  const csv = await timed(() => drain('csv'));
  for (const r of [pagesOnly, jsonl, csv]) if (r.count !== N) throw new Error(`expected ${N} events, got ${r.count}`);
  await h.close();
  const f = (x: number) => Math.round(x);
  console.log(
    `audit-export: events=${N} jsonl_per_s=${f(jsonl.perS)} csv_per_s=${f(csv.perS)} pages_only_per_s=${f(pagesOnly.perS)} jsonl_ratio=${(pagesOnly.perS / jsonl.perS).toFixed(2)} heap_growth_mb=${((peak - heap0) / 2 ** 20).toFixed(1)}`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
