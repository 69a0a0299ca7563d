/** Kysely queries of the keys module. Only this file knows the keys tables' SQL. */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { SealedColumn } from './sealed-columns.ts';

type Db = Kysely<Database> | Transaction<Database>;

export async function readKeyringRow(db: Db, forUpdate = false) {
  let q = db.selectFrom('keyring').selectAll().where('id', '=', 1);
  if (forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function insertKeyringRow(db: Db, blob: Buffer, rootKeyId: string, activeTerm: number): Promise<void> {
  await db.insertInto('keyring').values({ id: 1, blob, root_key_id: rootKeyId, active_term: activeTerm }).execute();
}

export async function updateKeyringRow(db: Db, blob: Buffer, activeTerm: number, rootKeyId?: string): Promise<void> {
  await db
    .updateTable('keyring')
    .set({
      blob,
      active_term: activeTerm,
      updated_at: sql<string>`now()` as never,
      ...(rootKeyId ? { root_key_id: rootKeyId } : {}),
    })
    .where('id', '=', 1)
    .execute();
}

/** SQL expression of the key term stored in bytes 1..4 of a barrier ciphertext. */
function termExpr(column: string) {
  const c = sql.ref(column);
  return sql<number>`((get_byte(${c}, 1) << 24) | (get_byte(${c}, 2) << 16) | (get_byte(${c}, 3) << 8) | get_byte(${c}, 4))`;
}

/** How many sealed values each term protects in one column. Identifiers come from the registry. */
export async function countByTerm(db: Db, col: SealedColumn): Promise<Map<number, number>> {
  const t = termExpr(col.column);
  const rows = await sql<{ term: number; n: string | number }>`
    select ${t} as term, count(*) as n from ${sql.table(col.table)}
    where ${sql.ref(col.column)} is not null group by 1`.execute(db);
  return new Map(rows.rows.map((r) => [Number(r.term), Number(r.n)]));
}

/** A batch of rows sealed under a term older than `activeTerm`. */
export async function staleRows(
  db: Db,
  col: SealedColumn,
  activeTerm: number,
  limit: number,
): Promise<{ id: string; value: Buffer }[]> {
  const rows = await sql<{ id: string; value: Buffer }>`
    select ${sql.ref(col.idColumn)} as id, ${sql.ref(col.column)} as value from ${sql.table(col.table)}
    where ${sql.ref(col.column)} is not null and ${termExpr(col.column)} <> ${activeTerm}
    limit ${limit}`.execute(db);
  return rows.rows.map((r) => ({ id: String(r.id), value: Buffer.from(r.value) }));
}

/** Replace a sealed value only if it is still the one we read (no lost concurrent update). */
export async function replaceSealed(
  db: Db,
  col: SealedColumn,
  id: string,
  oldValue: Buffer,
  newValue: Buffer,
): Promise<boolean> {
  const r = await sql`
    update ${sql.table(col.table)} set ${sql.ref(col.column)} = ${newValue}
    where ${sql.ref(col.idColumn)} = ${id} and ${sql.ref(col.column)} = ${oldValue}
    returning 1 as ok`.execute(db);
  return r.rows.length === 1; // `returning`: affected-row counts differ between drivers
}

export async function tableExists(db: Db, table: string): Promise<boolean> {
  const r = await sql<{
    n: string | number;
  }>`select count(*) as n from information_schema.tables where table_name = ${table}`.execute(db);
  return Number(r.rows[0]?.n ?? 0) > 0;
}

export async function readWorkspaceKey(db: Db, workspaceId: string) {
  return db.selectFrom('workspace_keys').selectAll().where('workspace_id', '=', workspaceId).executeTakeFirst();
}

/** The first key of a workspace; a concurrent creator's key wins (the loser reads it back). */
export async function insertWorkspaceKey(
  db: Db,
  workspaceId: string,
  keyVersion: number,
  sealed: Buffer,
): Promise<void> {
  await db
    .insertInto('workspace_keys')
    .values({ workspace_id: workspaceId, key_version: keyVersion, sealed })
    .onConflict((oc) => oc.column('workspace_id').doNothing())
    .execute();
}

export async function markDestroyRequested(db: Db, workspaceId: string, at: Date, tokenHash: string): Promise<void> {
  await db
    .updateTable('workspace_keys')
    .set({ destroy_requested_at: at, destroy_token_hash: tokenHash })
    .where('workspace_id', '=', workspaceId)
    .execute();
}

/** Crypto-shredding: the sealed key is gone for good, and every superseded version with it. */
export async function destroyWorkspaceKey(db: Db, workspaceId: string): Promise<{ secretsDestroyed: number }> {
  await db
    .updateTable('workspace_keys')
    .set({ sealed: null, destroyed_at: sql<Date>`now()` as never, destroy_token_hash: null })
    .where('workspace_id', '=', workspaceId)
    .execute();
  await db.deleteFrom('workspace_key_versions').where('workspace_id', '=', workspaceId).execute();
  await destroyPolicyHashKey(db, workspaceId);
  return { secretsDestroyed: await destroyWorkspaceSecrets(db, workspaceId, 'system:key-destroyed') };
}

/**
 * The workspace's data-policy keyed-hash key (barrier-sealed, not under the workspace key) is
 * destroyed with it: the row becomes a tombstone (`sealed` NULL, `destroyed_at` set), written
 * even when the workspace never had one, so the policies module can never create a fresh key
 * for a shredded workspace and a keyed-hash mask fails closed (KEY_DESTROYED). An upsert on the
 * primary key: a concurrent first-use insert either lands first and is overwritten here, or
 * finds the tombstone and inserts nothing. Also used by a restore re-applying a shred.
 */
export async function destroyPolicyHashKey(db: Db, workspaceId: string, at?: Date): Promise<void> {
  const when = at ?? (sql<Date>`now()` as never);
  await db
    .insertInto('data_policy_keys')
    .values({ workspace_id: workspaceId, sealed: null, destroyed_at: when })
    .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ sealed: null, destroyed_at: when }))
    .execute();
}

