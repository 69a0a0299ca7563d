/**
 * Workspace policies: list, add (validated against the schema first), remove, reload. Each change
 * runs in one transaction with the caller's hook (the audit event, fail-closed) and is applied to
 * the in-memory `AccessControl` only after it committed — so a rolled-back change never takes
 * effect, and a committed one takes effect at once on this instance. Other instances pick changes
 * up with `reload` (at start, and periodically or on notification when scaled out).
 *
 * No HTTP here: routes (actions `access.policy.list|read|create|delete`) call these.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import { WORKSPACE_ID, type AccessControl } from './access-control.ts';
import { countPolicies, deletePolicy, insertPolicy, selectPolicies, type Db, type WorkspacePolicy } from './access.store.ts';

export type { WorkspacePolicy } from './access.store.ts';
/** Runs inside the change's transaction (record the audit event here). */
export type InTransaction = (trx: Transaction<Database>) => Promise<void>;

export const MAX_POLICIES_PER_WORKSPACE = 100;

function checkWorkspace(workspace: string): void {
  if (!WORKSPACE_ID.test(workspace)) throw new AppError('VALIDATION_FAILED', { detail: 'Not a valid workspace id.' });
}

export async function listPolicies(db: Db, workspace: string): Promise<WorkspacePolicy[]> {
  checkWorkspace(workspace);
  return selectPolicies(db, workspace);
}

async function applyWorkspace(db: Db, ac: AccessControl, workspace: string): Promise<void> {
  const r = ac.setWorkspacePolicies(workspace, await selectPolicies(db, workspace));
  // Cannot happen for policies validated on the way in, unless the schema changed underneath.
  if (!r.ok) throw new AppError('CONFLICT', { detail: 'The workspace policies no longer validate; the workspace is locked until they are fixed.', meta: { errors: r.errors } });
}

/** Validate, then store a policy of `workspace`; 422 with Cedar's messages when invalid. */
export async function addPolicy(
  db: Kysely<Database>,
  ac: AccessControl,
  input: { workspace: string; text: string; createdBy: string },
  inTransaction?: InTransaction,
): Promise<WorkspacePolicy> {
  checkWorkspace(input.workspace);
  const v = ac.validatePolicy(input.text, input.workspace);
  if (!v.ok) throw new AppError('VALIDATION_FAILED', { detail: 'The policy does not validate against the Cedar schema.', meta: { errors: v.errors } });
  const id = randomUUID();
  await db.transaction().execute(async (trx) => {
    if ((await countPolicies(trx, input.workspace)) >= MAX_POLICIES_PER_WORKSPACE) {
      throw new AppError('CONFLICT', { detail: `A workspace may have at most ${MAX_POLICIES_PER_WORKSPACE} policies.` });
    }
    await insertPolicy(trx, { id, ...input });
    await inTransaction?.(trx);
  });
  await applyWorkspace(db, ac, input.workspace);
  const saved = (await selectPolicies(db, input.workspace)).find((p) => p.id === id);
  if (!saved) throw new AppError('CONFLICT', { detail: 'The policy was removed concurrently.' });
  return saved;
}

/** Remove a policy of `workspace` (404 if that workspace has no such policy). */
export async function removePolicy(db: Kysely<Database>, ac: AccessControl, input: { workspace: string; id: string }, inTransaction?: InTransaction): Promise<void> {
  checkWorkspace(input.workspace);
  await db.transaction().execute(async (trx) => {
    if (!(await deletePolicy(trx, input.workspace, input.id))) throw new AppError('NOT_FOUND');
    await inTransaction?.(trx);
  });
  await applyWorkspace(db, ac, input.workspace);
}

export interface ReloadReport {
  workspaces: number;
  policies: number;
  /** Workspaces whose stored policies no longer validate: locked (every decision denied). */
  locked: Array<{ workspace: string; errors: string[] }>;
}

/** Load every workspace's policies from the database into `ac` (at start, or to catch up). */
export async function reload(db: Db, ac: AccessControl): Promise<ReloadReport> {
  // Workspaces loaded before but with no rows now are cleared too.
  const byWs = new Map<string, WorkspacePolicy[]>(ac.customWorkspaces().map((w) => [w, []]));
  const all = await selectPolicies(db);
  for (const p of all) byWs.set(p.workspace, [...(byWs.get(p.workspace) ?? []), p]);
  const locked: ReloadReport['locked'] = [];
  for (const [ws, policies] of byWs) {
    const r = ac.setWorkspacePolicies(ws, policies);
    if (!r.ok) locked.push({ workspace: ws, errors: r.errors });
  }
  return { workspaces: byWs.size, policies: all.length, locked };
}
