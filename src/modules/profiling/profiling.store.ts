/** Every SQL statement of the profiling module (`dataset_profiles`, `column_tags`, migrations 0021 and 0036). */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';

type Db = Kysely<Database>;

export type ProfileState = 'pending' | 'running' | 'done' | 'failed';

export interface ProfileRow {
  workspaceId: string;
  dataset: string;
  version: number;
  state: ProfileState;
  progress: Record<string, unknown>;
  taskId: string | null;
  sha256: string | null;
  profile: unknown;
  error: string | null;
  requestedAt: string;
  updatedAt: string;
}

export interface TagRow {
  column: string;
  tag: string;
  status: 'suggested' | 'confirmed' | 'rejected';
  source: 'detected' | 'steward';
  confidence: number | null;
  updatedBy: string;
  updatedAt: string;
}

const key = (workspaceId: string, dataset: string, version: number) => ({
  workspace_id: workspaceId,
  dataset,
  version,
});

export async function getProfile(
  db: Db,
  ws: string,
  dataset: string,
  version: number,
): Promise<ProfileRow | undefined> {
  const r = await db
    .selectFrom('dataset_profiles')
    .selectAll()
    .where('workspace_id', '=', ws)
    .where('dataset', '=', dataset)
    .where('version', '=', version)
    .executeTakeFirst();
  return r
    ? {
        workspaceId: r.workspace_id,
        dataset: r.dataset,
        version: r.version,
        state: r.state,
        progress: (r.progress ?? {}) as Record<string, unknown>,
        taskId: r.task_id,
        sha256: r.sha256,
        profile: r.profile,
        error: r.error,
        requestedAt: new Date(r.requested_at).toISOString(),
        updatedAt: new Date(r.updated_at).toISOString(),
      }
    : undefined;
}

/** The newest stored (done) profile of `dataset` older than `version`, for drift (the caller checks it still exists). */
export async function previousDone(
  db: Db,
  workspaceId: string,
  dataset: string,
  version: number,
): Promise<{ version: number; profile: unknown } | undefined> {
  return db
    .selectFrom('dataset_profiles')
    .select(['version', 'profile'])
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', dataset)
    .where('version', '<', version)
    .where('state', '=', 'done')
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/**
 * Asks for a (re)computation: a new row is `pending`; an existing one becomes `pending` again
 * when `force` (a recompute) and it is not running. True when the job has something to do.
 */
export async function request(
  db: Db,
  workspaceId: string,
  dataset: string,
  version: number,
  force: boolean,
  now: Date,
) {
  const inserted = await db
    .insertInto('dataset_profiles')
    .values({ ...key(workspaceId, dataset, version), state: 'pending', requested_at: now, updated_at: now })
    .onConflict((oc) => oc.columns(['workspace_id', 'dataset', 'version']).doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return true;
  if (!force) return false;
  const r = await db
    .updateTable('dataset_profiles')
    .set({ state: 'pending', progress: '{}', error: null, requested_at: now, updated_at: now })
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', dataset)
    .where('version', '=', version)
    .where('state', 'in', ['done', 'failed'])
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Takes the oldest pending row (running, with its task); undefined when none is pending. */
/** Who runs a job and for how long a claim or renewal holds it. */
export interface JobLease {
  owner: string;
  ms: number;
}

/**
 * Claims the oldest pending job — or a running one whose lease has ended (its server died or
 * stalled) — with FOR UPDATE SKIP LOCKED, so two servers never claim the same row; the job is
 * then this server's until `lease.ms` from `now`, renewed by `renewLease` while it runs.
 * A running row without a lease (left by a build before migration 0036) counts as ended.
 */
export async function claimNext(db: Db, lease: JobLease, taskId: () => string, now: Date) {
  return db.transaction().execute(async (trx) => {
    const next = await trx
      .selectFrom('dataset_profiles')
      .select(['workspace_id', 'dataset', 'version'])
      .where((eb) =>
        eb.or([
          eb('state', '=', 'pending'),
          eb.and([
            eb('state', '=', 'running'),
            eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)]),
          ]),
        ]),
      )
      .orderBy('requested_at')
      .limit(1)
      .forUpdate()
      .skipLocked()
      .executeTakeFirst();
    if (!next) return undefined;
    await trx
      .updateTable('dataset_profiles')
      .set({
        state: 'running',
        task_id: taskId(),
        progress: '{}',
        updated_at: now,
        lease_owner: lease.owner,
        lease_expires_at: new Date(now.getTime() + lease.ms),
      })
      .where('workspace_id', '=', next.workspace_id)
      .where('dataset', '=', next.dataset)
      .where('version', '=', next.version)
      .execute();
    return { ws: next.workspace_id, dataset: next.dataset, version: next.version };
  });
}

