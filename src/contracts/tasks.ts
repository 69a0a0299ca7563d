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
