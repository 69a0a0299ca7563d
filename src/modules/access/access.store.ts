/** Kysely queries of the access module. Only this file knows `workspace_policies`' SQL. */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';

export type Db = Kysely<Database> | Transaction<Database>;

export interface WorkspacePolicy {
  id: string;
  workspace: string;
  text: string;
  createdBy: string;
  createdAt: Date;
}

type Row = { id: string; workspace_id: string; text: string; created_by: string; created_at: Date };
const toPolicy = (r: Row): WorkspacePolicy => ({
  id: r.id,
  workspace: r.workspace_id,
  text: r.text,
  createdBy: r.created_by,
  createdAt: new Date(r.created_at),
});

export async function selectPolicies(db: Db, workspaceId?: string): Promise<WorkspacePolicy[]> {
  let q = db.selectFrom('workspace_policies').selectAll();
  if (workspaceId !== undefined) q = q.where('workspace_id', '=', workspaceId);
  const rows = await q.orderBy('workspace_id').orderBy('created_at').orderBy('id').execute();
  return rows.map(toPolicy);
}

export async function countPolicies(db: Db, workspaceId: string): Promise<number> {
  const r = await db
    .selectFrom('workspace_policies')
    .select((eb) => eb.fn.countAll<string | number>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function insertPolicy(
  db: Db,
  p: { id: string; workspace: string; text: string; createdBy: string },
): Promise<void> {
  await db
    .insertInto('workspace_policies')
    .values({ id: p.id, workspace_id: p.workspace, text: p.text, created_by: p.createdBy })
    .execute();
}

/** Deletes only inside the given workspace; returns whether a row went. */
export async function deletePolicy(db: Db, workspaceId: string, id: string): Promise<boolean> {
  // `returning` rather than the affected-row count, which not every driver reports.
  const rows = await db
    .deleteFrom('workspace_policies')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returning('id')
    .execute();
  return rows.length > 0;
}

/** A workspace's client network allowlist (canonical CIDR blocks), or undefined when it has none. */
export async function readNetworkAllowlist(db: Db, workspaceId: string): Promise<string[] | undefined> {
  const r = await db
    .selectFrom('workspace_network_allowlists')
    .select('cidrs')
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  if (!r) return undefined;
  return (typeof r.cidrs === 'string' ? JSON.parse(r.cidrs) : r.cidrs) as string[];
}

/** Replaces a workspace's allowlist; an empty list removes it. */
export async function writeNetworkAllowlist(db: Db, workspaceId: string, cidrs: string[], by: string): Promise<void> {
  if (cidrs.length === 0) {
    await db.deleteFrom('workspace_network_allowlists').where('workspace_id', '=', workspaceId).execute();
    return;
  }
  const values = { workspace_id: workspaceId, cidrs: JSON.stringify(cidrs), updated_by: by, updated_at: new Date() };
  await db
    .insertInto('workspace_network_allowlists')
    .values(values)
    .onConflict((oc) =>
      oc.column('workspace_id').doUpdateSet({ cidrs: values.cidrs, updated_by: by, updated_at: values.updated_at }),
    )
    .execute();
}
