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

/** A row with `time` already ISO-8601 text and `seq` as the driver gives it. */
type EventTextRow = Omit<EventRow, 'seq' | 'time'> & { seq: unknown; time: string };

function textRowToEvent(r: EventTextRow): AuditEvent {
  return eventOf(
    r.seq,
    r.time,
    r.actor_id,
    r.actor_kind,
    r.auth_method,
    r.action,
    r.resource_type,
    r.resource_id,
    r.workspace,
    r.outcome,
    r.request_id,
    r.source_ip,
    r.user_agent,
    r.details,
    r.prev_hash,
    r.hash,
  );
}

/**
 * The event of a row read as an array (`ARRAY_ROWS`), columns in this order: seq, time (already
 * ISO-8601 UTC text, printed by the database as `toISOString()` would), actor_id, actor_kind,
 * auth_method, action, resource_type, resource_id, workspace, outcome, request_id, source_ip,
 * user_agent, details, prev_hash, hash. The verifier's and exporter's path: no `Date` and no
 * row object per event.
 */
export function arrayRowToEvent(r: readonly unknown[]): AuditEvent {
  return eventOf(
    r[0],
    r[1] as string,
    r[2] as string,
    r[3] as string,
    r[4] as string | null,
    r[5] as string,
    r[6] as string,
    r[7] as string | null,
    r[8] as string | null,
    r[9] as string,
    r[10] as string | null,
    r[11] as string | null,
    r[12] as string | null,
    r[13],
    r[14] as string,
    r[15] as string,
  );
}

function eventOf(
  seq: unknown,
  time: string,
  actorId: string,
  actorKind: string,
  authMethod: string | null,
  action: string,
  resourceType: string,
  resourceId: string | null,
  workspace: string | null,
  outcome: string,
  requestId: string | null,
  sourceIp: string | null,
  userAgent: string | null,
  details: unknown,
  prevHash: string,
  hash: string,
): AuditEvent {
  const kind = actorKind as AuditEvent['actor']['kind'];
  const actor: AuditEventDraft['actor'] =
    authMethod === null ? { id: actorId, kind } : { authMethod, id: actorId, kind };
  const resource: AuditEventDraft['resource'] = { type: resourceType };
  if (resourceId !== null) resource.id = resourceId;
  if (workspace !== null) resource.workspace = workspace;
  const e: AuditEvent = {
    seq: Number(seq),
    time,
    actor,
    action,
    resource,
    outcome: outcome as AuditEvent['outcome'],
    details: parseJson(details) as AuditEvent['details'],
    prevHash,
    hash,
  };
  if (requestId !== null) e.requestId = requestId;
  if (sourceIp !== null) e.sourceIp = sourceIp;
  if (userAgent !== null) e.userAgent = userAgent;
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
