/**
 * Row ↔ event mapping at the Kysely edge. The mapping is lossless for every schema-valid event:
 * absent optional fields are NULL and come back absent, `time` is stored with millisecond
 * precision (`timestamptz(3)`) and printed back with `toISOString()`, and the source address is
 * kept as text (an `inet` column would re-spell IPv6 and break the hash).
 */
import type { Selectable } from 'kysely';
import type { AuditEvent, AuditEventDraft } from '../../core/audit/event.ts';
import type { Database } from '../../db/schema.ts';

export type EventRow = Selectable<Database['audit_events']>;

/** The columns of an event row, for inserts. `details` as JSON text (jsonb). */
export function eventToRow(e: AuditEvent) {
  return {
    seq: e.seq,
    time: e.time,
    actor_id: e.actor.id,
    actor_kind: e.actor.kind,
    auth_method: e.actor.authMethod ?? null,
    action: e.action,
    resource_type: e.resource.type,
    resource_id: e.resource.id ?? null,
    workspace: e.resource.workspace ?? null,
    outcome: e.outcome,
    request_id: e.requestId ?? null,
    source_ip: e.sourceIp ?? null,
    user_agent: e.userAgent ?? null,
    details: JSON.stringify(e.details),
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}

/**
 * The event a row holds, exactly as stored (not validated: the verifier judges it). Typed as an
 * `AuditEvent` because that is what an untampered row is.
 */
export function rowToEvent(r: EventRow): AuditEvent {
  return textRowToEvent({ ...r, time: toIso(r.time) });
}

/** A row of {@link EVENT_TEXT_COLUMNS}: `time` already ISO-8601 text, `seq` as the driver gives it. */
export type EventTextRow = Omit<EventRow, 'seq' | 'time'> & { seq: unknown; time: string };

/**
 * {@link rowToEvent} for rows whose `time` the database already printed as ISO-8601 UTC text
 * (`to_char`, the same text `toISOString()` gives for every time an event may hold): the
 * verifier's and exporter's path, with no `Date` per row.
 */
export function textRowToEvent(r: EventTextRow): AuditEvent {
  const actor: AuditEventDraft['actor'] =
    r.auth_method === null
      ? { id: r.actor_id, kind: r.actor_kind as AuditEvent['actor']['kind'] }
      : { authMethod: r.auth_method, id: r.actor_id, kind: r.actor_kind as AuditEvent['actor']['kind'] };
  const resource: AuditEventDraft['resource'] = { type: r.resource_type };
  if (r.resource_id !== null) resource.id = r.resource_id;
  if (r.workspace !== null) resource.workspace = r.workspace;
  const e: AuditEvent = {
    seq: Number(r.seq),
    time: r.time,
    actor,
    action: r.action,
    resource,
    outcome: r.outcome as AuditEvent['outcome'],
    details: parseJson(r.details) as AuditEvent['details'],
    prevHash: r.prev_hash,
    hash: r.hash,
  };
  if (r.request_id !== null) e.requestId = r.request_id;
  if (r.source_ip !== null) e.sourceIp = r.source_ip;
  if (r.user_agent !== null) e.userAgent = r.user_agent;
  return e;
}

function toIso(t: unknown): string {
  const d = t instanceof Date ? t : new Date(String(t));
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
}

/** jsonb comes back parsed from both drivers; text (a driver without the parser) is parsed here. */
export function parseJson(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}
