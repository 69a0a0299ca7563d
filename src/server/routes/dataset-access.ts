/**
 * The per-dataset access check shared by the dataset routes: Cedar decides with the concrete
 * dataset (its tags), and a denial or a missing dataset is audited before the 4xx is sent.
 */
import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../core/actor.ts';
import { AppError, isAppError } from '../../core/errors.ts';
import type { Decision, ResourceRef } from '../../modules/access/index.ts';
import type { DatasetsService } from '../../modules/datasets/index.ts';
import type { AuditContext } from '../audit-context.ts';

export interface DatasetGuardDeps {
  datasets: Pick<DatasetsService, 'find'>;
  audit: AuditContext;
  authorize: (actor: Actor, action: string, resource?: ResourceRef) => Decision;
}

export function datasetGuard(deps: DatasetGuardDeps) {
  const { audit } = deps;
  const auditRes = (w: string, name: string) => ({ type: 'dataset', id: name, workspace: w });

  /** Authorizes `action` on dataset `name` (NOT_FOUND first when it must exist); returns its row. */
  async function authorizeDataset(request: FastifyRequest, action: string, w: string, name: string, mustExist: boolean) {
    const row = await deps.datasets.find(w, name);
    if (mustExist && !row) {
      await audit.recordAlone(request, { action, outcome: 'failure', resource: auditRes(w, name), details: { error: 'NOT_FOUND' } });
      throw new AppError('NOT_FOUND', { detail: 'No such dataset in this workspace.' });
    }
    const d = deps.authorize(request.actor, action, { type: 'dataset', id: name, workspace: w, tags: row?.tags ?? [] });
    if (!d.allowed) {
      await audit.recordAlone(request, { action, outcome: 'denied', resource: auditRes(w, name), details: { reason: d.reason } });
      throw new AppError('FORBIDDEN', { detail: 'You are not allowed to do this with this dataset.' });
    }
    return row;
  }

  /** Records the failure (unless the route's event was already recorded) and rethrows. */
  async function failed(request: FastifyRequest, action: string, w: string, name: string, err: unknown, details: Record<string, string | number> = {}): Promise<never> {
    if (!request.auditRecorded) await audit.recordAlone(request, { action, outcome: 'failure', resource: auditRes(w, name), details: { ...details, error: isAppError(err) ? err.code : 'INTERNAL' } });
    throw err;
  }

  return { auditRes, authorizeDataset, failed };
}
