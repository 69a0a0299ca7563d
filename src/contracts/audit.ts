/** The audit trail over HTTPS: search filters, events and verification reports. Zod only. */
import { z } from 'zod';

/** How an audited action ended (the same list as src/core/audit/event.ts `OUTCOMES`). */
export const OUTCOMES = ['success', 'denied', 'failure'] as const;
export const MAX_LIMIT = 1000;

/** Search filters. `resource` is `type` or `type:id`; `from` inclusive, `to` exclusive. */
export const searchQuerySchema = z.strictObject({
  actor: z.string().min(1).max(256).optional(),
  actionPrefix: z.string().min(1).max(128).optional(),
  resource: z.string().min(1).max(330).optional(),
  /** Only events about resources of this workspace. */
  workspace: z.string().min(1).max(256).optional(),
  outcome: z.enum(OUTCOMES).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  /** `true`: leave out reads (actions ending in `.read` or `.list`), so changes and refusals stand out. */
  hideReads: z.enum(['true', 'false']).optional(),
  cursor: z.string().max(64).optional(),
  order: z.enum(['asc', 'desc']).default('asc'),
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(100),
});

/** One recorded event as the API answers it (the chain's hashes included). */
export const auditEventOut = z.object({
  seq: z.number(),
  time: z.string(),
  actor: z.object({ id: z.string(), kind: z.string(), authMethod: z.string().optional() }),
  action: z.string(),
  resource: z.object({ type: z.string(), id: z.string().optional(), workspace: z.string().optional() }),
  outcome: z.enum(OUTCOMES),
  requestId: z.string().optional(),
  sourceIp: z.string().optional(),
  userAgent: z.string().optional(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});
export const auditPageOut = z.object({ events: z.array(auditEventOut), nextCursor: z.string().nullable() });
export const auditVerifyOut = z.object({
  ok: z.boolean(),
  eventsChecked: z.number(),
  headSeq: z.number(),
  headHash: z.string(),
  problems: z.array(z.object({ kind: z.string(), seq: z.number().optional(), detail: z.string() })),
  problemsOmitted: z.number(),
  checkedAt: z.string(),
});
/** The operator's `GET /audit/verify`: the same report, without `checkedAt`. */
export const trailVerifyOut = auditVerifyOut.omit({ checkedAt: true });

export const eventsQuery = searchQuerySchema.omit({ actionPrefix: true }).extend({
  action: z.string().min(1).max(128).optional(),
  format: z.enum(['json', 'jsonl', 'csv']).default('json'),
});
export const exportQuery = eventsQuery.omit({ cursor: true, limit: true, format: true }).extend({
  format: z.enum(['jsonl', 'csv']).default('jsonl'),
});
