/** Kysely queries of the datasets module. Data keys appear here only wrapped. */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';

export type Db = Kysely<Database> | Transaction<Database>;
export type DatasetRow = Selectable<Database['datasets']>;
export type VersionRow = Selectable<Database['dataset_versions']>;

export const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

export function findDataset(db: Db, workspaceId: string, name: string): Promise<DatasetRow | undefined> {
  return db
    .selectFrom('datasets')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .executeTakeFirst();
}

export function listDatasets(
  db: Db,
  workspaceId: string,
  opts: {
    search?: string | undefined;
    tags?: readonly string[] | undefined;
    limit: number;
    after?: string | undefined;
  },
) {
  let q = db
    .selectFrom('datasets as d')
    .leftJoin(
      (eb) =>
        eb
          .selectFrom('dataset_versions')
          .select([
            'workspace_id',
            'dataset',
            sql<number>`max(version)`.as('latest'),
            sql<number>`count(*)`.as('versions'),
            sql<string>`coalesce(sum(plain_size), 0)`.as('bytes'),
          ])
          .where('state', '=', 'committed')
          .groupBy(['workspace_id', 'dataset'])
          .as('v'),
      (join) => join.onRef('v.workspace_id', '=', 'd.workspace_id').onRef('v.dataset', '=', 'd.name'),
    )
    .select([
      'd.name',
      'd.description',
      'd.tags',
      'd.owner',
      'd.created_by',
      'd.created_at',
      'd.updated_at',
      'v.latest',
      'v.versions',
      'v.bytes',
    ])
    .where('d.workspace_id', '=', workspaceId);
  if (opts.search) q = q.where('d.name', 'ilike', `%${opts.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  if (opts.tags?.length) {
    // A value matches a tag equal to it or under it (`pii` matches `pii.email`). Candidates only:
    // the route drops column matches on columns a data policy hides from the caller.
    const exact = [...opts.tags];
    const under = opts.tags.map((t) => `${t.replace(/_/g, '\\_')}.%`);
    const hit = (col: string) =>
      sql`(${sql.ref(col)} = any(${exact}::text[]) or ${sql.ref(col)} like any(${under}::text[]))`;
    q = q.where(
      sql<boolean>`(exists (select 1 from jsonb_array_elements_text(d.tags) as dt(tag) where ${hit('dt.tag')})
        or exists (select 1 from column_tags as ct where ct.workspace_id = d.workspace_id and ct.dataset = d.name
          and ct.status <> 'rejected' and ${hit('ct.tag')}))`,
    );
  }
  if (opts.after) q = q.where('d.name', '>', opts.after);
  return q.orderBy('d.name').limit(opts.limit).execute();
}

/**
 * Suggested and confirmed column tags of the named datasets (read only; the profiling module
 * owns `column_tags`): the list's sensitive-tag summary and tag filter.
 */
export function columnTagsOf(db: Db, workspaceId: string, names: readonly string[]) {
  if (names.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('column_tags')
    .select(['dataset', 'column_name', 'tag'])
    .where('workspace_id', '=', workspaceId)
    .where('dataset', 'in', [...names])
    .where('status', '<>', 'rejected')
    .orderBy('tag')
    .execute();
}

export async function ensureDataset(
  db: Db,
  row: {
    workspace_id: string;
    name: string;
    created_by: string;
    description?: string | undefined;
    tags?: string[] | undefined;
    metadata_only?: boolean;
  },
): Promise<boolean> {
  const inserted = await db
    .insertInto('datasets')
    .values({
      workspace_id: row.workspace_id,
      name: row.name,
      created_by: row.created_by,
      owner: row.created_by,
      description: row.description ?? '',
      tags: JSON.stringify(row.tags ?? []),
      metadata_only: row.metadata_only ?? false,
    })
    .onConflict((oc) => oc.columns(['workspace_id', 'name']).doNothing())
    .returning('name')
    .executeTakeFirst();
  return inserted !== undefined;
}

export function versions(
  db: Db,
  workspaceId: string,
  name: string,
  states: VersionRow['state'][] = ['committed'],
): Promise<VersionRow[]> {
  return db
    .selectFrom('dataset_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', name)
    .where('state', 'in', states)
    .orderBy('version')
    .execute();
}

export function version(db: Db, workspaceId: string, name: string, v: number): Promise<VersionRow | undefined> {
  return db
    .selectFrom('dataset_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', name)
    .where('version', '=', v)
    .executeTakeFirst();
}

export async function nextVersion(db: Db, workspaceId: string, name: string): Promise<number> {
  const r = await db
    .selectFrom('dataset_versions')
    .select(sql<number>`coalesce(max(version), 0)`.as('m'))
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', name)
    .executeTakeFirstOrThrow();
  return Number(r.m) + 1;
}

export function countOnDrive(db: Db, workspaceId: string, drive: string): Promise<number> {
  return db
    .selectFrom('dataset_versions')
    .select(sql<number>`count(*)`.as('n'))
    .where('workspace_id', '=', workspaceId)
    .where('drive', '=', drive)
    .executeTakeFirstOrThrow()
    .then((r) => Number(r.n));
}

/**
 * For the cleanup job to judge: `deleting` rows, and `uploading` rows of streamed uploads (rows
 * of resumable sessions are the session cleanup's, so they never fill this page).
 */
export function stale(db: Db): Promise<VersionRow[]> {
  return db
    .selectFrom('dataset_versions as v')
    .selectAll('v')
    .where((eb) =>
      eb.or([
        eb('v.state', '=', 'deleting'),
        eb.and([
          eb('v.state', '=', 'uploading'),
          eb.not(
            eb.exists(
              eb
                .selectFrom('dataset_uploads as u')
                .select('u.id')
                .whereRef('u.workspace_id', '=', 'v.workspace_id')
                .whereRef('u.dataset', '=', 'v.dataset')
                .whereRef('u.version', '=', 'v.version'),
            ),
          ),
        ]),
      ]),
    )
    .orderBy('v.created_at')
    .limit(1000)
    .execute();
}

/** The dataset's `uploading` row (at most one), with its resumable session id if it has one. */
export function inFlight(
  db: Db,
  workspaceId: string,
  name: string,
): Promise<(VersionRow & { session_id: string | null }) | undefined> {
  return db
    .selectFrom('dataset_versions as v')
    .leftJoin('dataset_uploads as u', (j) =>
      j
        .onRef('u.workspace_id', '=', 'v.workspace_id')
        .onRef('u.dataset', '=', 'v.dataset')
        .onRef('u.version', '=', 'v.version'),
    )
    .selectAll('v')
    .select('u.id as session_id')
    .where('v.workspace_id', '=', workspaceId)
    .where('v.dataset', '=', name)
    .where('v.state', '=', 'uploading')
    .executeTakeFirst();
}

export async function removeVersion(db: Db, workspaceId: string, name: string, v: number): Promise<void> {
  await db
    .deleteFrom('dataset_versions')
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', name)
    .where('version', '=', v)
    .execute();
}

/** The next version's `uploading` row (streamed uploads with their lease; sessions without). */
export async function insertUploading(
  db: Db,
  row: {
    workspaceId: string;
    name: string;
    version: number;
    drive: string;
    objectKey: string;
    objectId: string;
    keyTerm: number;
    wrappedDek: Buffer;
    mediaType: string;
    filename: string | null;
    createdBy: string;
    lease?: { owner: string; until: Date } | undefined;
  },
): Promise<void> {
  await db
    .insertInto('dataset_versions')
    .values({
      workspace_id: row.workspaceId,
      dataset: row.name,
      version: row.version,
      state: 'uploading',
      drive: row.drive,
      object_key: row.objectKey,
      object_id: row.objectId,
      key_term: row.keyTerm,
      wrapped_dek: row.wrappedDek,
      media_type: row.mediaType,
      filename: row.filename,
      created_by: row.createdBy,
      lease_owner: row.lease?.owner ?? null,
      lease_expires_at: row.lease?.until ?? null,
    })
    .execute();
}

/** Identifies one version row; `leaseOwner` (streamed uploads) narrows it to its owner's lease. */
export interface VersionKey {
  ws: string;
  name: string;
  version: number;
  leaseOwner?: string | undefined;
}

/** Extends a streamed upload's lease; false when the row is gone or another owner's. */
export async function renewLease(db: Db, h: VersionKey, until: Date): Promise<boolean> {
  const r = await db
    .updateTable('dataset_versions')
    .set({ lease_expires_at: until })
    .where('workspace_id', '=', h.ws)
    .where('dataset', '=', h.name)
    .where('version', '=', h.version)
    .where('state', '=', 'uploading')
    .where('lease_owner', '=', h.leaseOwner ?? '')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Marks an `uploading` row committed (under its lease, if it has one); undefined if it is gone. */
export async function commitVersion(
  trx: Db,
  h: VersionKey,
  r: {
    header: Buffer;
    plainSize: number;
    storedSize: number;
    sha256: string;
    tabularFormat: VersionRow['tabular_format'];
    schema: unknown;
  },
): Promise<VersionRow | undefined> {
  let q = trx
    .updateTable('dataset_versions')
    .set({
      state: 'committed',
      header: r.header,
      plain_size: r.plainSize,
      stored_size: r.storedSize,
      sha256: r.sha256,
      tabular_format: r.tabularFormat,
      schema: r.schema ? JSON.stringify(r.schema) : null,
      committed_at: new Date(),
      lease_owner: null,
      lease_expires_at: null,
    })
    .where('workspace_id', '=', h.ws)
    .where('dataset', '=', h.name)
    .where('version', '=', h.version)
    .where('state', '=', 'uploading');
  if (h.leaseOwner) q = q.where('lease_owner', '=', h.leaseOwner);
  const updated = await q.returningAll().executeTakeFirst();
  if (updated) await touchDataset(trx, h.ws, h.name);
  return updated;
}

/** Sets a dataset's description and/or tags; the updated row (undefined if it does not exist). */
export function updateDataset(
  db: Db,
  workspaceId: string,
  name: string,
  patch: { description?: string | undefined; tags?: string[] | undefined },
): Promise<DatasetRow | undefined> {
  return db
    .updateTable('datasets')
    .set({
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.tags !== undefined ? { tags: JSON.stringify(patch.tags) } : {}),
      updated_at: new Date(),
    })
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .returningAll()
    .executeTakeFirst();
}

/** The drive of the newest committed version of a dataset (where its next version belongs). */
export async function latestDrive(db: Db, workspaceId: string, name: string): Promise<string | undefined> {
  const r = await db
    .selectFrom('dataset_versions')
    .select('drive')
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', name)
    .where('state', '=', 'committed')
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
  return r?.drive;
}

/** Committed versions on a drive and their plaintext bytes. */
export async function bytesOnDrive(
  db: Db,
  workspaceId: string,
  drive: string,
): Promise<{ versions: number; bytes: number }> {
  const r = await db
    .selectFrom('dataset_versions')
    .select([sql<string>`count(*)`.as('n'), sql<string>`coalesce(sum(plain_size), 0)`.as('b')])
    .where('workspace_id', '=', workspaceId)
    .where('drive', '=', drive)
    .where('state', '=', 'committed')
    .executeTakeFirstOrThrow();
  return { versions: Number(r.n), bytes: Number(r.b) };
}

/** Datasets with at least one version (any state) on a drive, by name (at most `limit`). */
export async function datasetsOnDrive(db: Db, workspaceId: string, drive: string, limit = 20): Promise<string[]> {
  const rows = await db
    .selectFrom('dataset_versions')
    .select('dataset')
    .distinct()
    .where('workspace_id', '=', workspaceId)
    .where('drive', '=', drive)
    .orderBy('dataset')
    .limit(limit)
    .execute();
  return rows.map((r) => r.dataset);
}

export async function touchDataset(db: Db, workspaceId: string, name: string): Promise<void> {
  await db
    .updateTable('datasets')
    .set({ updated_at: new Date() })
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .execute();
}

/** Deletes an `uploading` row (only under `leaseOwner` when given). */
export async function removeUploading(db: Db, h: VersionKey): Promise<void> {
  await db
    .deleteFrom('dataset_versions')
    .where('workspace_id', '=', h.ws)
    .where('dataset', '=', h.name)
    .where('version', '=', h.version)
    .where('state', '=', 'uploading')
    .$if(h.leaseOwner !== undefined, (q) => q.where('lease_owner', '=', h.leaseOwner!))
    .execute();
}

/** Deletes a version row only if it is still as seen (same state and, for uploads, same lease owner). */
export async function removeIfUnchanged(db: Db, r: VersionRow): Promise<void> {
  let q = db
    .deleteFrom('dataset_versions')
    .where('workspace_id', '=', r.workspace_id)
    .where('dataset', '=', r.dataset)
    .where('version', '=', r.version)
    .where('state', '=', r.state);
  if (r.state === 'uploading')
    q = r.lease_owner === null ? q.where('lease_owner', 'is', null) : q.where('lease_owner', '=', r.lease_owner);
  await q.execute();
}

/** Deletes the dataset row if no version row of it is left: one statement, so a concurrent upload keeps it. */
export async function removeDatasetIfEmpty(db: Db, workspaceId: string, name: string): Promise<void> {
  await db
    .deleteFrom('datasets')
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('dataset_versions')
            .select('version')
            .where('workspace_id', '=', workspaceId)
            .where('dataset', '=', name),
        ),
      ),
    )
    .execute();
}

export async function removeDataset(db: Db, workspaceId: string, name: string): Promise<void> {
  await db.deleteFrom('datasets').where('workspace_id', '=', workspaceId).where('name', '=', name).execute();
}

/** Marks committed versions (one, or all) `deleting`. */
export function markDeleting(db: Db, workspaceId: string, name: string, v?: number): Promise<VersionRow[]> {
  let q = db
    .updateTable('dataset_versions')
    .set({ state: 'deleting' })
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', name)
    .where('state', '=', 'committed');
  if (v !== undefined) q = q.where('version', '=', v);
  return q.returningAll().execute();
}

/** Committed versions of a workspace, with their wrapped keys (the key export). */
export function committedObjects(db: Db, workspaceId: string) {
  return db
    .selectFrom('dataset_versions')
    .select([
      'dataset',
      'version',
      'drive',
      'object_key',
      'object_id',
      'wrapped_dek',
      'key_term',
      'plain_size',
      'sha256',
    ])
    .where('workspace_id', '=', workspaceId)
    .where('state', '=', 'committed')
    .orderBy('dataset')
    .orderBy('version')
    .execute();
}

// ---- resumable upload sessions ----

export type SessionRow = VersionRow & {
  id: string;
  size: string | number;
  part_size: number;
  expected_sha256: string | null;
  session_by: string;
  expires_at: Date;
};

/** Sessions joined with their version rows (the version holds the key, header, drive and object). */
const sessions = (db: Db) =>
  db
    .selectFrom('dataset_uploads as u')
    .innerJoin('dataset_versions as v', (j) =>
      j
        .onRef('v.workspace_id', '=', 'u.workspace_id')
        .onRef('v.dataset', '=', 'u.dataset')
        .onRef('v.version', '=', 'u.version'),
    )
    .selectAll('v')
    .select(['u.id', 'u.size', 'u.part_size', 'u.expected_sha256', 'u.created_by as session_by', 'u.expires_at']);

export function findSession(db: Db, workspaceId: string, name: string, id: string): Promise<SessionRow | undefined> {
  return sessions(db)
    .where('u.id', '=', id)
    .where('u.workspace_id', '=', workspaceId)
    .where('u.dataset', '=', name)
    .executeTakeFirst() as Promise<SessionRow | undefined>;
}

/** Sessions past their expiry, or whose version is no longer uploading (the cleanup job). */
export function endedSessions(db: Db): Promise<SessionRow[]> {
  return sessions(db)
    .where((eb) => eb.or([eb('u.expires_at', '<', new Date()), eb('v.state', '<>', 'uploading')]))
    .limit(1000)
    .execute() as Promise<SessionRow[]>;
}

export async function insertSession(
  db: Db,
  row: {
    id: string;
    ws: string;
    name: string;
    version: number;
    header: Buffer;
    size: number;
    partSize: number;
    sha256: string | null;
    createdBy: string;
    expiresAt: Date;
  },
): Promise<void> {
  await db
    .updateTable('dataset_versions')
    .set({ header: row.header })
    .where('workspace_id', '=', row.ws)
    .where('dataset', '=', row.name)
    .where('version', '=', row.version)
    .execute();
  await db
    .insertInto('dataset_uploads')
    .values({
      id: row.id,
      workspace_id: row.ws,
      dataset: row.name,
      version: row.version,
      size: row.size,
      part_size: row.partSize,
      expected_sha256: row.sha256,
      created_by: row.createdBy,
      expires_at: row.expiresAt,
    })
    .execute();
}

export async function deleteSession(db: Db, id: string): Promise<void> {
  await db.deleteFrom('dataset_uploads').where('id', '=', id).execute();
}

/** Part numbers of a session, all of them or only those stored. */
export async function partNumbers(db: Db, id: string, storedOnly: boolean): Promise<number[]> {
  const rows = await db
    .selectFrom('dataset_upload_parts')
    .select('part')
    .where('upload_id', '=', id)
    .$if(storedOnly, (q) => q.where('stored_size', 'is not', null))
    .orderBy('part')
    .execute();
  return rows.map((r) => r.part);
}

/** Records a part's plaintext digest (the first one sent wins) and returns the part's row. */
export async function recordPartDigest(db: Db, id: string, part: number, digest: Buffer) {
  await db
    .insertInto('dataset_upload_parts')
    .values({ upload_id: id, part, plain_sha256: digest })
    .onConflict((oc) => oc.columns(['upload_id', 'part']).doNothing())
    .execute();
  return db
    .selectFrom('dataset_upload_parts')
    .selectAll()
    .where('upload_id', '=', id)
    .where('part', '=', part)
    .executeTakeFirstOrThrow();
}

/** Marks a part stored and extends its session. */
export async function markPartStored(
  db: Db,
  id: string,
  part: number,
  storedSize: number,
  expiresAt: Date,
): Promise<void> {
  await db
    .updateTable('dataset_upload_parts')
    .set({ stored_size: storedSize, stored_at: new Date() })
    .where('upload_id', '=', id)
    .where('part', '=', part)
    .execute();
  await db.updateTable('dataset_uploads').set({ expires_at: expiresAt }).where('id', '=', id).execute();
}
