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

/** Crypto-shredding: the sealed key is gone for good. */
export async function destroyWorkspaceKey(db: Db, workspaceId: string): Promise<void> {
  await db
    .updateTable('workspace_keys')
    .set({ sealed: null, destroyed_at: sql<Date>`now()` as never, destroy_token_hash: null })
    .where('workspace_id', '=', workspaceId)
    .execute();
}
