/** Kysely queries of the policies module. Only this file knows the `data_policies*` tables' SQL. */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { PolicyBody, PolicyOut } from '../../contracts/policies.ts';

export type Db = Kysely<Database> | Transaction<Database>;

const body = (v: unknown): PolicyBody => (typeof v === 'string' ? JSON.parse(v) : v) as PolicyBody;

export async function selectCurrent(db: Db, workspaceId: string, name?: string): Promise<PolicyOut[]> {
  let q = db.selectFrom('data_policies').selectAll().where('workspace_id', '=', workspaceId);
  if (name !== undefined) q = q.where('name', '=', name);
  const rows = await q.orderBy('name').execute();
  return rows.map((r) => ({
    name: r.name,
    version: r.version,
    policy: body(r.body),
    updatedBy: r.updated_by,
    updatedAt: new Date(r.updated_at),
  }));
}

export async function selectHistory(db: Db, workspaceId: string, name: string) {
  const rows = await db
    .selectFrom('data_policy_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .orderBy('version', 'desc')
    .execute();
  return rows.map((r) => ({
    version: r.version,
    policy: r.body === null ? null : body(r.body),
    deleted: r.body === null,
    changedBy: r.changed_by,
    changedAt: new Date(r.changed_at),
  }));
}

/** Serialises policy changes of one workspace (the conflict check reads, then writes). */
export async function lockWorkspace(trx: Transaction<Database>, workspaceId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`data_policies:${workspaceId}`}))`.execute(trx);
}

export async function lastVersion(db: Db, workspaceId: string, name: string): Promise<number> {
  const r = await db
    .selectFrom('data_policy_versions')
    .select((eb) => eb.fn.max('version').as('v'))
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .executeTakeFirst();
  return Number(r?.v ?? 0);
}

/** Puts `version` in force and appends it to the history (one transaction: the caller's). */
export async function writeVersion(
  trx: Transaction<Database>,
  p: { ws: string; name: string; version: number; body: PolicyBody; actor: string },
): Promise<void> {
  const json = JSON.stringify(p.body);
  await trx
    .insertInto('data_policy_versions')
    .values({ workspace_id: p.ws, name: p.name, version: p.version, body: json, changed_by: p.actor })
    .execute();
  await trx
    .insertInto('data_policies')
    .values({ workspace_id: p.ws, name: p.name, version: p.version, body: json, updated_by: p.actor })
    .onConflict((oc) =>
      oc.columns(['workspace_id', 'name']).doUpdateSet({
        version: p.version,
        body: json,
        updated_by: p.actor,
        updated_at: new Date().toISOString(),
      }),
    )
    .execute();
}

export async function deleteCurrent(
  trx: Transaction<Database>,
  p: { ws: string; name: string; version: number; actor: string },
): Promise<void> {
  await trx
    .insertInto('data_policy_versions')
    .values({ workspace_id: p.ws, name: p.name, version: p.version, body: null, changed_by: p.actor })
    .execute();
  await trx.deleteFrom('data_policies').where('workspace_id', '=', p.ws).where('name', '=', p.name).execute();
}

/** The workspace's keyed-hash key row: sealed, or destroyed (a tombstone: `sealed` NULL). */
export async function readKey(db: Db, workspaceId: string): Promise<{ sealed: Buffer | null } | undefined> {
  const r = await db
    .selectFrom('data_policy_keys')
    .select('sealed')
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  return r ? { sealed: r.sealed ? Buffer.from(r.sealed) : null } : undefined;
}

/** First use: inserts the sealed key unless a row (a key, or a destroyed key's tombstone) exists. */
export async function insertKey(db: Db, workspaceId: string, sealed: Buffer): Promise<void> {
  await db
    .insertInto('data_policy_keys')
    .values({ workspace_id: workspaceId, sealed })
    .onConflict((oc) => oc.column('workspace_id').doNothing())
    .execute();
}

/**
 * What the cached compiled policies of a workspace are checked against on every read: the
 * number of policy versions and the newest change (versions are only appended, deletion too),
 * the sealed keyed-hash key and whether it was destroyed (crypto-shredding). One indexed round trip.
 */
export async function policyStamp(
  db: Db,
  workspaceId: string,
): Promise<{ stamp: string; sealedKey: Buffer | undefined; keyDestroyed: boolean }> {
  const r = await db
    .selectFrom('data_policy_versions')
    .select((eb) => [
      eb.fn.countAll<string>().as('n'),
      eb.fn.max('changed_at').as('last'),
      eb.selectFrom('data_policy_keys').select('sealed').where('workspace_id', '=', workspaceId).as('sealed'),
      eb.selectFrom('data_policy_keys').select('destroyed_at').where('workspace_id', '=', workspaceId).as('destroyed'),
    ])
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  const last = r?.last ? new Date(r.last as string | Date).toISOString() : '-';
  return {
    stamp: `${String(r?.n ?? 0)}:${last}`,
    sealedKey: r?.sealed ? Buffer.from(r.sealed) : undefined,
    keyDestroyed: r?.destroyed != null,
  };
}
