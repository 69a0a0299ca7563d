/**
 * Column classification from a sample of its values and its name.
 *
 * A finding needs: at least MIN_HITS validated values; a hit ratio ≥ 0.8 among non-empty values
 * (≥ 0.5 when the column name hints at the same kind); and a distinct-ratio gate — the validated
 * values must not be one or two values repeated (a test card number copied into every row is not
 * a card column). Confidence = hit ratio, +0.1 with a name hint (at most 1). The sample is only
 * read here; nothing is kept, returned or logged but the tag, counts and confidence.
 */
import { DETECTORS, type Detector } from './detectors.ts';

export const MIN_HITS = 5;
const MAX_VALUE_LENGTH = 256;

export interface Finding {
  tag: string;
  confidence: number;
  /** Values that passed the validator, out of `sampled` non-empty values. */
  hits: number;
  sampled: number;
  nameHint: boolean;
  status: 'suggested';
}

function score(d: Detector, name: string, values: readonly string[]): Finding | undefined {
  const nameHint = d.hint.test(name) || d.hint.test(name.replace(/_/g, ' '));
  if (d.nameRequired && !nameHint) return undefined;
  let hits = 0;
  const distinct = new Set<string>();
  for (const v of values) {
    if (v.length <= MAX_VALUE_LENGTH && d.test(v)) {
      hits += 1;
      if (distinct.size < 64) distinct.add(v);
    }
  }
  if (hits < MIN_HITS) return undefined;
  const ratio = hits / values.length;
  if (ratio < (nameHint ? 0.5 : 0.8)) return undefined;
  if (distinct.size < Math.min(MIN_HITS, Math.ceil(hits * 0.2))) return undefined;
  if (d.columnCheck && !d.columnCheck([...distinct])) return undefined;
  const confidence = Math.min(1, Math.round((ratio + (nameHint ? 0.1 : 0)) * 100) / 100);
  return { tag: d.tag, confidence, hits, sampled: values.length, nameHint, status: 'suggested' };
}

/** The findings for one column (best first), from its name and a sample of its values as text. */
export function classifyColumn(name: string, sample: readonly (string | null)[]): Finding[] {
  const values = sample
    .filter((v): v is string => v !== null)
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (values.length === 0) return [];
  const out: Finding[] = [];
  for (const d of DETECTORS) {
    const f = score(d, name, values);
    if (f) out.push(f);
  }
  return out.sort((a, b) => b.confidence - a.confidence);
}
