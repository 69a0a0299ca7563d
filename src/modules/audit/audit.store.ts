/**
 * Kysely queries of the audit module; nothing else in the module writes SQL. Every function
 * takes the executor it runs on, so callers choose the transaction.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { SignedCheckpoint } from '../../core/audit/checkpoint.ts';
import type { AuditEvent, AuditEventDraft, ChainHead } from '../../core/audit/event.ts';
import type { Database } from '../../db/schema.ts';
import { eventToRow, parseJson, rowToEvent } from './audit.rows.ts';

/** A database handle or an open transaction. */
export type Executor = Kysely<Database> | Transaction<Database>;

/** Rows per multi-row INSERT (16 parameters each stays far below the 65 535 limit). */
const INSERT_CHUNK = 2000;

/** Inserts one draft into `audit_pending` on `ex` (the caller's transaction). */
export async function insertPending(ex: Executor, draft: AuditEventDraft): Promise<void> {
  await ex.insertInto('audit_pending').values({ draft: JSON.stringify(draft) }).execute();
}

/** Locks the head row until `trx` ends and returns it: the chainer's mutual exclusion. */
export async function lockHead(trx: Transaction<Database>): Promise<ChainHead> {
  const row = await trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).forUpdate().executeTakeFirstOrThrow();
  return { seq: Number(row.seq), hash: row.hash };
}

/** The head without a lock. */
export async function readHead(ex: Executor): Promise<ChainHead> {
  const row = await ex.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  return { seq: Number(row.seq), hash: row.hash };
}

export async function setHead(trx: Transaction<Database>, head: ChainHead): Promise<void> {
  await trx.updateTable('audit_head').set({ seq: head.seq, hash: head.hash, updated_at: sql<string>`now()` as never }).where('id', '=', 1).execute();
}

/** Up to `limit` pending drafts, oldest ingest first. */
export async function takePending(trx: Transaction<Database>, limit: number): Promise<{ ids: number[]; drafts: unknown[] }> {
  const rows = await trx.selectFrom('audit_pending').select(['ingest_id', 'draft']).orderBy('ingest_id').limit(limit).execute();
  return { ids: rows.map((r) => Number(r.ingest_id)), drafts: rows.map((r) => parseJson(r.draft)) };
}

export async function deletePending(trx: Transaction<Database>, ids: readonly number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += INSERT_CHUNK) {
    await trx.deleteFrom('audit_pending').where('ingest_id', 'in', ids.slice(i, i + INSERT_CHUNK)).execute();
  }
}

export async function countPending(ex: Executor): Promise<number> {
  const r = await ex.selectFrom('audit_pending').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function insertEvents(trx: Transaction<Database>, events: readonly AuditEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += INSERT_CHUNK) {
    await trx.insertInto('audit_events').values(events.slice(i, i + INSERT_CHUNK).map(eventToRow)).execute();
  }
}

/** Events with `after < seq <= upTo`, ascending, at most `limit`. */
export async function eventPage(ex: Executor, after: number, limit: number, upTo = Number.MAX_SAFE_INTEGER): Promise<AuditEvent[]> {
  const rows = await ex.selectFrom('audit_events').selectAll().where('seq', '>', after).where('seq', '<=', upTo).orderBy('seq').limit(limit).execute();
  return rows.map(rowToEvent);
}

/** Streams events `from <= seq <= to` in seq order, one page in memory at a time. */
export async function* streamEvents(ex: Executor, from = 1, to = Number.MAX_SAFE_INTEGER, pageSize = 5000): AsyncGenerator<AuditEvent> {
  let after = from - 1;
  for (;;) {
    const page = await eventPage(ex, after, pageSize, to);
    for (const e of page) yield e;
    if (page.length < pageSize) return;
    after = (page[page.length - 1] as AuditEvent).seq;
  }
}

/** The last `n` events, ascending. */
export async function lastEvents(ex: Executor, n: number): Promise<AuditEvent[]> {
  const rows = await ex.selectFrom('audit_events').selectAll().orderBy('seq', 'desc').limit(n).execute();
  return rows.map(rowToEvent).reverse();
}

/** A stored checkpoint: the signed body fields plus the signature column (not validated). */
function rowToCheckpoint(r: { body: string; signature: string }): unknown {
  const body = parseJson(r.body);
  return typeof body === 'object' && body !== null ? { ...body, signature: r.signature } : body;
}

/** Every stored checkpoint, ascending by tree size, as stored (the verifier vets them). */
export async function listCheckpoints(ex: Executor): Promise<unknown[]> {
  const rows = await ex.selectFrom('audit_checkpoints').select(['body', 'signature']).orderBy('tree_size').execute();
  return rows.map(rowToCheckpoint);
}

/** The checkpoint with the largest tree size, if any. */
export async function latestCheckpoint(ex: Executor): Promise<SignedCheckpoint | undefined> {
  const r = await ex.selectFrom('audit_checkpoints').select(['body', 'signature']).orderBy('tree_size', 'desc').limit(1).executeTakeFirst();
  return r === undefined ? undefined : (rowToCheckpoint(r) as SignedCheckpoint);
}

export async function insertCheckpoint(ex: Executor, cp: SignedCheckpoint, body: string): Promise<void> {
  await ex.insertInto('audit_checkpoints').values({ tree_size: cp.treeSize, body, signature: cp.signature, key_id: cp.keyId }).execute();
}

export interface KeyRow {
  key_id: string;
  public_key: Buffer;
  signing_seed_sealed: Buffer;
  hmac_key_sealed: Buffer;
}

/** The audit key in use: the oldest one, so racing instances that both created one agree. */
export async function currentKey(ex: Executor): Promise<KeyRow | undefined> {
  const r = await ex
    .selectFrom('audit_keys')
    .select(['key_id', 'public_key', 'signing_seed_sealed', 'hmac_key_sealed'])
    .orderBy('created_at')
    .orderBy('key_id')
    .limit(1)
    .executeTakeFirst();
  // PGlite returns bytea as Uint8Array, pg as Buffer.
  return r && { key_id: r.key_id, public_key: Buffer.from(r.public_key), signing_seed_sealed: Buffer.from(r.signing_seed_sealed), hmac_key_sealed: Buffer.from(r.hmac_key_sealed) };
}

export async function insertKey(ex: Executor, row: KeyRow): Promise<void> {
  await ex.insertInto('audit_keys').values(row).onConflict((oc) => oc.column('key_id').doNothing()).execute();
}

/** Every audit public key (raw 32 bytes) by key id. */
export async function listPublicKeys(ex: Executor): Promise<{ key_id: string; public_key: Buffer }[]> {
  const rows = await ex.selectFrom('audit_keys').select(['key_id', 'public_key']).execute();
  return rows.map((r) => ({ key_id: r.key_id, public_key: Buffer.from(r.public_key) }));
}
