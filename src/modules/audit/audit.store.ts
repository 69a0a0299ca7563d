/**
 * Kysely queries of the audit module; nothing else in the module writes SQL. Every function
 * takes the executor it runs on, so callers choose the transaction.
 */
import { CompiledQuery, sql, type Kysely, type Transaction } from 'kysely';
import type { SignedCheckpoint } from '../../core/audit/checkpoint.ts';
import type { AuditEvent, ChainHead } from '../../core/audit/event.ts';
import type { Database } from '../../db/schema.ts';
import { ARRAY_ROWS } from '../../db/array-rows.ts';
import { arrayRowToEvent, eventToRow, parseJson, rowToEvent } from './audit.rows.ts';

/** A database handle or an open transaction. */
export type Executor = Kysely<Database> | Transaction<Database>;

/** Rows per INSERT of chained events. */
const INSERT_CHUNK = 5000;

/** Inserts one draft, already serialized as JSON, into `audit_pending` on `ex` (the caller's transaction). */
export async function insertPending(ex: Executor, draftJson: string): Promise<void> {
  // Compiled once: every audited write runs this, and building it with the query builder each
  // time was a visible share of the append path's CPU.
  await ex.executeQuery(CompiledQuery.raw(INSERT_PENDING, [draftJson]));
}

const INSERT_PENDING = 'insert into "audit_pending" ("draft") values ($1)';

/**
 * Inserts drafts (already serialized) into `audit_pending` in ONE statement, in array order: the
 * drafts go in as one array parameter, so the statement text is the same whatever the count and
 * is prepared once per connection (group commit runs it for every batch).
 */
export async function insertPendingMany(ex: Executor, draftJsons: readonly string[]): Promise<void> {
  if (draftJsons.length === 0) return;
  await ex.executeQuery(CompiledQuery.raw(INSERT_PENDING_MANY, [draftJsons]));
}

const INSERT_PENDING_MANY =
  'insert into "audit_pending" ("draft") select d::jsonb from unnest($1::text[]) with ordinality as t(d, n) order by n';

/** Locks the head row until `trx` ends and returns it: the chainer's mutual exclusion. */
export async function lockHead(trx: Transaction<Database>): Promise<ChainHead> {
  const row = await trx
    .selectFrom('audit_head')
    .select(['seq', 'hash'])
    .where('id', '=', 1)
    .forUpdate()
    .executeTakeFirstOrThrow();
  return { seq: Number(row.seq), hash: row.hash };
}

/** The head without a lock. */
export async function readHead(ex: Executor): Promise<ChainHead> {
  const row = await ex.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  return { seq: Number(row.seq), hash: row.hash };
}

export async function setHead(trx: Transaction<Database>, head: ChainHead): Promise<void> {
  await trx
    .updateTable('audit_head')
    .set({ seq: head.seq, hash: head.hash, updated_at: sql<string>`now()` as never })
    .where('id', '=', 1)
    .execute();
}

/**
 * Removes up to `limit` pending drafts, oldest ingest first, and returns them in that order: one
 * statement. The rows are gone only if `trx` commits, so a failed batch leaves them pending.
 */
export async function takePending(
  trx: Transaction<Database>,
  limit: number,
): Promise<{ ids: number[]; drafts: unknown[] }> {
  const { rows } = await sql<{ ingest_id: string | number; draft: unknown }>`
    with taken as (
      delete from audit_pending
      where ingest_id in (select ingest_id from audit_pending order by ingest_id limit ${limit})
      returning ingest_id, draft
    )
    select ingest_id, draft from taken order by ingest_id`.execute(trx);
  return { ids: rows.map((r) => Number(r.ingest_id)), drafts: rows.map((r) => parseJson(r.draft)) };
}

export async function countPending(ex: Executor): Promise<number> {
  const r = await ex
    .selectFrom('audit_pending')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/**
 * Inserts chained events in ONE statement per {@link INSERT_CHUNK} rows: each column goes in as
 * one array parameter, zipped by `unnest` (16 parameters whatever the row count), so neither
 * the query builder nor the database parses a statement that grows with the batch.
 */
export async function insertEvents(trx: Transaction<Database>, events: readonly AuditEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += INSERT_CHUNK) {
    const rows = events.slice(i, i + INSERT_CHUNK).map(eventToRow);
    const col = <K extends keyof ReturnType<typeof eventToRow>>(k: K) => rows.map((r) => r[k]);
    await sql`insert into audit_events (seq, time, actor_id, actor_kind, auth_method, action, resource_type,
        resource_id, workspace, outcome, request_id, source_ip, user_agent, details, prev_hash, hash)
      select seq, time::timestamptz(3), actor_id, actor_kind, auth_method, action, resource_type, resource_id,
        workspace, outcome, request_id, source_ip, user_agent, details::jsonb, prev_hash, hash
      from unnest(${col('seq')}::bigint[], ${col('time')}::text[], ${col('actor_id')}::text[],
        ${col('actor_kind')}::text[], ${col('auth_method')}::text[], ${col('action')}::text[],
        ${col('resource_type')}::text[], ${col('resource_id')}::text[], ${col('workspace')}::text[],
        ${col('outcome')}::text[], ${col('request_id')}::text[], ${col('source_ip')}::text[],
        ${col('user_agent')}::text[], ${col('details')}::text[], ${col('prev_hash')}::text[], ${col('hash')}::text[])
        as t(seq, time, actor_id, actor_kind, auth_method, action, resource_type, resource_id, workspace,
          outcome, request_id, source_ip, user_agent, details, prev_hash, hash)`.execute(trx);
  }
}

