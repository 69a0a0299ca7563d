/**
 * The data policy document (issue 17) and its answers, as zod schemas: shared by the routes, the
 * CLI and tests. A policy names a TARGET (one dataset, or every dataset carrying a tag), a
 * CONDITION on the reader (`when` must match, `unless` must not) and EFFECTS (column masks,
 * hidden columns, a row filter).
 */
import { z } from 'zod';
import { CONTROL, datasetNameSchema, tag, workspaceId } from './common.ts';

export const POLICY_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const policyName = z.string().regex(POLICY_NAME, 'policy names are 1–63 characters of a–z 0–9 _ -');
export const MAX_FILTER_LENGTH = 2000;

export const columnName = z
  .string()
  .min(1)
  .max(128)
  .refine((s) => !CONTROL.test(s), 'a column name has no control characters');

const attrName = z.string().regex(/^[a-z][a-zA-Z0-9_]{0,39}$/, 'attribute names are a–z, then letters, digits, _');
const attrValue = z.union([z.string().max(200), z.number().finite(), z.boolean()]);

/** A set of readers: every field given must match (roles: holds any of; attributes: value is one of). */
export const readerMatch = z.strictObject({
  roles: z.array(z.string().min(1).max(40)).min(1).max(20).optional(),
  attributes: z.record(attrName, z.array(attrValue).min(1).max(50)).optional(),
  mfa: z.boolean().optional(),
});
export type ReaderMatch = z.infer<typeof readerMatch>;

const col = { column: columnName };
export const maskSchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...col, kind: z.literal('redact'), replacement: z.string().max(100).default('[redacted]') }),
  z.strictObject({ ...col, kind: z.literal('show_first_n'), n: z.number().int().min(0).max(100) }),
  z.strictObject({ ...col, kind: z.literal('show_last_n'), n: z.number().int().min(0).max(100) }),
  z.strictObject({ ...col, kind: z.literal('keyed_hash') }),
  z.strictObject({ ...col, kind: z.literal('null') }),
  z.strictObject({ ...col, kind: z.literal('date_to_year') }),
  z.strictObject({ ...col, kind: z.literal('date_to_month') }),
  z.strictObject({
    ...col,
    kind: z.literal('round'),
    digits: z.number().int().min(-12).max(12).optional(),
    bucket: z.number().positive().max(1e15).optional(),
  }),
  z.strictObject({ ...col, kind: z.literal('email_domain') }),
  /** An expression of the safe mask language (policies.custom.ts), never SQL. */
  z.strictObject({ ...col, kind: z.literal('custom'), expression: z.string().min(1).max(500) }),
]);
export type Mask = z.infer<typeof maskSchema>;
export const MASK_KINDS = maskSchema.options.map((o) => o.shape.kind.value);

export const targetSchema = z.union([z.strictObject({ dataset: datasetNameSchema }), z.strictObject({ tag })]);
export type Target = z.infer<typeof targetSchema>;

/** What a client sends to create or replace a policy (the name is in the path). */
export const policyBody = z
  .strictObject({
    description: z.string().max(1000).default(''),
    owner: z.string().max(200).optional(),
    target: targetSchema,
    when: readerMatch.optional(),
    unless: readerMatch.optional(),
    masks: z.array(maskSchema).max(200).default([]),
    hide: z.array(columnName).max(200).default([]),
    rowFilter: z.string().min(1).max(MAX_FILTER_LENGTH).optional(),
    /** Aggregation threshold: the reader sees only aggregates over groups of at least this many rows. */
    minGroupSize: z.number().int().min(2).max(1_000_000).optional(),
  })
  .refine((p) => p.masks.length > 0 || p.hide.length > 0 || p.rowFilter !== undefined || p.minGroupSize !== undefined, {
    message: 'a policy needs at least one effect: masks, hide, rowFilter or minGroupSize',
  })
  .refine((p) => new Set(p.masks.map((m) => m.column.toLowerCase())).size === p.masks.length, {
    message: 'a policy masks each column at most once',
  })
  .refine((p) => p.masks.every((m) => m.kind !== 'round' || (m.digits === undefined) !== (m.bucket === undefined)), {
    message: 'a round mask takes either digits or bucket',
  });
export type PolicyBody = z.output<typeof policyBody>;

export const savePolicyRequest = z.strictObject({
  policy: policyBody,
  /** Optimistic concurrency: the version the client edited (absent: create only). */
  expectedVersion: z.number().int().min(1).optional(),
  dryRun: z.boolean().default(false),
});

export const policyOut = z.object({
  name: z.string(),
  version: z.number(),
  policy: z.unknown(),
  updatedBy: z.string(),
  updatedAt: z.date(),
});
export type PolicyOut = { name: string; version: number; policy: PolicyBody; updatedBy: string; updatedAt: Date };

/** Why a read looks the way it does: per column the policies that masked or hid it; never values. */
export interface ReadWhy {
  masked: Record<string, string[]>;
  hidden: Record<string, string[]>;
  /** Names of the policies whose row filter applied (never the filter or its literals). */
  filteredBy: string[];
  /** The reader read raw data under `dataset.read.unmasked` although policies target it. */
  unmasked?: boolean;
  /** Aggregation threshold: only aggregates over groups of at least `minGroupSize` rows (`by`: policies). */
  threshold?: { minGroupSize: number; by: string[] };
}

export const nameParams = z.object({ ws: workspaceId, name: policyName });

/** Answers as a client reads them (JSON: dates as ISO text; `policy` is the saved document). */
export const policyAnswer = z.object({
  name: z.string(),
  version: z.number(),
  policy: policyBody,
  updatedBy: z.string(),
  updatedAt: z.string(),
});
export const policyListAnswer = z.object({ policies: z.array(policyAnswer) });
/** One reader's change in an access diff (policies.diff.ts). */
export const accessDiffRowOut = z.object({
  reader: z.object({
    roles: z.array(z.string()),
    attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    mfa: z.boolean(),
  }),
  masked: z.array(z.string()),
  unmasked: z.array(z.string()),
  hidden: z.array(z.string()),
  shown: z.array(z.string()),
  filtersAdded: z.array(z.string()),
  filtersRemoved: z.array(z.string()),
  /** Only when it changes: the minimum group size (aggregation threshold) before and after. */
  threshold: z.object({ before: z.number().nullable(), after: z.number().nullable() }).optional(),
  /** Reader attributes the policies deciding this reader's access look at. */
  attributesUsed: z.array(z.string()).optional(),
});
export const savedPolicyAnswer = policyAnswer.extend({
  changed: z.boolean(),
  dryRun: z.boolean(),
  accessDiff: z.array(accessDiffRowOut),
});
export const policyHistoryAnswer = z.object({
  versions: z.array(
    z.object({
      version: z.number(),
      policy: policyBody.nullable(),
      deleted: z.boolean(),
      changedBy: z.string(),
      changedAt: z.string(),
    }),
  ),
});

/**
 * A workspace's default data policy for columns tagged `pii.*` (detected or set by a steward, not
 * rejected): each dataset with such columns gets a data policy `pii-default-<hash>` masking every
 * one of them with `mask` for the readers `when`/`unless` describe (absent: every reader).
 */
export const piiDefaultBody = z.strictObject({
  mask: z.enum(['keyed_hash', 'redact', 'null', 'email_domain']),
  when: readerMatch.optional(),
  unless: readerMatch.optional(),
});
export type PiiDefault = z.infer<typeof piiDefaultBody>;
export const piiDefaultAnswer = z.object({
  setting: piiDefaultBody.nullable(),
  updatedBy: z.string().optional(),
  updatedAt: z.string().optional(),
});
