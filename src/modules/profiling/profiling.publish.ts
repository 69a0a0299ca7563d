/**
 * The server's own pass over a published (metadata-only) profile (`publishBody`,
 * src/contracts/profiling.ts): the value rules hold whatever the client sent — no string
 * min/max, nothing but counts for a column with a finding or marked sensitive, k-suppression,
 * histogram bins and top values under k rows dropped.
 */
import type { z } from 'zod';
import type { publishBody } from '../../contracts/profiling.ts';
import type { Profile } from './profiling.compute.ts';

export type PublishBody = z.infer<typeof publishBody>;

const VALUE_FIELDS = ['min', 'max', 'mean', 'stddev', 'quantiles', 'histogram', 'patterns', 'top'] as const;

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
