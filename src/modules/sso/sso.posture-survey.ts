/**
 * What the sso posture controls look at, per workspace (`survey`), and how the operator's run
 * folds the workspaces' results into one (`worst`, naming the workspaces behind it).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { fail, pass, warn, type CheckContext, type ControlResult } from '../posture/index.ts';
import * as store from './sso.store.ts';

export interface WorkspaceSso {
  workspace: string;
  /** Enabled providers mapped in the workspace without a recorded error. */
  working: string[];
  /** Mapped providers that are disabled or report an error. */
  broken: string[];
  enforced: boolean;
}

export async function survey(db: Kysely<Database>, ctx: CheckContext): Promise<WorkspaceSso[]> {
  const providers = new Map((await store.listProviders(db)).map((p) => [p.id, p]));
  const ids = ctx.workspace ? [ctx.workspace] : await store.workspaceIds(db);
  const out: WorkspaceSso[] = [];
  for (const workspaceId of ids) {
    const mapped = [...new Set((await store.mappingsOfWorkspace(db, workspaceId)).map((m) => m.provider))];
    const ok = (id: string) => providers.get(id)?.enabled === true && !providers.get(id)?.lastError;
    out.push({
      workspace: workspaceId,
      working: mapped.filter(ok),
      broken: mapped.filter((id) => !ok(id)),
      enforced: await store.enforcement(db, workspaceId),
    });
  }
  return out;
}

/** The operator's run: the worst of every workspace's result, naming the workspaces behind it. */
export function worst(
  ctx: CheckContext,
  results: { w: WorkspaceSso; r: ControlResult }[],
  total: number,
): ControlResult {
  const [first] = results;
  if (!first) return pass('no workspace yet', { workspaces: 0 });
  if (ctx.workspace) return first.r;
  for (const status of ['fail', 'warn'] as const) {
    const hit = results.filter((x) => x.r.status === status);
    if (hit.length > 0)
      return (status === 'fail' ? fail : warn)(
        `${hit.length} of ${total} workspace(s): ${hit[0]!.r.summary}${hit.length > 1 ? ' (and others)' : ''}`,
        { workspaces: total, [status === 'fail' ? 'failing' : 'warning']: hit.map((x) => x.w.workspace) },
      );
  }
  return pass(`every workspace (${total}) passes`, { workspaces: total });
}
