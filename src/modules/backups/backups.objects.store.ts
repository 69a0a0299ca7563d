/**
 * SQL of the incremental object copy (migration 0034): which committed dataset versions a target
 * still needs, what it holds, and the records of each copy. Pages by primary key so a run holds
 * one page of rows at a time, however many versions there are.
 */
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

/** A dataset version's place in a page: (workspace, dataset, version). */
export interface VersionRef {
  workspace_id: string;
  dataset: string;
  version: number;
}

const PAGE = 200;

/**
 * One page of committed dataset versions after `after`, each with the target's record of its
 * copy (null columns: never copied). Versions of a workspace whose key is destroyed are left out:
 * their ciphertext can never be opened again, so there is nothing to keep.
 */
export async function candidatesPage(db: Db, target: string, after: VersionRef | null) {
  let q = db
    .selectFrom('dataset_versions as v')
    .innerJoin('workspace_keys as k', 'k.workspace_id', 'v.workspace_id')
    .leftJoin('backup_object_copies as c', (j) =>
      j
        .onRef('c.workspace_id', '=', 'v.workspace_id')
        .onRef('c.dataset', '=', 'v.dataset')
        .onRef('c.version', '=', 'v.version')
        .on('c.target', '=', target),
    )
    .select([
      'v.workspace_id',
      'v.dataset',
      'v.version',
      'v.drive',
      'v.object_key',
      'v.object_id',
      'v.stored_size',
      'c.object_id as copy_object_id',
      'c.source_drive as copy_drive',
      'c.source_key as copy_source_key',
      'c.source_etag as copy_etag',
      'c.size as copy_size',
      'c.gone_at as copy_gone_at',
    ])
    .where('v.state', '=', 'committed')
    .where('k.destroyed_at', 'is', null);
  if (after)
    q = q.where((eb) =>
      eb.or([
        eb('v.workspace_id', '>', after.workspace_id),
        eb.and([eb('v.workspace_id', '=', after.workspace_id), eb('v.dataset', '>', after.dataset)]),
        eb.and([
          eb('v.workspace_id', '=', after.workspace_id),
          eb('v.dataset', '=', after.dataset),
          eb('v.version', '>', after.version),
        ]),
      ]),
    );
  return q.orderBy('v.workspace_id').orderBy('v.dataset').orderBy('v.version').limit(PAGE).execute();
}

/** Records (or replaces) the copy of one version; a version that came back is no longer gone. */
export async function recordCopy(
  db: Db,
  c: Omit<Insertable<Database['backup_object_copies']>, 'gone_at'> & { size: number; copied_at: Date },
): Promise<void> {
  await db
    .insertInto('backup_object_copies')
    .values({ ...c, gone_at: null })
    .onConflict((oc) =>
      oc.columns(['target', 'workspace_id', 'dataset', 'version']).doUpdateSet({
        object_id: c.object_id,
        source_drive: c.source_drive,
        source_key: c.source_key,
        source_etag: c.source_etag,
        size: c.size,
        sha256: c.sha256,
        copy_key: c.copy_key,
        copied_at: c.copied_at,
        gone_at: null,
      }),
    )
    .execute();
}

/** The source's version tag changed without the object changing (a driver's etag format): noted, nothing copied. */
export async function updateCopyEtag(db: Db, target: string, v: VersionRef, etag: string | null): Promise<void> {
  await db
    .updateTable('backup_object_copies')
    .set({ source_etag: etag })
    .where('target', '=', target)
    .where('workspace_id', '=', v.workspace_id)
    .where('dataset', '=', v.dataset)
    .where('version', '=', v.version)
    .execute();
}

/** Copies whose version is no longer committed (deleted dataset or version): marked gone as of `at`. */
export async function markGone(db: Db, target: string, at: Date): Promise<number> {
  const r = await db
    .updateTable('backup_object_copies as c')
    .set({ gone_at: at })
    .where('c.target', '=', target)
    .where('c.gone_at', 'is', null)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('dataset_versions as v')
            .select('v.version')
            .whereRef('v.workspace_id', '=', 'c.workspace_id')
            .whereRef('v.dataset', '=', 'c.dataset')
            .whereRef('v.version', '=', 'c.version')
            .where('v.state', '=', 'committed'),
        ),
      ),
    )
    .returning('c.version')
    .execute();
  return r.length;
}

