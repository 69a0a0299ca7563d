/** Backups of the installation (operator routes). Zod only. */
import { z } from 'zod';
import { workspaceId } from './common.ts';

export const targetBody = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lower-case letters, digits and dashes'),
  workspace: workspaceId,
  drive: z.string().min(1).max(100),
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'a relative path of plain segments')
    .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'no . or .. segments')
    .default('strongroom-backups'),
  /** Also copy the ciphertext of every committed dataset object here, incrementally (off by default). */
  copyObjects: z.boolean().default(false),
});
/** A target's settings that may change after it is added. */
export const targetPatchBody = z.strictObject({ copyObjects: z.boolean() });
/** Putting dataset objects back from a target's copies: all of them, or one workspace's. */
export const restoreObjectsBody = z
  .strictObject({ workspace: workspaceId.optional(), deep: z.boolean().default(false) })
  .default({ deep: false });
export const restoreObjectsAnswer = z.object({
  checked: z.number().int(),
  present: z.number().int(),
  restored: z.number().int(),
  bytes: z.number().int(),
  failed: z.number().int(),
});
export const targetPatchAnswer = z.object({ name: z.string(), copyObjects: z.boolean() });
export const backupIdSchema = z.string().regex(/^bk-[0-9]{8}t[0-9]{6}z-[0-9a-f]{8}$/, 'not a backup id');
export const idParams = z.strictObject({ id: backupIdSchema });
export const nameParams = z.strictObject({ name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/) });
export const createBody = z.strictObject({ target: z.string().max(40).optional() }).default({});
/** The recovery key as Shamir shares: how many, and how many of them restore a backup. */
export const sharesBody = z
  .strictObject({ shares: z.number().int().min(2).max(16), threshold: z.number().int().min(2).max(16) })
  .refine((b) => b.threshold <= b.shares, {
    message: 'the threshold cannot exceed the number of shares',
    path: ['threshold'],
  });
export const recoverySharesAnswer = z.object({ shares: z.array(z.string()), threshold: z.number().int() });
