/**
 * Drift between two profiles of one dataset (the version shown and the newest earlier version
 * with a stored profile): columns added, removed or retyped; null-ratio and distinct-ratio shifts
 * beyond a threshold; the row count change; new sensitive findings. Counts and names only.
 *
 * Under a reader's policy view: a column hidden from the reader is absent on both sides (its
 * name never shows as "removed"); a masked column is compared by name only (masking changes its
 * type and its statistics); with a row filter no statistic is compared (`statistics: false`).
 */
import type { ColumnProfile, Profile } from './profiling.compute.ts';

/** Absolute change of the null ratio that counts as drift. */
export const NULL_RATIO_SHIFT = 0.1;
/** Relative change of distinct values per non-null value that counts as drift. */
export const DISTINCT_SHIFT = 0.25;

export interface Drift {
  from: number;
  to: number;
  statistics: boolean;
  rows?: { from: number; to: number };
  added: { name: string; type: string }[];
  removed: string[];
  retyped: { name: string; from: string; to: string }[];
  shifts: { column: string; metric: 'nullRatio' | 'distinctRatio'; from: number; to: number }[];
  newFindings: { column: string; tags: string[] }[];
}

const ratio = (c: ColumnProfile): number | undefined =>
  c.distinct === undefined || c.nonNull === 0 ? undefined : Math.min(1, c.distinct / c.nonNull);
const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

export function drift(
  prev: { version: number; profile: Pick<Profile, 'rowCount' | 'columns'> },
  cur: { version: number; profile: Pick<Profile, 'rowCount' | 'columns'> },
  view: { hidden: readonly string[]; masked: readonly string[]; statistics: boolean },
): Drift {
  const hidden = new Set(view.hidden.map((h) => h.toLowerCase()));
  const masked = new Set(view.masked.map((h) => h.toLowerCase()));
  const before = new Map(prev.profile.columns.filter((c) => !hidden.has(c.name.toLowerCase())).map((c) => [c.name, c]));
  const after = new Map(cur.profile.columns.map((c) => [c.name, c]));
  const out: Drift = {
    from: prev.version,
    to: cur.version,
    statistics: view.statistics,
    added: [],
    removed: [],
    retyped: [],
    shifts: [],
    newFindings: [],
  };
  if (view.statistics) out.rows = { from: prev.profile.rowCount, to: cur.profile.rowCount };
  for (const [name, c] of after) {
    const p = before.get(name);
    if (!p) {
      out.added.push({ name, type: c.type });
      continue;
    }
    const isMasked = masked.has(name.toLowerCase()) || c.masked === true;
    if (!isMasked && p.type !== c.type) out.retyped.push({ name, from: p.type, to: c.type });
    const fresh = c.findings.map((f) => f.tag).filter((t) => !p.findings.some((f) => f.tag === t));
    if (fresh.length > 0) out.newFindings.push({ column: name, tags: fresh });
    if (!view.statistics || isMasked) continue;
    if (Math.abs(c.nullRatio - p.nullRatio) > NULL_RATIO_SHIFT)
      out.shifts.push({ column: name, metric: 'nullRatio', from: p.nullRatio, to: c.nullRatio });
    const [a, b] = [ratio(p), ratio(c)];
    if (a !== undefined && b !== undefined && Math.abs(b - a) > DISTINCT_SHIFT * Math.max(a, b))
      out.shifts.push({ column: name, metric: 'distinctRatio', from: r4(a), to: r4(b) });
  }
  for (const name of before.keys()) if (!after.has(name)) out.removed.push(name);
  return out;
}
