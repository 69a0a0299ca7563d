/**
 * How the pipeline records a route's event (`pipeline.ts`): in the work's transaction (`commit`),
 * on its own (`alone`), or as a refusal or failure (`refused`) with one shape of details —
 * `error` (the problem code) and, for a denial, `reason`.
 */
import type { FastifyRequest } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { JsonValue } from '../core/audit/event.ts';
import { AppError, isCommitOutcomeUnknown } from '../core/errors.ts';
import { auditRef, type ResourceRef } from '../core/resource.ts';
import type { Database } from '../db/schema.ts';
import type { AuditContext, EventSpec } from './audit-context.ts';
import { toAppError } from './plugins/problem.ts';

export type Spec = EventSpec & { details: Record<string, JsonValue> };
export type Outcome = 'failure' | 'denied';

/** The one shape of a refused or failed event's details: the problem code, and why for a denial. */
export function failureDetails(err: unknown, reason?: string): Record<string, JsonValue> {
  return { error: toAppError(err).code, ...(reason !== undefined ? { reason } : {}) };
}

/**
 * A 403 is a refusal (`denied`); anything else a `failure` — a 401 raised by a handler included:
 * a credential in the body that did not verify (a wrong MFA code or password) is a failed attempt.
 */
export const outcomeOf = (err: unknown): Outcome => (toAppError(err).status === 403 ? 'denied' : 'failure');

/** Thrown by `deny(reason)`: a refusal after the route's decision. */
export class Refusal extends AppError {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super('FORBIDDEN', { detail });
  }
}

/**
 * The two ways a route's event is recorded: `commit(work)` — the work and the event in one
 * transaction (an event that cannot be written rolls the work back: 503) — and `alone()`, committed
 * on its own before anything else happens. `refused(err)` records a failure or denial once and
 * rethrows.
 */
export function recorderFor(request: FastifyRequest, spec: Spec, deps: { audit: AuditContext; db: Kysely<Database> }) {
  const { audit } = deps;
  return {
    /** Record the refusal or failure (unless an event of this request already stands) and rethrow. */
    async refused(err: unknown, outcome: Outcome = outcomeOf(err), why?: string): Promise<never> {
      if (!request.auditRecorded) {
        const reason = why ?? (err instanceof Refusal ? err.reason : undefined);
        await audit.recordAlone(request, {
          ...spec,
          outcome,
          details: { ...spec.details, ...failureDetails(err, reason) },
        });
      }
      throw err;
    },
    alone: (): Promise<void> => audit.recordAlone(request, spec),
    async commit<R>(work: (trx: Transaction<Database>) => Promise<R>): Promise<R> {
      let auditFailed = false;
      try {
        return await deps.db.transaction().execute(async (trx) => {
          const result = await work(trx);
          try {
            await audit.recordIn(trx, request, spec);
          } catch (err) {
            auditFailed = true; // 503 AUDIT_UNAVAILABLE; the work is rolled back with it
            throw err;
          }
          return result;
        });
      } catch (err) {
        // The event rolled back with the work (or was never written): the failure is recorded
        // on its own — unless it was the audit write that failed, or the commit's outcome is
        // unknown (the event committed with the work, or neither did: a second one would lie).
        if (!auditFailed && !isCommitOutcomeUnknown(err)) request.auditRecorded = false;
        throw err;
      }
    },
  };
}

/** The event note a handler gets: details merged in, the resource named once known. */
export function noteOf(spec: Spec) {
  return {
    details: (d: Record<string, JsonValue>) => void Object.assign(spec.details, d),
    resource: (ref: ResourceRef) => void (spec.resource = auditRef(ref)),
  };
}
