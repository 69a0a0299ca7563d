/** Every SQL statement of the tasks module (`task_runs`, migration 0016). */
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';

type Db = Kysely<Database>;

export interface TaskRow {
  id: string;
  kind: string;
  status: 'running' | 'succeeded' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  updatedAt: string;
  progress: Record<string, unknown>;
  entries: number;
  drive: string;
  objectKey: string | null;
  /** The workspace the task ran for; null: the installation's. */
  workspace: string | null;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function toRow(r: {
  id: string;
  kind: string;
  status: TaskRow['status'];
  started_at: Date;
  finished_at: Date | null;
  updated_at: Date;
  progress: unknown;
  entries: number;
  drive: string;
  object_key: string | null;
  workspace_id: string | null;
}): TaskRow {
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    startedAt: iso(r.started_at)!,
    finishedAt: iso(r.finished_at),
    updatedAt: iso(r.updated_at)!,
    progress: (typeof r.progress === 'string' ? JSON.parse(r.progress) : r.progress) as Record<string, unknown>,
    entries: Number(r.entries),
    drive: r.drive,
    objectKey: r.object_key,
    workspace: r.workspace_id,
  };
}

const COLUMNS = [
  'id',
  'kind',
  'status',
  'started_at',
  'finished_at',
  'updated_at',
  'progress',
  'entries',
  'drive',
  'object_key',
  'workspace_id',
] as const;

export async function insertRun(
  db: Db,
  r: { id: string; kind: string; drive: string; now: Date; workspace: string | null },
): Promise<void> {
  await db
    .insertInto('task_runs')
    .values({
      id: r.id,
      kind: r.kind,
      status: 'running',
      started_at: r.now,
      updated_at: r.now,
      drive: r.drive,
      workspace_id: r.workspace,
    })
    .execute();
}

/** Points the run at its newest log object (and its sealed key); returns the previous object key. */
export async function updateLog(
  db: Db,
  id: string,
  u: {
    objectKey: string;
    objectId: string;
    sealedDek: Buffer;
    entries: number;
    progress: Record<string, unknown>;
    now: Date;
  },
): Promise<string | null> {
  return db.transaction().execute(async (trx) => {
    const before = await trx
      .selectFrom('task_runs')
      .select('object_key')
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    await trx
      .updateTable('task_runs')
      .set({
        object_key: u.objectKey,
        object_id: u.objectId,
        sealed_dek: u.sealedDek,
        entries: u.entries,
        progress: JSON.stringify(u.progress),
        updated_at: u.now,
      })
      .where('id', '=', id)
      .execute();
    return before?.object_key ?? null;
  });
}

export async function finishRun(db: Db, id: string, status: 'succeeded' | 'failed', now: Date): Promise<void> {
  await db.updateTable('task_runs').set({ status, finished_at: now, updated_at: now }).where('id', '=', id).execute();
}

/** Newest first; `workspace` given: only that workspace's runs. */
export async function listRuns(
  db: Db,
  kind: string | undefined,
  limit: number,
  workspaceId?: string,
): Promise<TaskRow[]> {
  let q = db.selectFrom('task_runs').select(COLUMNS);
  if (kind) q = q.where('kind', '=', kind);
  if (workspaceId !== undefined) q = q.where('workspace_id', '=', workspaceId);
  return (await q.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(limit).execute()).map(toRow);
}

export async function getRun(db: Db, id: string): Promise<TaskRow | undefined> {
  const r = await db.selectFrom('task_runs').select(COLUMNS).where('id', '=', id).executeTakeFirst();
  return r ? toRow(r) : undefined;
}

export async function getLogRef(
  db: Db,
  id: string,
): Promise<{ objectKey: string | null; objectId: string | null; sealedDek: Buffer | null } | undefined> {
  const r = await db
    .selectFrom('task_runs')
    .select(['object_key', 'object_id', 'sealed_dek'])
    .where('id', '=', id)
    .executeTakeFirst();
  return r
    ? { objectKey: r.object_key, objectId: r.object_id, sealedDek: r.sealed_dek ? Buffer.from(r.sealed_dek) : null }
    : undefined;
}

/** The kinds of task that ran (for a filter), optionally of one workspace. */
export async function listKinds(db: Db, workspaceId?: string): Promise<string[]> {
  let q = db.selectFrom('task_runs').select('kind').distinct();
  if (workspaceId !== undefined) q = q.where('workspace_id', '=', workspaceId);
  return (await q.orderBy('kind').execute()).map((r) => r.kind);
}
