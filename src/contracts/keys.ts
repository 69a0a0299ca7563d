/** Seal state, unsealing and key management (operator routes). Zod only. */
import { z } from 'zod';

export const unsealBody = z.strictObject({ share: z.string().min(8).max(512) });

export const sealState = z.enum(['uninitialized', 'sealed', 'unsealed']);
/** `GET /sys/seal-status`: public, answered while sealed too. */
export const sealStatusOut = z.object({
  state: sealState,
  sealed: z.boolean(),
  provider: z.string(),
  /** Shamir only: shares needed and shares issued. */
  threshold: z.number().optional(),
  shares: z.number().optional(),
});
/** `POST /sys/unseal`: how far the Shamir shares submitted so far go. */
export const unsealProgressOut = z.object({ sealed: z.boolean(), progress: z.number(), threshold: z.number() });
export const keyTermOut = z.object({
  term: z.number(),
  createdAt: z.string(),
  retiredAt: z.string().optional(),
  active: z.boolean(),
  /** Sealed values this term still protects (0 → it may be retired). */
  sealedValues: z.number(),
});
/** `GET /keys/status`: seal state, key terms and the progress of a rewrap. */
export const keysStatusOut = z.object({
  state: sealState,
  provider: z.string(),
  activeTerm: z.number().optional(),
  terms: z.array(keyTermOut),
  rewrap: z.object({
    running: z.boolean(),
    rewrapped: z.number(),
    remaining: z.number().optional(),
    lastError: z.string().optional(),
  }),
});
/** `POST /keys/rewrap` (202): the background task that moves every value to the active term. */
export const rewrapStartedOut = z.object({
  started: z.literal(true),
  taskId: z.string(),
  taskLog: z.string(),
  /** Where to follow its progress. */
  status: z.string(),
});
/** One dataset version's unwrapped data key in a key export. */
export const keyExportEntryOut = z.object({
  dataset: z.string(),
  version: z.number(),
  drive: z.string(),
  objectKey: z.string(),
  objectId: z.string(),
  /** The raw 32-byte data key, base64. */
  dataKey: z.string(),
  keyTerm: z.number(),
  size: z.number(),
  sha256: z.string(),
});
/** `POST /keys/workspaces/:ws/export`: every data key of a workspace, unwrapped (see `strongroom decrypt`). */
export const keyExportOut = z.object({
  format: z.literal('strongroom-key-export'),
  formatVersion: z.literal(1),
  workspaceId: z.string(),
  exportedAt: z.string(),
  objects: z.array(keyExportEntryOut),
});
/** `GET /keys/workspaces/:ws`: a workspace key's versions, wrapped data keys per version, rewrap progress. */
export const workspaceKeyStatusOut = z.object({
  workspaceId: z.string(),
  keyVersion: z.number(),
  createdAt: z.string(),
  rotatedAt: z.string().nullable(),
  destroyed: z.boolean(),
  versions: z.array(
    z.object({
      version: z.number(),
      current: z.boolean(),
      /** Wrapped data keys under this version (0 on a superseded one → it is deleted after the grace hour). */
      wrappedKeys: z.number(),
      supersededAt: z.string().optional(),
    }),
  ),
  rewrap: z.object({
    running: z.boolean(),
    rewrapped: z.number(),
    remaining: z.number().optional(),
    retired: z.array(z.number()).optional(),
    lastError: z.string().optional(),
  }),
});
/** `POST /keys/workspaces/:ws/rotate`: the new version serves every new wrap at once. */
export const workspaceKeyRotatedOut = z.object({
  previousVersion: z.number(),
  keyVersion: z.number(),
  /** Where to start the rewrap of the data keys still under older versions. */
  rewrap: z.string(),
});
