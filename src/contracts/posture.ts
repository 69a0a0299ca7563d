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

export const controlStatus = z.enum(['pass', 'warn', 'fail']);
/** What a check found: JSON values only, as stored and signed. */
const evidenceOut = z.record(
  z.string(),
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.union([z.string(), z.number()]))]),
);
/** One security control's latest result (`GET /posture`, `GET /workspaces/:ws/posture`). */
export const postureControlOut = z.object({
  id: z.string(),
  title: z.string(),
  promise: z.string(),
  method: z.string(),
  remedy: z.string(),
  scope: z.enum(['installation', 'workspace']),
  source: z.string(),
  frameworks: z.object({
    soc2: z.array(z.string()).optional(),
    iso27001: z.array(z.string()).optional(),
    pciDss: z.array(z.string()).optional(),
    gdpr: z.array(z.string()).optional(),
  }),
  status: controlStatus,
  summary: z.string(),
  evidence: evidenceOut,
  checkedAt: z.string(),
});
export const postureReportOut = z.object({
  runId: z.string(),
  scope: z.string(),
  checkedAt: z.string(),
  counts: z.object({ pass: z.number(), warn: z.number(), fail: z.number() }),
  controls: z.array(postureControlOut),
});
export const postureHistoryItemOut = z.object({
  runId: z.string(),
  /** '' = the installation; otherwise the workspace id. */
  scope: z.string(),
  controlId: z.string(),
  status: controlStatus,
  summary: z.string(),
  evidence: evidenceOut,
  checkedAt: z.string(),
});
export const postureHistoryOut = z.object({ results: z.array(postureHistoryItemOut) });
/** A signed evidence pack, its HTML rendering and the audit public key to verify it with. */
export const evidenceBundleOut = z.object({
  pack: z.looseObject({
    format: z.string(),
    generatedAt: z.string(),
    signature: z.object({ alg: z.string(), keyId: z.string(), value: z.string() }),
  }),
  html: z.string(),
  publicKeyPem: z.string(),
});