/**
 * Vault values are barrier-sealed (DESIGN §5.3), not under the workspace key, so clearing the key
 * alone would leave them readable: every secret version of the workspace loses its value here, in
 * the destruction's transaction (`destroyed_by` names why). Runs after the key row's update, so a
 * vault write that waited on that row's lock sees the key destroyed and writes nothing. Also used
 * by a restore re-applying a shred.
 */
export async function destroyWorkspaceSecrets(db: Db, workspaceId: string, by: string, at?: Date): Promise<number> {
  const r = await db
    .updateTable('secret_versions')
    .set({ value_sealed: null, destroyed_at: at ?? (sql<Date>`now()` as never), destroyed_by: by })
    .where('workspace_id', '=', workspaceId)
    .where('value_sealed', 'is not', null)
    .returning('version')
    .execute();
  return r.length;
}

/** The current key row, locked until the end of the transaction (rotation). */
export async function lockWorkspaceKey(trx: Db, workspaceId: string) {
  return trx
    .selectFrom('workspace_keys')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .forUpdate()
    .executeTakeFirst();
}

/** Superseded versions still kept (a wrapped data key may name them), oldest first. */
export async function olderWorkspaceKeys(db: Db, workspaceId: string) {
  return db
    .selectFrom('workspace_key_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('key_version')
    .execute();
}

/** Keeps the current version as superseded and installs the next one (rotation, in `trx`). */
export async function supersedeWorkspaceKey(
  trx: Db,
  k: { workspaceId: string; oldVersion: number; oldSealed: Buffer; newVersion: number; newSealed: Buffer },
): Promise<void> {
  await trx
    .insertInto('workspace_key_versions')
    .values({
      id: workspaceKeyVersionId(k.workspaceId, k.oldVersion),
      workspace_id: k.workspaceId,
      key_version: k.oldVersion,
      sealed: k.oldSealed,
    })
    .execute();
  await trx
    .updateTable('workspace_keys')
    .set({ key_version: k.newVersion, sealed: k.newSealed, rotated_at: sql<Date>`now()` as never })
    .where('workspace_id', '=', k.workspaceId)
    .where('key_version', '=', k.oldVersion)
    .execute();
}

/** Row id (and barrier context) of a superseded workspace key version. */
export const workspaceKeyVersionId = (workspaceId: string, version: number) => `${workspaceId}:${version}`;

/** The key version a wrapped data key names: bytes 2–5 of its header (encryptor.ts), as SQL. */
const dekVersion = sql<Buffer>`substring(wrapped_dek from 2 for 4)`;

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** Wrapped data keys of a workspace by the key version that wraps them. */
export async function wrappedKeysByVersion(db: Db, workspaceId: string): Promise<Map<number, number>> {
  const rows = await db
    .selectFrom('dataset_versions')
    .select([dekVersion.as('v'), sql<string | number>`count(*)`.as('n')])
    .where('workspace_id', '=', workspaceId)
    .groupBy(dekVersion)
    .execute();
  return new Map(rows.map((r) => [Buffer.from(r.v).readUInt32BE(0), Number(r.n)]));
}

/** Up to `limit` dataset versions whose data key is wrapped by another version than `current`. */
export async function staleWrappedKeys(db: Db, workspaceId: string, current: number, limit: number) {
  return db
    .selectFrom('dataset_versions')
    .select(['dataset', 'version', 'object_id', 'wrapped_dek'])
    .where('workspace_id', '=', workspaceId)
    .where(dekVersion, '<>', u32(current))
    .limit(limit)
    .execute();
}

/** Replaces one wrapped data key if it is still `old` (a concurrent rewrap wins once). */
export async function replaceWrappedKey(
  db: Db,
  r: { workspaceId: string; dataset: string; version: number; old: Buffer; next: Buffer },
): Promise<boolean> {
  const res = await db
    .updateTable('dataset_versions')
    .set({ wrapped_dek: r.next })
    .where('workspace_id', '=', r.workspaceId)
    .where('dataset', '=', r.dataset)
    .where('version', '=', r.version)
    .where('wrapped_dek', '=', r.old)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/**
 * Deletes (destroys) superseded versions no wrapped data key names any more and superseded before
 * `before` (a grace period for a request that wrapped under the old version just before the
 * rotation and has not inserted its row yet). Returns the versions deleted.
 */
export async function retireUnusedWorkspaceKeys(db: Db, workspaceId: string, before: Date): Promise<number[]> {
  const rows = await db
    .deleteFrom('workspace_key_versions as kv')
    .where('kv.workspace_id', '=', workspaceId)
    .where('kv.superseded_at', '<', before)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('dataset_versions as d')
            .select('d.object_id')
            .where('d.workspace_id', '=', workspaceId)
            .where(sql`substring(d.wrapped_dek from 2 for 4)`, '=', sql`int4send(kv.key_version)`),
        ),
      ),
    )
    .returning('kv.key_version')
    .execute();
  return rows.map((r) => r.key_version).sort((a, b) => a - b);
}

/** Workspaces with a live key whose current version is older than `before`. */
export async function workspaceKeysOlderThan(db: Db, before: Date): Promise<string[]> {
  const rows = await db
    .selectFrom('workspace_keys')
    .select('workspace_id')
    .where('sealed', 'is not', null)
    .where(sql`coalesce(rotated_at, created_at)`, '<', before)
    .orderBy('workspace_id')
    .execute();
  return rows.map((r) => r.workspace_id);
}

/** Workspaces that still keep a superseded key version (a rewrap or a retirement is pending). */
export async function workspacesWithOlderKeys(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('workspace_key_versions')
    .select('workspace_id')
    .distinct()
    .orderBy('workspace_id')
    .execute();
  return rows.map((r) => r.workspace_id);
}
