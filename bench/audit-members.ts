/**
 * What a workspace auditor's search costs once it also returns the members' personal identity
 * events (sign-ins, MFA, sessions: recorded without a workspace), on PostgreSQL (throwaway
 * database): 200 k events — 80 % of one workspace, 15 % of another, 5 % personal events of 2,000
 * users of whom 1,000 are members — then the newest page of 100 events and a sign-in search
 * (`identity.session.` prefix), each with and without the members' scope (median of 15 runs).
 * Last line: audit-members: page_ms=<with> page_base_ms=<without> signins_ms=<with> signins_base_ms=<without> page_ratio=<with/without>
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { migrateToLatest } from '../src/db/migrate.ts';
import { createAuditModule } from '../src/modules/audit/index.ts';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { createTestDatabase } from '../test/helpers/db.ts';

const EVENTS = 200_000;
const USERS = Array.from({ length: 2000 }, () => randomUUID());
const MEMBERS = USERS.slice(0, 1000);

async function median(runs: number, f: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const database = await createTestDatabase('postgres');
try {
  await migrateToLatest(database.db as never);
  // Rows are written directly (the search reads columns; the chain's hashes play no part here).
  await sql`insert into audit_events (seq, time, actor_id, actor_kind, action, resource_type, resource_id, workspace, outcome, details, prev_hash, hash)
    select g, now() - make_interval(secs => ${EVENTS} - g),
      case when g % 20 = 0 then (${sql.val(USERS)}::text[])[1 + g % 2000] else 'usr_' || (g % 97) end,
      'user',
      case when g % 20 = 0 then 'identity.session.create' else 'vault.secret.read' end,
      case when g % 20 = 0 then 'user' else 'secret' end,
      case when g % 20 = 0 then (${sql.val(USERS)}::text[])[1 + g % 2000] else 'sec_' || g end,
      case when g % 20 = 0 then null when g % 20 < 4 then 'ws_other' else 'ws_main' end,
      'success', '{}'::jsonb, repeat('0', 64), repeat('0', 64)
    from generate_series(1, ${EVENTS}) g`.execute(database.db);
  await sql`analyze audit_events`.execute(database.db);
  const audit = createAuditModule({ db: database.db, barrier: createBarrier(), logDir: '/nonexistent' });
  const page = { workspace: 'ws_main', order: 'desc' as const, limit: 100 };
  const signins = { ...page, actionPrefix: 'identity.session.' };
  const scope = { members: MEMBERS };
  const check = await audit.search(signins, undefined, scope);
  if (check.events.length !== 100) throw new Error(`expected a full page of sign-ins, got ${check.events.length}`);
  const pageMs = await median(15, () => audit.search(page, undefined, scope));
  const pageBase = await median(15, () => audit.search(page));
  const signinsMs = await median(15, () => audit.search(signins, undefined, scope));
  const signinsBase = await median(15, () => audit.search(signins));
  const f = (n: number) => n.toFixed(2);
  console.log(
    `audit-members: page_ms=${f(pageMs)} page_base_ms=${f(pageBase)} signins_ms=${f(signinsMs)} signins_base_ms=${f(signinsBase)} page_ratio=${f(pageMs / pageBase)}`,
  );
} finally {
  await database.close();
}
