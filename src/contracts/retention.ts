/** Retention, legal holds, terminations and a person's rights (operator routes). Zod only. */
import { z } from 'zod';
import { workspaceId, workspaceParams } from './common.ts';

export const plain = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/, 'letters, digits and . _ : @ -');
export const holdBody = z.strictObject({
  scope: z.enum(['workspace', 'dataset', 'user']),
  target: plain,
  workspace: workspaceId.optional(),
  reason: z.string().trim().min(3).max(500),
});
export const holdParams = z.strictObject({ id: z.string().regex(/^hold_[0-9a-f-]{36}$/) });
export const userParams = z.strictObject({ id: z.uuid() });
export const wsBody = z.strictObject({ workspace: workspaceId });
export const wsParams = workspaceParams;

/** `POST /holds`: the new hold's id. */
export const holdCreatedOut = z.object({ id: z.string() });
/** A workspace's termination: purged after `purgeAfter` (ISO time), `graceDays` from now. */
export const terminationOut = z.object({ workspace: z.string(), purgeAfter: z.string(), graceDays: z.number() });
/** `DELETE /workspaces/:ws/termination`: the workspace whose termination was cancelled. */
export const terminationCancelledOut = z.object({ cancelled: z.string() });

/**
 * `POST /retention/preview`: what the next purge would delete if the classes in the body were
 * saved (nothing is saved or deleted). Times are ISO strings; sequence numbers null when no event
 * would go.
 */
export const retentionPreviewOut = z.object({
  at: z.string(),
  classes: z.object({ audit: z.number(), 'task-logs': z.number(), 'terminated-workspaces': z.number() }),
  audit: z.object({
    before: z.string(),
    events: z.number(),
    firstSeq: z.number().nullable(),
    lastSeq: z.number().nullable(),
    firstTime: z.string().nullable(),
    lastTime: z.string().nullable(),
    blockedByHold: z.boolean(),
    belowRecommended: z.boolean(),
  }),
  taskLogs: z.object({ before: z.string(), files: z.number() }),
  terminations: z.object({
    graceDaysForNew: z.number(),
    pending: z.array(z.object({ workspace: z.string(), purgeAfter: z.string(), due: z.boolean(), held: z.boolean() })),
  }),
});
