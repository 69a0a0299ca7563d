/** Background task runs and their logs (operator routes). Zod only. */
import { z } from 'zod';

export const taskParams = z.strictObject({ id: z.string().regex(/^[a-z][a-z0-9-]{0,99}$/, 'a task id') });
export const listQuery = z.strictObject({
  kind: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,39}$/)
    .optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** A background task run (`GET /tasks`); its log is read with `GET /tasks/:id/log`. */
export const taskRunOut = z.object({
  id: z.string(),
  kind: z.string(),
  status: z.enum(['running', 'succeeded', 'failed']),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  updatedAt: z.string(),
  progress: z.record(z.string(), z.unknown()),
  entries: z.number(),
  drive: z.string(),
  objectKey: z.string().nullable(),
});
export const taskListOut = z.object({ tasks: z.array(taskRunOut) });
export const taskLogOut = z.object({ id: z.string(), entries: z.array(z.record(z.string(), z.unknown())) });