/**
 * A page of events read in bulk: rows as arrays in the column order `arrayRowToEvent` expects
 * (no object per row), `time` printed by the database as `toISOString()` would.
 */
const EVENT_PAGE = sql.raw(
  `${ARRAY_ROWS}select seq, to_char(time at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as time, actor_id, ` +
    'actor_kind, auth_method, action, resource_type, resource_id, workspace, outcome, request_id, source_ip, ' +
    'user_agent, details, prev_hash, hash from audit_events',
);

function textPage(ex: Executor, after: number, upTo: number): Promise<AuditEvent[]> {
  const page = sql<unknown[]>`${EVENT_PAGE} where seq > ${after} and seq <= ${upTo} order by seq`;
  return page.execute(ex).then((r) => r.rows.map(arrayRowToEvent));
}

/** The smallest seq above `after` (up to `upTo`), if any. */
async function nextSeq(ex: Executor, after: number, upTo: number): Promise<number | undefined> {
  const r = await sql<{
    seq: unknown;
  }>`select min(seq) as seq from audit_events where seq > ${after} and seq <= ${upTo}`.execute(ex);
  const seq = r.rows[0]?.seq;
  return seq === null || seq === undefined ? undefined : Number(seq);
}

/** Pages requested ahead of the one being handed out (each its own statement; on a pool, its own connection). */
const PAGES_AHEAD = 2;

/**
 * Events `from <= seq <= to` in seq order, a page (array) at a time: seq ranges of `pageSize`
 * up to the highest seq present when reading starts. A bounded range keeps every page an index
 * range scan whatever the table statistics say (`seq > x order by seq limit n` on a freshly
 * loaded table was planned as a scan and sort of the whole table, per page). The next
 * {@link PAGES_AHEAD} ranges are requested before the current page is handed out, so the
 * database reads (on a pool, on as many connections) while the caller hashes; at most
 * PAGES_AHEAD + 1 pages are in memory.
 */
export async function* eventPages(
  ex: Executor,
  from = 1,
  to = Number.MAX_SAFE_INTEGER,
  pageSize = 5000,
): AsyncGenerator<AuditEvent[]> {
  const top = await nextSeq(ex, from - 1, to).then((first) => (first === undefined ? undefined : maxSeq(ex, to)));
  if (top === undefined) return;
  /** Everything up to `requested` has been asked for. */
  let requested = from - 1;
  let ahead: Array<{ upTo: number; page: Promise<AuditEvent[]> }> = [];
  const fill = () => {
    while (ahead.length < PAGES_AHEAD && requested < top) {
      const upTo = Math.min(top, requested + pageSize);
      const page = textPage(ex, requested, upTo);
      page.catch(() => undefined); // a consumer that stops early must not leave an unhandled rejection
      ahead.push({ upTo, page });
      requested = upTo;
    }
  };
  fill();
  for (let next = ahead.shift(); next !== undefined; next = ahead.shift()) {
    const page = await next.page;
    if (page.length === 0 && next.upTo < top && ahead.length > 0) {
      // A hole (e.g. pruned events): skip to the next event instead of reading empty ranges.
      const skipTo = ((await nextSeq(ex, next.upTo, top)) ?? top + 1) - 1;
      if (skipTo > requested) {
        ahead = [];
        requested = skipTo;
      }
    }
    fill();
    if (page.length > 0) yield page;
  }
}

async function maxSeq(ex: Executor, upTo: number): Promise<number> {
  const r = await sql<{ seq: unknown }>`select max(seq) as seq from audit_events where seq <= ${upTo}`.execute(ex);
  return Number(r.rows[0]?.seq ?? 0);
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

/** Stored checkpoints with a tree size in `(above, upTo]`, ascending (as stored; not validated). */
export async function checkpointsBetween(ex: Executor, above: number, upTo: number): Promise<unknown[]> {
  const rows = await ex
    .selectFrom('audit_checkpoints')
    .select(['body', 'signature'])
    .where('tree_size', '>', above)
    .where('tree_size', '<=', upTo)
    .orderBy('tree_size')
    .execute();
  return rows.map(rowToCheckpoint);
}

/** The checkpoint with the largest tree size, if any. */
export async function latestCheckpoint(ex: Executor): Promise<SignedCheckpoint | undefined> {
  const r = await ex
    .selectFrom('audit_checkpoints')
    .select(['body', 'signature'])
    .orderBy('tree_size', 'desc')
    .limit(1)
    .executeTakeFirst();
  return r === undefined ? undefined : (rowToCheckpoint(r) as SignedCheckpoint);
}

export async function insertCheckpoint(ex: Executor, cp: SignedCheckpoint, body: string): Promise<void> {
  await ex
    .insertInto('audit_checkpoints')
    .values({ tree_size: cp.treeSize, body, signature: cp.signature, key_id: cp.keyId })
    .execute();
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
  return (
    r && {
      key_id: r.key_id,
      public_key: Buffer.from(r.public_key),
      signing_seed_sealed: Buffer.from(r.signing_seed_sealed),
      hmac_key_sealed: Buffer.from(r.hmac_key_sealed),
    }
  );
}

export async function insertKey(ex: Executor, row: KeyRow): Promise<void> {
  await ex
    .insertInto('audit_keys')
    .values(row)
    .onConflict((oc) => oc.column('key_id').doNothing())
    .execute();
}

/** Every audit public key (raw 32 bytes) by key id. */
export async function listPublicKeys(ex: Executor): Promise<{ key_id: string; public_key: Buffer }[]> {
  const rows = await ex.selectFrom('audit_keys').select(['key_id', 'public_key']).execute();
  return rows.map((r) => ({ key_id: r.key_id, public_key: Buffer.from(r.public_key) }));
}