/** Extends this server's lease on a running job; false when the job is no longer ours (taken over, deleted). */
export async function renewLease(
  db: Db,
  workspaceId: string,
  dataset: string,
  version: number,
  lease: JobLease,
  now: Date,
): Promise<boolean> {
  const r = await db
    .updateTable('dataset_profiles')
    .set({ lease_expires_at: new Date(now.getTime() + lease.ms) })
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', dataset)
    .where('version', '=', version)
    .where('state', '=', 'running')
    .where('lease_owner', '=', lease.owner)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function setProgress(
  db: Db,
  workspaceId: string,
  dataset: string,
  version: number,
  p: object,
  taskId: string,
  owner?: string,
) {
  let q = db
    .updateTable('dataset_profiles')
    .set({ progress: JSON.stringify(p), task_id: taskId, updated_at: new Date() })
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', dataset)
    .where('version', '=', version);
  if (owner !== undefined) q = q.where('lease_owner', '=', owner);
  await q.execute();
}

/**
 * Ends a job. With `owner`, only while the job is still that server's: a server that lost its
 * lease (another took the job over) writes nothing.
 */
export async function finish(
  db: Db,
  workspaceId: string,
  dataset: string,
  version: number,
  out: { state: 'done'; profile: object; sha256: string } | { state: 'failed'; error: string },
  now: Date,
  owner?: string,
) {
  let q = db
    .updateTable('dataset_profiles')
    .set({
      state: out.state,
      ...(out.state === 'done' ? { sha256: out.sha256 } : {}),
      profile: out.state === 'done' ? JSON.stringify(out.profile) : null,
      error: out.state === 'failed' ? out.error : null,
      updated_at: now,
      lease_owner: null,
      lease_expires_at: null,
    })
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', dataset)
    .where('version', '=', version);
  if (owner !== undefined) q = q.where('lease_owner', '=', owner);
  await q.execute();
}

/**
 * At start: running jobs whose server is certainly dead (`isDead`: this data directory's
 * previous process) or that have no lease (an older build's) go back to pending. A job another
 * live server holds is left alone; one whose server died elsewhere is claimed when its lease ends.
 */
export async function requeueRunning(db: Db, now: Date, isDead: (owner: string | null) => boolean): Promise<number> {
  const running = await db
    .selectFrom('dataset_profiles')
    .select(['workspace_id', 'dataset', 'version', 'lease_owner'])
    .where('state', '=', 'running')
    .execute();
  let n = 0;
  for (const r of running) {
    if (r.lease_owner !== null && !isDead(r.lease_owner)) continue;
    let q = db
      .updateTable('dataset_profiles')
      .set({ state: 'pending', updated_at: now, lease_owner: null, lease_expires_at: null })
      .where('workspace_id', '=', r.workspace_id)
      .where('dataset', '=', r.dataset)
      .where('version', '=', r.version)
      .where('state', '=', 'running');
    q = r.lease_owner === null ? q.where('lease_owner', 'is', null) : q.where('lease_owner', '=', r.lease_owner);
    n += Number((await q.executeTakeFirst()).numUpdatedRows);
  }
  return n;
}

/** Replaces one stored profile (a column's values scrubbed after it was tagged sensitive). */
export async function replaceProfile(db: Db, workspaceId: string, dataset: string, version: number, profile: object) {
  await db
    .updateTable('dataset_profiles')
    .set({ profile: JSON.stringify(profile) })
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', dataset)
    .where('version', '=', version)
    .execute();
}

export async function doneProfiles(db: Db, workspaceId: string, dataset: string) {
  return db
    .selectFrom('dataset_profiles')
    .select(['version', 'profile'])
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', dataset)
    .where('state', '=', 'done')
    .execute();
}

export async function tags(db: Db, workspaceId: string, dataset: string, column?: string): Promise<TagRow[]> {
  let q = db
    .selectFrom('column_tags')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', dataset);
  if (column !== undefined) q = q.where('column_name', '=', column);
  const rows = await q.orderBy('column_name').orderBy('tag').execute();
  return rows.map((r) => ({
    column: r.column_name,
    tag: r.tag,
    status: r.status,
    source: r.source,
    confidence: r.confidence,
    updatedBy: r.updated_by,
    updatedAt: new Date(r.updated_at).toISOString(),
  }));
}

/** Detection's suggestions: new (column, tag) pairs only — a steward's decision is never overwritten. */
export async function suggest(
  db: Db,
  workspaceId: string,
  dataset: string,
  found: { column: string; tag: string; confidence: number }[],
  now: Date,
) {
  if (found.length === 0) return;
  await db
    .insertInto('column_tags')
    .values(
      found.map((f) => ({
        workspace_id: workspaceId,
        dataset,
        column_name: f.column,
        tag: f.tag,
        status: 'suggested' as const,
        source: 'detected' as const,
        confidence: f.confidence,
        updated_by: 'system',
        updated_at: now,
      })),
    )
    .onConflict((oc) =>
      oc
        .columns(['workspace_id', 'dataset', 'column_name', 'tag'])
        .doUpdateSet({ confidence: sql`excluded.confidence` }),
    )
    .execute();
}

export async function upsertTag(
  db: Db,
  workspaceId: string,
  dataset: string,
  column: string,
  tag: string,
  v: { status: TagRow['status']; source: TagRow['source']; by: string; now: Date },
) {
  await db
    .insertInto('column_tags')
    .values({
      workspace_id: workspaceId,
      dataset,
      column_name: column,
      tag,
      status: v.status,
      source: v.source,
      confidence: null,
      updated_by: v.by,
      updated_at: v.now,
    })
    .onConflict((oc) =>
      oc
        .columns(['workspace_id', 'dataset', 'column_name', 'tag'])
        .doUpdateSet({ status: v.status, updated_by: v.by, updated_at: v.now }),
    )
    .execute();
}

export async function deleteTag(db: Db, workspaceId: string, dataset: string, column: string, tag: string) {
  await db
    .deleteFrom('column_tags')
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', dataset)
    .where('column_name', '=', column)
    .where('tag', '=', tag)
    .execute();
}

/** A claimed row whose job could not start (every query slot busy) goes back to pending. */
export async function backToPending(db: Db, workspaceId: string, dataset: string, version: number, owner?: string) {
  let q = db
    .updateTable('dataset_profiles')
    .set({ state: 'pending', lease_owner: null, lease_expires_at: null })
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', dataset)
    .where('version', '=', version)
    .where('state', '=', 'running');
  if (owner !== undefined) q = q.where('lease_owner', '=', owner);
  await q.execute();
}

/** Appends a published (metadata-only) profile as the dataset's next version; its number. */
export async function publish(db: Db, workspaceId: string, dataset: string, profile: object, by: string, now: Date) {
  const last = await db
    .selectFrom('published_profiles')
    .select((eb) => eb.fn.max('version').as('v'))
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', dataset)
    .executeTakeFirst();
  const version = Number(last?.v ?? 0) + 1;
  await db
    .insertInto('published_profiles')
    .values({
      workspace_id: workspaceId,
      dataset,
      version,
      profile: JSON.stringify(profile),
      published_by: by,
      published_at: now,
    })
    .execute();
  return version;
}

export async function published(db: Db, workspaceId: string, dataset: string) {
  const rows = await db
    .selectFrom('published_profiles')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', dataset)
    .orderBy('version')
    .execute();
  return rows.map((r) => ({
    version: r.version,
    publishedBy: r.published_by,
    publishedAt: new Date(r.published_at).toISOString(),
    profile: r.profile,
  }));
}

/** The stored profiles of versions being deleted (in the deletion's transaction). */
export async function forgetVersions(db: Db, workspaceId: string, dataset: string, versions: number[]) {
  if (versions.length === 0) return;
  await db
    .deleteFrom('dataset_profiles')
    .where('workspace_id', '=', workspaceId)
    .where('dataset', '=', dataset)
    .where('version', 'in', versions)
    .execute();
}

/** Everything kept about a dataset being deleted: stored and published profiles, column tags. */
export async function forgetDataset(db: Db, workspaceId: string, dataset: string) {
  for (const table of ['dataset_profiles', 'published_profiles', 'column_tags'] as const)
    await db.deleteFrom(table).where('workspace_id', '=', workspaceId).where('dataset', '=', dataset).execute();
}
