/** Profiles of tabular versions (issue 18). Zod only. */
import { z } from 'zod';
export { versionParams } from './datasets.ts';

/** A column of a version's profile (issue 18): statistics, suggested sensitive-data tags. */
export const profileColumnOut = z.object({
  name: z.string(),
  type: z.string(),
  kind: z.enum(['number', 'temporal', 'string', 'boolean', 'other']),
  nonNull: z.number(),
  nulls: z.number(),
  nullRatio: z.number(),
  distinct: z.number().optional(),
  min: z.union([z.string(), z.number()]).optional(),
  max: z.union([z.string(), z.number()]).optional(),
  mean: z.number().optional(),
  stddev: z.number().optional(),
  quantiles: z.object({ p25: z.number(), p50: z.number(), p75: z.number() }).optional(),
  length: z.object({ min: z.number(), max: z.number(), mean: z.number() }).optional(),
  top: z.array(z.object({ value: z.string(), count: z.number() })).optional(),
  findings: z.array(
    z.object({
      tag: z.string(),
      confidence: z.number(),
      hits: z.number(),
      sampled: z.number(),
      nameHint: z.boolean(),
      status: z.string(),
    }),
  ),
  suppressed: z.literal('fewer_than_k_values').optional(),
});
/** The profile of one tabular version as the caller sees it (values only where they may read rows). */
export const datasetProfileOut = z.object({
  dataset: z.string(),
  version: z.number(),
  format: z.string(),
  rowCount: z.number(),
  columnCount: z.number(),
  columnsProfiled: z.number(),
  k: z.number(),
  valuesShown: z.boolean(),
  columns: z.array(profileColumnOut),
  quality: z.object({
    emptyColumns: z.array(z.string()),
    constantColumns: z.array(z.string()),
    duplicateRows: z.number().nullable(),
  }),
});
