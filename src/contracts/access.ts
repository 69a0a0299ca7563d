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

/** `PUT /workspaces/:ws/network-allowlist`: the workspace's CIDR blocks; `[]` removes its narrowing. */
export const networkAllowlistBody = z.strictObject({ cidrs: z.array(z.string().min(3).max(64)).max(100) });
/** The client network allowlists in force for a workspace, and the caller's address as the server sees it. */
export const networkAllowlistOut = z.object({
  /** The installation's list; empty = every address. */
  installation: z.array(z.string()),
  /** The workspace's own list; null = no narrowing. */
  workspace: z.array(z.string()).nullable(),
  trustedProxies: z.array(z.string()),
  yourAddress: z.string(),
  allowed: z.boolean(),
});
