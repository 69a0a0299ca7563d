/** Seal state, unsealing and key management (operator routes). Zod only. */
import { z } from 'zod';

export const unsealBody = z.strictObject({ share: z.string().min(8).max(512) });
