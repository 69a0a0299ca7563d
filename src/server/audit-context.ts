/**
 * Fail-closed auditing for routes. `run` does the work and records its event in ONE database
 * transaction: if the event cannot be written, the work is rolled back and the caller gets 503
 * AUDIT_UNAVAILABLE. Failed and denied attempts are recorded on their own; if even that fails,
 * the request still fails (503), it never proceeds unrecorded.
 */
import type { FastifyRequest } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { Actor } from '../core/actor.ts';
import type { AuditEventDraft, AuditEventInput } from '../core/audit/event.ts';
import { AppError, isAppError, isCommitOutcomeUnknown } from '../core/errors.ts';
import type { Database } from '../db/schema.ts';

export interface AuditRecorder {
  record(executor: Kysely<Database> | Transaction<Database>, draft: AuditEventDraft): Promise<void>;
  /** Record on its own; resolves once committed (group commit with concurrent callers). */
  recordCommitted(draft: AuditEventDraft): Promise<void>;
}

/**
 * The part of an `AuditEventInput` a request's code names: what happened, to what, how it went.
 * The request supplies the rest (actor, time, request id, address).
 */
export type EventSpec = Pick<AuditEventInput, 'action'> &
  Partial<Pick<AuditEventInput, 'outcome' | 'resource' | 'details'>>;

export interface AuditContext {
  draft(request: FastifyRequest, spec: EventSpec, actor?: Actor): AuditEventDraft;
  recordAlone(request: FastifyRequest, spec: EventSpec, actor?: Actor): Promise<void>;
  run<T>(request: FastifyRequest, spec: EventSpec, work: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
  /** Record inside a transaction someone else owns; its failure must fail that transaction. */
  recordIn(trx: Transaction<Database>, request: FastifyRequest, spec: EventSpec): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set once an audit event names this request, so failures are not recorded twice. */
    auditRecorded?: boolean;
  }
}

/**
 * The resource of a refusal or failure recorded before a route's own resource is known: the
 * route's workspace when the caller acts in it (its auditors find the event in their own search),
 * else nothing (an installation-wide event).
 */
export function workspaceOfRequest(request: FastifyRequest, actor: Actor = request.actor): Pick<EventSpec, 'resource'> {
  const ws = (request.params as { ws?: unknown } | undefined)?.ws;
  return typeof ws === 'string' && actor.workspace === ws
    ? { resource: { type: 'workspace', id: ws, workspace: ws } }
    : {};
}

const clip = (s: string | undefined, n: number) => (s === undefined ? undefined : s.slice(0, n));

export function createAuditContext(db: Kysely<Database>, recorder: AuditRecorder): AuditContext {
  const ctx: AuditContext = {
    draft(request, spec, actor = request.actor) {
      request.auditRecorded = true;
      const ua = clip(
        typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : undefined,
        512,
      );
      return {
        time: new Date().toISOString(),
        actor: { id: actor.id, kind: actor.kind, ...(actor.authMethod ? { authMethod: actor.authMethod } : {}) },
        action: spec.action,
        resource: spec.resource ?? { type: 'system' },
        outcome: spec.outcome ?? 'success',
        requestId: clip(request.id, 128),
        ...(request.ip ? { sourceIp: request.ip } : {}),
        ...(ua ? { userAgent: ua } : {}),
        details: spec.details ?? {},
      };
    },

    async recordIn(trx, request, spec) {
      try {
        await recorder.record(trx, ctx.draft(request, spec));
      } catch (cause) {
        throw new AppError('AUDIT_UNAVAILABLE', {
          detail: 'The action was not performed because it could not be audited.',
          cause,
        });
      }
    },

    async recordAlone(request, spec, actor) {
      try {
        // Committed on its own, possibly in one multi-row INSERT with concurrent requests' events
        // (group commit): resolves only once this event is committed, so nothing proceeds first.
        await recorder.recordCommitted(ctx.draft(request, spec, actor));
      } catch (cause) {
        request.log.error({ err: cause, action: spec.action }, 'audit write failed; refusing the request');
        throw new AppError('AUDIT_UNAVAILABLE', {
          detail: 'The action was not performed because it could not be audited.',
          cause,
        });
      }
    },

    async run(request, spec, work) {
      let auditFailed = false;
      try {
        return await db.transaction().execute(async (trx) => {
          const result = await work(trx);
          try {
            await recorder.record(trx, ctx.draft(request, spec));
          } catch (cause) {
            auditFailed = true;
            throw cause;
          }
          return result;
        });
      } catch (err) {
        if (auditFailed) {
          request.log.error({ err, action: spec.action }, 'audit write failed; action rolled back');
          throw new AppError('AUDIT_UNAVAILABLE', {
            detail: 'The action was not performed because it could not be audited.',
            cause: err,
          });
        }
        if (isCommitOutcomeUnknown(err)) throw err; // its event committed with the work, or neither did
        const code = isAppError(err) ? err.code : 'INTERNAL';
        await ctx.recordAlone(request, { ...spec, outcome: 'failure', details: { ...spec.details, error: code } });
        throw err;
      }
    },
  };
  return ctx;
}
