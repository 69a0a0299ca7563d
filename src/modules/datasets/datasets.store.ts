/** Kysely queries of the datasets module. Data keys appear here only wrapped. */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';

export type Db = Kysely<Database> | Transaction<Database>;
export type DatasetRow = Selectable<Database['datasets']>;
export type VersionRow = Selectable<Database['dataset_versions']>;

export const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

export function findDataset(db: Db, ws: string, name: string): Promise<DatasetRow | undefined> {
  return db.selectFrom('datasets').selectAll().where('workspace_id', '=', ws).where('name', '=', name).executeTakeFirst();
}

export function listDatasets(db: Db, ws: string, opts: { search?: string | undefined; tag?: string | undefined; limit: number; after?: string | undefined }) {
  let q = db
    .selectFrom('datasets as d')
    .leftJoin(
      (eb) =>
        eb
          .selectFrom('dataset_versions')
          .select(['workspace_id', 'dataset', sql<number>`max(version)`.as('latest'), sql<number>`count(*)`.as('versions'), sql<string>`coalesce(sum(plain_size), 0)`.as('bytes')])
          .where('state', '=', 'committed')
          .groupBy(['workspace_id', 'dataset'])
          .as('v'),
      (join) => join.onRef('v.workspace_id', '=', 'd.workspace_id').onRef('v.dataset', '=', 'd.name'),
    )
    .select(['d.name', 'd.description', 'd.tags', 'd.owner', 'd.created_by', 'd.created_at', 'd.updated_at', 'v.latest', 'v.versions', 'v.bytes'])
    .where('d.workspace_id', '=', ws);
  if (opts.search) q = q.where('d.name', 'ilike', `%${opts.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  if (opts.tag) q = q.where(sql<boolean>`d.tags ? ${opts.tag}`);
  if (opts.after) q = q.where('d.name', '>', opts.after);
  return q.orderBy('d.name').limit(opts.limit).execute();
}

export async function ensureDataset(db: Db, row: { workspace_id: string; name: string; created_by: string; description?: string | undefined; tags?: string[] | undefined }): Promise<boolean> {
  const inserted = await db
    .insertInto('datasets')
    .values({ workspace_id: row.workspace_id, name: row.name, created_by: row.created_by, owner: row.created_by, description: row.description ?? '', tags: JSON.stringify(row.tags ?? []) })
    .onConflict((oc) => oc.columns(['workspace_id', 'name']).doNothing())
    .returning('name')
    .executeTakeFirst();
  return inserted !== undefined;
}

export function versions(db: Db, ws: string, name: string, states: VersionRow['state'][] = ['committed']): Promise<VersionRow[]> {
  return db.selectFrom('dataset_versions').selectAll().where('workspace_id', '=', ws).where('dataset', '=', name).where('state', 'in', states).orderBy('version').execute();
}

export function version(db: Db, ws: string, name: string, v: number): Promise<VersionRow | undefined> {
  return db.selectFrom('dataset_versions').selectAll().where('workspace_id', '=', ws).where('dataset', '=', name).where('version', '=', v).executeTakeFirst();
}

export async function nextVersion(db: Db, ws: string, name: string): Promise<number> {
  const r = await db.selectFrom('dataset_versions').select(sql<number>`coalesce(max(version), 0)`.as('m')).where('workspace_id', '=', ws).where('dataset', '=', name).executeTakeFirstOrThrow();
  return Number(r.m) + 1;
}

export function countOnDrive(db: Db, ws: string, drive: string): Promise<number> {
  return db
    .selectFrom('dataset_versions')
    .select(sql<number>`count(*)`.as('n'))
    .where('workspace_id', '=', ws)
    .where('drive', '=', drive)
    .executeTakeFirstOrThrow()
    .then((r) => Number(r.n));
}

/** Uploads started before `before` that never committed (a crash, a kill -9), and unfinished deletions. */
/** `uploading` rows (with their resumable session, if any) and `deleting` rows, for the cleanup job to judge. */
export function stale(db: Db): Promise<(VersionRow & { session_id: string | null })[]> {
  return db
    .selectFrom('dataset_versions as v')
    .leftJoin('dataset_uploads as u', (j) => j.onRef('u.workspace_id', '=', 'v.workspace_id').onRef('u.dataset', '=', 'v.dataset').onRef('u.version', '=', 'v.version'))
    .selectAll('v')
    .select('u.id as session_id')
    .where('v.state', 'in', ['uploading', 'deleting'])
    .orderBy('v.created_at')
    .limit(1000)
    .execute();
}

/** The dataset's `uploading` row (at most one), with its resumable session id if it has one. */
export function inFlight(db: Db, ws: string, name: string): Promise<(VersionRow & { session_id: string | null }) | undefined> {
  return db
    .selectFrom('dataset_versions as v')
    .leftJoin('dataset_uploads as u', (j) => j.onRef('u.workspace_id', '=', 'v.workspace_id').onRef('u.dataset', '=', 'v.dataset').onRef('u.version', '=', 'v.version'))
    .selectAll('v')
    .select('u.id as session_id')
    .where('v.workspace_id', '=', ws)
    .where('v.dataset', '=', name)
    .where('v.state', '=', 'uploading')
    .executeTakeFirst();
}

export async function removeVersion(db: Db, ws: string, name: string, v: number): Promise<void> {
  await db.deleteFrom('dataset_versions').where('workspace_id', '=', ws).where('dataset', '=', name).where('version', '=', v).execute();
}
