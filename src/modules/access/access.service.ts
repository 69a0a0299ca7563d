/**
 * Workspace policies as use cases: list, add (validated against the schema first), remove,
 * reload. A change runs in one transaction given by the caller (`transact`: the request
 * pipeline's `commit`, which records the audit event in it — fail-closed) and is applied to the
 * in-memory `AccessControl` only after it committed: a rolled-back change never takes effect, a
 * committed one takes effect at once on this instance. Other instances pick changes up with
 * `reload` (at start, and periodically or on notification when scaled out).
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import { ownTransaction, type Transact } from '../../db/transact.ts';
import { WORKSPACE_ID } from '../../contracts/common.ts';
import type { AccessControl } from './access-control.ts';
import {
  countPolicies,
  deletePolicy,
  insertPolicy,
  selectPolicies,
  type Db,
  type WorkspacePolicy,
} from './access.store.ts';

export type { WorkspacePolicy } from './access.store.ts';

export const MAX_POLICIES_PER_WORKSPACE = 100;

export interface AccessServiceDeps {
  db: Kysely<Database>;
  accessControl: AccessControl;
}

export interface ReloadReport {
  workspaces: number;
  policies: number;
  /** Workspaces whose stored policies no longer validate: locked (every decision denied). */
  locked: Array<{ workspace: string; errors: string[] }>;
}

function checkWorkspace(workspaceId: string): void {
  if (!WORKSPACE_ID.test(workspaceId)) throw new AppError('VALIDATION_FAILED', { detail: 'Not a valid workspace id.' });
}

/** Load every workspace's policies from the database into `ac` (at start, or to catch up). */
export async function reload(db: Db, ac: AccessControl): Promise<ReloadReport> {
  // Workspaces loaded before but with no rows now are cleared too.
  const byWorkspace = new Map<string, WorkspacePolicy[]>(ac.customWorkspaces().map((w) => [w, []]));
  const all = await selectPolicies(db);
  for (const p of all) byWorkspace.set(p.workspace, [...(byWorkspace.get(p.workspace) ?? []), p]);
  const locked: ReloadReport['locked'] = [];
  for (const [workspaceId, policies] of byWorkspace) {
    const r = ac.setWorkspacePolicies(workspaceId, policies);
    if (!r.ok) locked.push({ workspace: workspaceId, errors: r.errors });
  }
  return { workspaces: byWorkspace.size, policies: all.length, locked };
}

export function createAccessService({ db, accessControl: ac }: AccessServiceDeps) {
  async function applyWorkspace(workspaceId: string): Promise<void> {
    const r = ac.setWorkspacePolicies(workspaceId, await selectPolicies(db, workspaceId));
    // Cannot happen for policies validated on the way in, unless the schema changed underneath.
    if (!r.ok)
      throw new AppError('CONFLICT', {
        detail: 'The workspace policies no longer validate; the workspace is locked until they are fixed.',
        meta: { errors: r.errors },
      });
  }

  return {
    /** Ids of the built-in policies (shown beside a workspace's own). */
    builtinPolicyIds: ac.builtinPolicyIds,

    async list(workspaceId: string): Promise<WorkspacePolicy[]> {
      checkWorkspace(workspaceId);
      return selectPolicies(db, workspaceId);
    },

    /** Validate, then store a policy of the workspace; 422 with Cedar's messages when invalid. */
    async add(
      input: { workspaceId: string; text: string; createdBy: string },
      transact: Transact = ownTransaction(db),
    ): Promise<WorkspacePolicy> {
      const { workspaceId, text, createdBy } = input;
      checkWorkspace(workspaceId);
      const v = ac.validatePolicy(text, workspaceId);
      if (!v.ok)
        throw new AppError('VALIDATION_FAILED', {
          detail: 'The policy does not validate against the Cedar schema.',
          meta: { errors: v.errors },
        });
      const id = randomUUID();
      await transact(async (trx) => {
        if ((await countPolicies(trx, workspaceId)) >= MAX_POLICIES_PER_WORKSPACE) {
          throw new AppError('CONFLICT', {
            detail: `A workspace may have at most ${MAX_POLICIES_PER_WORKSPACE} policies.`,
          });
        }
        await insertPolicy(trx, { id, workspace: workspaceId, text, createdBy });
      });
      await applyWorkspace(workspaceId);
      const saved = (await selectPolicies(db, workspaceId)).find((p) => p.id === id);
      if (!saved) throw new AppError('CONFLICT', { detail: 'The policy was removed concurrently.' });
      return saved;
    },

    /** Remove a policy of the workspace (404 if that workspace has no such policy). */
    async remove(input: { workspaceId: string; id: string }, transact: Transact = ownTransaction(db)): Promise<void> {
      checkWorkspace(input.workspaceId);
      await transact(async (trx) => {
        if (!(await deletePolicy(trx, input.workspaceId, input.id))) throw new AppError('NOT_FOUND');
      });
      await applyWorkspace(input.workspaceId);
    },

    /** Catch up with every workspace's stored policies. */
    reload: () => reload(db, ac),
  };
}

export type AccessService = ReturnType<typeof createAccessService>;
