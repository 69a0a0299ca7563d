/** Security posture: reports, history, evidence. Zod only. */
import { z } from 'zod';

export const historyQuery = z.strictObject({
  control: z
    .string()
    .regex(/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/)
    .max(100)
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
