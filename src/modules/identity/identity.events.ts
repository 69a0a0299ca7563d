/**
 * The one way the identity module records an audit event itself. Everything else is recorded by
 * the request pipeline; two things it cannot record:
 * - sign-in and first-start setup: public routes (the credential is in the body), so there is no
 *   actor to decide on and no pipeline event; the identity use case records success in the
 *   transaction that creates the session or the owner, and failure on its own;
 * - refusals by the role rules (`role-rules.ts`): a decision made after Cedar allowed the route,
 *   recorded as `denied` before the 403 (the pipeline records only its own denials).
 * Both fail closed: an event that cannot be recorded stops the action (AUDIT_UNAVAILABLE).
 */
import type { FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import type { Actor } from '../../core/actor.ts';
import type { JsonValue } from '../../core/audit/event.ts';
import { auditRef, type ResourceRef } from '../../core/resource.ts';
import type { Database } from '../../db/schema.ts';

export interface IdentityEvent {
  action: string;
  outcome?: 'success' | 'failure' | 'denied';
  resource: ResourceRef;
  details?: Record<string, JsonValue>;
  /** Who acted, when it is not the request's actor (a sign-in: the user who just proved it). */
  actor?: Actor;
}

/** Records an event of this request: in `trx` (it commits with the work, or neither does), or on its own before resolving. */
export type RecordEvent = (event: IdentityEvent, trx?: Transaction<Database>) => Promise<void>;

type Spec = {
  action: string;
  outcome?: IdentityEvent['outcome'];
  resource?: ReturnType<typeof auditRef>;
  details?: Record<string, JsonValue>;
};
/** The server's fail-closed audit context (`server/audit-context.ts`), as far as identity uses it. */
export interface AuditWriter {
  recordIn(trx: Transaction<Database>, request: FastifyRequest, spec: Spec): Promise<void>;
  recordAlone(request: FastifyRequest, spec: Spec, actor?: Actor): Promise<void>;
}

export function eventsOf(audit: AuditWriter, request: FastifyRequest): RecordEvent {
  return async ({ actor, resource, ...rest }, trx) => {
    const spec = { ...rest, resource: auditRef(resource) };
    if (!trx) return audit.recordAlone(request, spec, actor);
    if (actor) request.actor = actor; // a sign-in: from here on the request acts as that user
    return audit.recordIn(trx, request, spec);
  };
}
