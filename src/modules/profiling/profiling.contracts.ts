/**
 * What `strongroom profile FILE --publish NAME` sends (metadata-only datasets): the profile the
 * CLI computed locally — schema and statistics, never content. Strict and bounded; the server
 * re-applies the value rules (`sanitizePublished`) whatever the client sent: no string min/max,
 * nothing but counts for a column with a finding or marked sensitive, k-suppression, top values
 * seen at least k times, patterns made of character classes only.
 */
import { z } from 'zod';
import { CONTROL, tag } from '../../contracts/common.ts';
import { MAX_COLUMNS, type Profile } from './profiling.compute.ts';

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const finite = z.number().finite();
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}([T ][\d:.]+Z?)?$/, 'an ISO date');
const point = z.union([finite, isoDate]);
const name = z
  .string()
  .min(1)
  .max(128)
  .refine((s) => !CONTROL.test(s), 'a column name has no control characters');

const finding = z.strictObject({
  tag,
  confidence: z.number().min(0).max(1),
  hits: count,
  sampled: count,
  nameHint: z.boolean(),
  status: z.literal('suggested'),
});

export const publishedColumn = z.strictObject({
  name,
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
    columns: z.array(publishedColumn).max(MAX_COLUMNS),
    quality: z.strictObject({
      emptyColumns: z.array(name).max(MAX_COLUMNS),
      constantColumns: z.array(name).max(MAX_COLUMNS),
      duplicateRows: count.nullable(),
    }),
  }),
});
export type PublishBody = z.infer<typeof publishBody>;

export const publishAnswer = z.object({ dataset: z.string(), version: z.number().int(), created: z.boolean() });

const VALUE_FIELDS = ['min', 'max', 'mean', 'stddev', 'quantiles', 'histogram', 'patterns', 'top'] as const;

/** The server's own pass over a published profile: the value rules hold whatever the client did. */
export function sanitizePublished(p: PublishBody['profile'], minK: number): Profile {
  const k = Math.max(p.k, minK);
  const columns = p.columns.map((c) => {
    const out = { ...c, sensitive: c.sensitive || c.findings.length > 0 };
    if (out.sensitive) for (const f of VALUE_FIELDS) delete out[f];
    if (out.kind === 'string' || out.kind === 'boolean' || out.kind === 'other') {
      delete out.min;
      delete out.max;
    }
    if (out.top) out.top = out.top.filter((t) => t.count >= k);
    if (out.histogram)
      out.histogram = out.histogram.map((b) => ({ ...b, count: b.count !== null && b.count >= k ? b.count : null }));
    if (out.nonNull < k) {
      for (const f of [...VALUE_FIELDS, 'distinct', 'length'] as const) delete out[f];
      out.suppressed = 'fewer_than_k_values';
    }
    return out;
  });
  return { ...p, k, columns };
}