/** Copies of workspaces whose key is destroyed: ciphertext nobody can open, removed at once. */
export async function shreddedCopies(db: Db, target: string) {
  return db
    .selectFrom('backup_object_copies as c')
    .innerJoin('workspace_keys as k', 'k.workspace_id', 'c.workspace_id')
    .select(['c.workspace_id', 'c.dataset', 'c.version', 'c.copy_key'])
    .where('c.target', '=', target)
    .where('k.destroyed_at', 'is not', null)
    .execute();
}

/** Copies gone before `before` (no kept backup is older than their deletion), or all gone ones when `before` is null. */
export async function goneCopies(db: Db, target: string, before: Date | null) {
  let q = db
    .selectFrom('backup_object_copies')
    .select(['workspace_id', 'dataset', 'version', 'copy_key'])
    .where('target', '=', target)
    .where('gone_at', 'is not', null);
  if (before) q = q.where('gone_at', '<', before);
  return q.execute();
}

export async function deleteCopy(db: Db, target: string, v: VersionRef): Promise<void> {
  await db
    .deleteFrom('backup_object_copies')
    .where('target', '=', target)
    .where('workspace_id', '=', v.workspace_id)
    .where('dataset', '=', v.dataset)
    .where('version', '=', v.version)
    .execute();
}

/** One page of a target's copies after `after`, for the verification. */
export async function copiesPage(db: Db, target: string, after: VersionRef | null) {
  let q = db
    .selectFrom('backup_object_copies')
    .select(['workspace_id', 'dataset', 'version', 'copy_key', 'size', 'sha256'])
    .where('target', '=', target);
  if (after)
    q = q.where((eb) =>
      eb.or([
        eb('workspace_id', '>', after.workspace_id),
        eb.and([eb('workspace_id', '=', after.workspace_id), eb('dataset', '>', after.dataset)]),
        eb.and([
          eb('workspace_id', '=', after.workspace_id),
          eb('dataset', '=', after.dataset),
          eb('version', '>', after.version),
        ]),
      ]),
    );
  return q.orderBy('workspace_id').orderBy('dataset').orderBy('version').limit(PAGE).execute();
}

/**
 * One page of copies a restore may put back: the version is still committed with the same object,
 * and its workspace key is not destroyed (a shredded workspace's objects are never put back).
 */
export async function restorablePage(db: Db, target: string, after: VersionRef | null, workspace?: string) {
  let q = db
    .selectFrom('backup_object_copies as c')
    .innerJoin('dataset_versions as v', (j) =>
      j
        .onRef('v.workspace_id', '=', 'c.workspace_id')
        .onRef('v.dataset', '=', 'c.dataset')
        .onRef('v.version', '=', 'c.version')
        .onRef('v.object_id', '=', 'c.object_id'),
    )
    .innerJoin('workspace_keys as k', 'k.workspace_id', 'c.workspace_id')
    .select(['c.workspace_id', 'c.dataset', 'c.version', 'c.copy_key', 'c.size', 'c.sha256', 'v.drive', 'v.object_key'])
    .where('c.target', '=', target)
    .where('c.gone_at', 'is', null)
    .where('v.state', '=', 'committed')
    .where('k.destroyed_at', 'is', null);
  if (workspace) q = q.where('c.workspace_id', '=', workspace);
  if (after)
    q = q.where((eb) =>
      eb.or([
        eb('c.workspace_id', '>', after.workspace_id),
        eb.and([eb('c.workspace_id', '=', after.workspace_id), eb('c.dataset', '>', after.dataset)]),
        eb.and([
          eb('c.workspace_id', '=', after.workspace_id),
          eb('c.dataset', '=', after.dataset),
          eb('c.version', '>', after.version),
        ]),
      ]),
    );
  return q.orderBy('c.workspace_id').orderBy('c.dataset').orderBy('c.version').limit(PAGE).execute();
}

export async function setCopyObjects(db: Db, name: string, on: boolean): Promise<boolean> {
  const r = await db
    .updateTable('backup_targets')
    .set({ copy_objects: on })
    .where('name', '=', name)
    .returning('name')
    .executeTakeFirst();
  return r !== undefined;
}
