/**
 * Profiles of tabular versions, column tags and metadata-only publishing (issue 18). Zod only.
 * The published profile is strict and bounded; the server re-applies the value rules whatever a
 * client sent (src/modules/profiling/profiling.publish.ts).
 */
import { z } from 'zod';
import { CONTROL, tag } from './common.ts';
import { datasetParams } from './datasets.ts';
export { datasetParams, versionParams } from './datasets.ts';

/** At most this many columns are profiled (and published). */
export const MAX_PROFILE_COLUMNS = 500;

export const columnName = z
  .string()
  .min(1)
  .max(128)
  .refine((s) => !CONTROL.test(s), 'a column name has no control characters');
export const columnParams = datasetParams.extend({ col: columnName });

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const finite = z.number().finite();
/** A number, or a date/time as DuckDB prints it (a timestamp with time zone carries its offset: `+00`, `+05:30`). */
const point = z.union([
  finite,
  z.string().regex(/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}(:?\d{2})?)?)?$/, 'an ISO date'),
]);

const findingOut = z.object({
  tag: z.string(),
  confidence: z.number(),
  hits: z.number(),
  sampled: z.number(),
  nameHint: z.boolean(),
  status: z.string(),
});

/** A column of a version's profile: statistics, suggested sensitive-data tags. */
export const profileColumnOut = z.object({
  name: z.string(),
  type: z.string(),
  kind: z.enum(['number', 'temporal', 'string', 'boolean', 'other']),
  nonNull: z.number(),
  nulls: z.number(),
  nullRatio: z.number(),
  distinct: z.number().optional(),
  /** Numbers and dates only (never a string's). */
  min: z.union([z.string(), z.number()]).optional(),
  max: z.union([z.string(), z.number()]).optional(),
  mean: z.number().optional(),
  stddev: z.number().optional(),
  quantiles: z.object({ p25: z.number(), p50: z.number(), p75: z.number() }).optional(),
  /** Bins (lower, upper]; `count` null: fewer than k rows. */
  histogram: z
    .array(
      z.object({
        lower: z.union([z.number(), z.string()]),
        upper: z.union([z.number(), z.string()]),
        count: z.number().nullable(),
      }),
    )
    .optional(),
  length: z.object({ min: z.number(), max: z.number(), mean: z.number() }).optional(),
  /** Character-class shapes (9 digits, A upper, a letters) with their share of the sample. */
  patterns: z.array(z.object({ pattern: z.string(), share: z.number() })).optional(),
  top: z.array(z.object({ value: z.string(), count: z.number() })).optional(),
  findings: z.array(findingOut),
  /** Counts only: a finding not rejected or a confirmed sensitive tag. */
  sensitive: z.boolean().optional(),
  /** Masked for this reader by a data policy. */
  masked: z.boolean().optional(),
  suppressed: z.literal('fewer_than_k_values').optional(),
});

/** A classification tag on a column: suggested by detection, confirmed or rejected by a steward. */
export const columnTagOut = z.object({
  tag: z.string(),
  status: z.enum(['suggested', 'confirmed', 'rejected']),
  source: z.enum(['detected', 'steward']),
});

/** What changed since the previous profiled version (names and counts only). */
export const profileDriftOut = z.object({
  from: z.number(),
  to: z.number(),
  statistics: z.boolean(),
  rows: z.object({ from: z.number(), to: z.number() }).optional(),
  added: z.array(z.object({ name: z.string(), type: z.string() })),
  removed: z.array(z.string()),
  retyped: z.array(z.object({ name: z.string(), from: z.string(), to: z.string() })),
  shifts: z.array(
    z.object({ column: z.string(), metric: z.enum(['nullRatio', 'distinctRatio']), from: z.number(), to: z.number() }),
  ),
  newFindings: z.array(z.object({ column: z.string(), tags: z.array(z.string()) })),
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
  /** The stored profile's background job. */
  state: z.enum(['pending', 'running', 'done', 'failed']).optional(),
  progress: z.record(z.string(), z.unknown()).optional(),
  /** `stored`: the stored profile; `reader_view`: computed now through the reader's policy view. */
  source: z.enum(['stored', 'reader_view']).optional(),
  computedAt: z.string().optional(),
  tags: z.record(z.string(), z.array(columnTagOut)).optional(),
  drift: profileDriftOut.optional(),
});

export const recomputeAnswer = z.object({
  dataset: z.string(),
  version: z.number(),
  state: z.string(),
  queued: z.boolean(),
});

/** A steward's decision on one column: the confirmed and the rejected tags (others revert). */
export const columnTagsBody = z.strictObject({
  confirmed: z.array(tag).max(32).default([]),
  rejected: z.array(tag).max(32).default([]),
});
export const columnTagsAnswer = z.object({ column: z.string(), tags: z.array(columnTagOut) });

const finding = z.strictObject({
  tag,
  confidence: z.number().min(0).max(1),
  hits: count,
  sampled: count,
  nameHint: z.boolean(),
  status: z.literal('suggested'),
});

/** One column of a published (metadata-only) profile. */
export const publishedColumn = z.strictObject({
  name: columnName,
  type: z.string().min(1).max(100),
  kind: z.enum(['number', 'temporal', 'string', 'boolean', 'other']),
  nonNull: count,
  nulls: count,
  nullRatio: z.number().min(0).max(1),
  distinct: count.optional(),
  min: point.optional(),
  max: point.optional(),
  mean: finite.optional(),
  stddev: finite.optional(),
  quantiles: z.strictObject({ p25: finite, p50: finite, p75: finite }).optional(),
  histogram: z
    .array(z.strictObject({ lower: point, upper: point, count: count.nullable() }))
    .max(64)
    .optional(),
  length: z.strictObject({ min: count, max: count, mean: finite }).optional(),
  patterns: z
    .array(
      z.strictObject({
        pattern: z
          .string()
          .max(50)
          .regex(/^[9Aa\s.,:;@_\-/+()#&'*?…]*$/, 'patterns are character classes only'),
        share: z.number().min(0).max(1),
      }),
    )
    .max(5)
    .optional(),
  top: z
    .array(z.strictObject({ value: z.string().max(200), count }))
    .max(5)
    .optional(),
  findings: z.array(finding).max(20),
  sensitive: z.boolean(),
  masked: z.boolean().optional(),
  suppressed: z.literal('fewer_than_k_values').optional(),
});

/** What `strongroom profile FILE --publish NAME` sends: the source's kind and the profile, no content. */
export const publishBody = z.strictObject({
  source: z.strictObject({
    format: z.enum(['csv', 'jsonl', 'parquet', 'postgres']),
    filename: z
      .string()
      .max(200)
      .regex(/^[^/\\\u0000-\u001f]+$/, 'a file name, not a path')
      .optional(),
  }),
  profile: z.strictObject({
    rowCount: count,
    columnCount: count,
    columnsProfiled: count,
    k: z.number().int().min(1).max(1000),
    valuesShown: z.boolean(),
    columns: z.array(publishedColumn).max(MAX_PROFILE_COLUMNS),
    quality: z.strictObject({
      emptyColumns: z.array(columnName).max(MAX_PROFILE_COLUMNS),
      constantColumns: z.array(columnName).max(MAX_PROFILE_COLUMNS),
      duplicateRows: count.nullable(),
    }),
  }),
});

export const publishAnswer = z.object({ dataset: z.string(), version: z.number().int(), created: z.boolean() });

export const publishedProfilesAnswer = z.object({
  dataset: z.string(),
  profiles: z.array(
    z.object({ version: z.number(), publishedBy: z.string(), publishedAt: z.string(), profile: z.unknown() }),
  ),
});
