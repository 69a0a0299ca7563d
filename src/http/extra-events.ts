/**
 * Extra events of one request: the one way a module records audit events beyond the route's own.
 *
 * The pipeline records exactly one event per request — the route's declared event (or its denial,
 * failure or error). Some requests change more than one thing that an auditor must find on its
 * own, and those changes are recorded here, each as its own event:
 * - a single sign-on callback (a public route: the IdP's answer is the credential): the identity
 *   it links (`sso.identity.link`), the user it provisions (`sso.user.provision`), each workspace
 *   whose roles it syncs (`sso.membership.sync`, or `denied` when it keeps a last owner), and the
 *   sign-in itself (`identity.session.create`, success or failure with the precise reason);
 * - a SCIM request (its declared event is the user or group change, `scim.user.*`/`scim.group.*`):
 *   the user it provisions (`sso.user.provision`) and each role change that follows from the
 *   change (`sso.membership.sync`, or `denied` when it keeps a last owner).
 *
 * Guarantees: an event passed a transaction is recorded in it (it commits with the work, or
 * neither does); an event without one is committed on its own before the call resolves. Both fail
 * closed: an event that cannot be recorded throws AUDIT_UNAVAILABLE and stops the action. Once an
 * extra event names the request, the pipeline does not record a second failure for it.
 *
 * Everything else — a route's own event, a refusal after the route's decision (`deny(reason)`) — goes
 * through the route declaration, never through this.
 */
import type { FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import type { Actor } from '../core/actor.ts';
import type { JsonValue } from '../core/audit/event.ts';
import { auditRef, type ResourceRef } from '../core/resource.ts';
import type { Database } from '../db/schema.ts';

export interface ExtraEvent {
  action: string;
  outcome?: 'success' | 'failure' | 'denied';
  resource: ResourceRef;
  details?: Record<string, JsonValue>;
  /** Who acted, when it is not the request's actor (a sign-in: the user who just proved it). */
  actor?: Actor;
}

/** Records an extra event of this request: in `trx` (it commits with the work, or neither does), or on its own before resolving. */
export type RecordExtraEvent = (event: ExtraEvent, trx?: Transaction<Database>) => Promise<void>;

type Spec = {
  action: string;
  outcome?: ExtraEvent['outcome'];
  resource?: ReturnType<typeof auditRef>;
  details?: Record<string, JsonValue>;
};
/** The server's fail-closed audit context (`server/audit-context.ts`), as far as extra events use it. */
export interface AuditWriter {
  recordIn(trx: Transaction<Database>, request: FastifyRequest, spec: Spec): Promise<void>;
  recordAlone(request: FastifyRequest, spec: Spec, actor?: Actor): Promise<void>;
}

export function extraEventsOf(audit: AuditWriter, request: FastifyRequest): RecordExtraEvent {
  return async ({ actor, resource, ...rest }, trx) => {
    const spec = { ...rest, resource: auditRef(resource) };
    if (!trx) return audit.recordAlone(request, spec, actor);
    if (actor) request.actor = actor; // a sign-in: from here on the request acts as that user
    return audit.recordIn(trx, request, spec);
  };
}
