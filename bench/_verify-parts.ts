/**
 * Where verify's time goes, part by part, over the same ≥ 100 k chained events in PostgreSQL:
 * this process's CPU per event and the PostgreSQL backends' CPU per event for
 * - `read`: the event pages alone (query, driver, row → event), nothing checked;
 * - `core`: `ChainVerifier` over the events already in memory (canonical encoding + SHA-256 + links);
 * - `verify`: the whole `verifyAuditTrail` (read + core + checkpoints + export compare), per page size.
 * `node --import tsx bench/_verify-parts.ts [events] [rounds] [pageSizes, e.g. 1000,5000]`
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { sql } from 'kysely';
import os from 'node:os';
import path from 'node:path';
import { ChainVerifier } from '../src/core/audit/chain.ts';
import type { AuditEvent } from '../src/core/audit/event.ts';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';
import { createAuditModule } from '../src/modules/audit/index.ts';
import { eventPages } from '../src/modules/audit/audit.store.ts';
import { verifyAuditTrail } from '../src/modules/audit/audit.verify.ts';
import { createTestDatabase } from '../test/helpers/db.ts';
import { seedChain } from './_audit-draft.ts';
import { backendCpuMs, selfCpuMs } from './_proc-cpu.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const n = Number(args[0] ?? 100_000);
const rounds = Number(args[1] ?? 3);
const pageSizes = (args[2] ?? '5000').split(',').map(Number);
const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-verify-parts-'));
const h = await createTestDatabase('postgres', { poolSize: 4 });
const dbName = (await sql<{ n: string }>`select current_database() as n`.execute(h.db)).rows[0]!.n;

async function measure(label: string, what: () => Promise<number>): Promise<void> {
  const c0 = selfCpuMs();
  const p0 = backendCpuMs(dbName);
  const t0 = performance.now();
  const count = await what();
  const dt = performance.now() - t0;
  const node = ((selfCpuMs() - c0) * 1000) / count;
  const pgCpu = ((backendCpuMs(dbName) - p0) * 1000) / count;
  console.log(
    `  ${label.padEnd(14)} ${((count / dt) * 1000).toFixed(0).padStart(7)} events/s  node ${node.toFixed(2)} µs  pg ${pgCpu.toFixed(2)} µs per event`,
  );
}

try {
  await seedChain(h.db, n);
  const audit = createAuditModule({ db: h.db, barrier: createBarrier({ keyring: Keyring.create() }), logDir: dir });
  await audit.checkpointNow();
  const inMemory: AuditEvent[] = [];
  for await (const page of eventPages(h.db)) inMemory.push(...page);
  for (let r = 0; r < rounds; r++) {
    console.log(`round ${r}:`);
    await measure('read', async () => {
      let count = 0;
      for await (const page of eventPages(h.db)) count += page.length;
      return count;
    });
    await measure('core', async () => {
      const v = new ChainVerifier();
      for (const e of inMemory) v.push(e);
      v.finish();
      if (v.problems.length > 0) throw new Error('core verify found problems');
      return inMemory.length;
    });
    for (const size of pageSizes) {
      await measure(`verify p=${size}`, async () => {
        const report = await verifyAuditTrail(h.db, dir, size);
        if (!report.ok) throw new Error(JSON.stringify(report.problems.slice(0, 3)));
        return report.eventsChecked;
      });
    }
  }
} finally {
  await h.close();
  await rm(dir, { recursive: true, force: true });
}
