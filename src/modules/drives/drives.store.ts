/** Kysely queries of the drives module. Nothing here sees a credential. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { DriveStatus } from '../../db/tables/drives.ts';

export type Db = Kysely<Database> | Transaction<Database>;
export type DriveRow = Selectable<Database['drives']>;

export function list(db: Db, workspaceId: string): Promise<DriveRow[]> {
  return db
    .selectFrom('drives')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('is_default', 'desc')
    .orderBy('name')
    .execute();
}

export function listAll(db: Db): Promise<DriveRow[]> {
  return db.selectFrom('drives').selectAll().orderBy('workspace_id').orderBy('name').execute();
}

export function find(db: Db, workspaceId: string, name: string): Promise<DriveRow | undefined> {
  return db
    .selectFrom('drives')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .executeTakeFirst();
}

export async function insert(
  db: Db,
  row: {
    workspace_id: string;
    name: string;
    kind: DriveRow['kind'];
    description: string;
    config: Record<string, unknown>;
    credential_path: string | null;
    created_by: string;
    is_default?: boolean;
    last_test?: unknown;
    status?: DriveStatus;
    status_code?: string | null;
  },
): Promise<boolean> {
  const inserted = await db
    .insertInto('drives')
    .values({
      workspace_id: row.workspace_id,
      name: row.name,
      kind: row.kind,
      description: row.description,
      config: JSON.stringify(row.config),
      credential_path: row.credential_path,
      created_by: row.created_by,
      is_default: row.is_default ?? false,
      ...(row.last_test !== undefined
        ? { last_test: JSON.stringify(row.last_test), status_checked_at: new Date() }
        : {}),
      ...(row.status ? { status: row.status } : {}),
      ...(row.status_code !== undefined ? { status_code: row.status_code } : {}),
    })
    .onConflict((oc) => oc.columns(['workspace_id', 'name']).doNothing())
    .returning('name')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function remove(db: Db, workspaceId: string, name: string): Promise<void> {
  await db.deleteFrom('drives').where('workspace_id', '=', workspaceId).where('name', '=', name).execute();
}

export async function setStatus(
  db: Db,
  workspaceId: string,
  name: string,
  status: DriveStatus,
  code: string | null,
  lastTest: unknown,
): Promise<void> {
  await db
    .updateTable('drives')
    .set({
      status,
      status_code: code,
      status_checked_at: new Date(),
      last_test: JSON.stringify(lastTest),
      updated_at: new Date(),
    })
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .execute();
}

/** Workspaces (all, or just `only`) that have no default drive yet. */
export async function workspacesWithoutDefault(db: Db, only?: string): Promise<string[]> {
  let q = db.selectFrom('workspaces').select('id');
  if (only !== undefined) q = q.where('id', '=', only);
  const rows = await q
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('drives')
            .select('name')
            .whereRef('drives.workspace_id', '=', 'workspaces.id')
            .where('is_default', '=', true),
        ),
      ),
    )
    .execute();
  return rows.map((r) => r.id);
}

/** Makes `name` the workspace's one default drive (in the caller's transaction); false if no such drive. */
export async function setDefault(db: Db, workspaceId: string, name: string): Promise<boolean> {
  if (!(await find(db, workspaceId, name))) return false;
  await db
    .updateTable('drives')
    .set({ is_default: false, updated_at: new Date() })
    .where('workspace_id', '=', workspaceId)
    .where('is_default', '=', true)
    .where('name', '<>', name)
    .execute();
  await db
    .updateTable('drives')
    .set({ is_default: true, updated_at: new Date() })
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .execute();
  return true;
}

export type DriveCheckRow = Selectable<Database['drive_checks']>;

/** Records one test of a saved drive and keeps the newest `keep` of its checks. */
export async function addCheck(
  db: Db,
  workspaceId: string,
  drive: string,
  c: { ok: boolean; code: string | null; failedStep: string | null; latencyMs: number | null },
  keep = 100,
): Promise<void> {
  await db
    .insertInto('drive_checks')
    .values({
      workspace_id: workspaceId,
      drive,
      ok: c.ok,
      code: c.code,
      failed_step: c.failedStep,
      latency_ms: c.latencyMs,
    })
    .execute();
  await db
    .deleteFrom('drive_checks')
    .where('workspace_id', '=', workspaceId)
    .where('drive', '=', drive)
    .where(
      'id',
      'not in',
      db
        .selectFrom('drive_checks')
        .select('id')
        .where('workspace_id', '=', workspaceId)
        .where('drive', '=', drive)
        .orderBy('checked_at', 'desc')
        .orderBy('id', 'desc')
        .limit(keep),
    )
    .execute();
}

/** The newest checks of a drive, newest first. */
export function checks(db: Db, workspaceId: string, drive: string, limit = 50): Promise<DriveCheckRow[]> {
  return db
    .selectFrom('drive_checks')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('drive', '=', drive)
    .orderBy('checked_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

/** Points a drive at another credential secret. */
export async function setCredentialPath(db: Db, workspaceId: string, name: string, path: string): Promise<void> {
  await db
    .updateTable('drives')
    .set({ credential_path: path, updated_at: new Date() })
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .execute();
}
