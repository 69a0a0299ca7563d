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
