/** Cedar policies and built-in rules of a workspace (access module). Zod only. */
import { z } from 'zod';

export const policyOut = z.object({
  id: z.string(),
  workspace: z.string(),
  text: z.string(),
  createdBy: z.string(),
  createdAt: z.date(),
});
export const builtinRuleOut = z.object({
  id: z.string(),
  effect: z.enum(['permit', 'forbid']),
  file: z.string(),
  summary: z.string(),
  text: z.string(),
});

export const cedarPolicyListAnswer = z.object({ builtin: z.array(z.string()), policies: z.array(policyOut) });
export const cedarPolicyBody = z.strictObject({ text: z.string().min(1).max(16_384) });
