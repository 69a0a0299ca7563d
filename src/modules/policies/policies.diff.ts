/**
 * The access diff of a change (issue 17): for each built-in role, and each reader the changed
 * policy's own conditions describe, which columns become masked, unmasked or hidden/visible again
 * and which row filters start or stop applying — on the datasets the changed policy targets
 * (policies with the same target). Computed from the documents alone, before anything is saved.
 * Also per reader: a change of the aggregation threshold (`threshold`: the largest minimum group
 * size before and after, null for none) and the reader attributes the policies deciding it use
 * (`attributesUsed`: in their conditions and `reader.<name>` in their row filters).
 * Not covered: known users' own attributes, and row counts on the current version.
 */
import type { Actor } from '../../core/actor.ts';
import { appliesTo } from './policies.compile.ts';
import type { PolicyBody, ReaderMatch, Target } from '../../contracts/policies.ts';

const ROLES = ['owner', 'admin', 'steward', 'engineer', 'analyst', 'viewer', 'auditor'];

export interface ReaderDiff {
  reader: { roles: string[]; attributes: Record<string, string | number | boolean>; mfa: boolean };
  masked: string[];
  unmasked: string[];
  hidden: string[];
  shown: string[];
  filtersAdded: string[];
  filtersRemoved: string[];
  /** Only when it changes: the minimum group size in force before and after (null: none). */
  threshold?: { before: number | null; after: number | null };
  /** Only when some: reader attributes the applicable policies (before or after) look at. */
  attributesUsed?: string[];
}

interface Named {
  name: string;
  policy: PolicyBody;
}

const sameTarget = (a: Target, b: Target) => JSON.stringify(a) === JSON.stringify(b);

function effects(policies: readonly Named[], reader: Actor, mfa: boolean) {
  const masks = new Map<string, string>();
  const hidden = new Set<string>();
  const filters = new Set<string>();
  const attributes = new Set<string>();
  let threshold: number | null = null;
  for (const p of policies) {
    // Attributes a condition looks at decide whether it applies, so they count either way.
    for (const m of [p.policy.when, p.policy.unless])
      for (const k of Object.keys(m?.attributes ?? {})) attributes.add(k);
    if (!appliesTo(p.policy, reader, mfa)) continue;
    for (const m of (p.policy.rowFilter ?? '').matchAll(/\breader\.([A-Za-z_][A-Za-z0-9_]*)/g))
      if (m[1] !== 'id') attributes.add(m[1]!);
    if (p.policy.minGroupSize !== undefined) threshold = Math.max(threshold ?? 0, p.policy.minGroupSize);
    for (const m of p.policy.masks)
      masks.set(m.column.toLowerCase(), `${p.name}:${JSON.stringify(m, Object.keys(m).sort())}`);
    for (const h of p.policy.hide) hidden.add(h.toLowerCase());
    if (p.policy.rowFilter) filters.add(p.name);
  }
  return { masks, hidden, filters, threshold, attributes };
}

function readersOf(m: ReaderMatch | undefined): ReaderDiff['reader'][] {
  if (!m) return [];
  const attributes = Object.fromEntries(Object.entries(m.attributes ?? {}).map(([k, v]) => [k, v[0]!]));
  return (m.roles ?? ['analyst']).map((r) => ({ roles: [r], attributes, mfa: m.mfa ?? false }));
}

/** `before`/`after`: the policies in force and as they would be (the changed one replaced or gone). */
export function accessDiff(target: Target, before: readonly Named[], after: readonly Named[]): ReaderDiff[] {
  const b = before.filter((p) => sameTarget(p.policy.target, target));
  const a = after.filter((p) => sameTarget(p.policy.target, target));
  const readers: ReaderDiff['reader'][] = [
    ...ROLES.map((r) => ({ roles: [r], attributes: {}, mfa: false })),
    ...[...b, ...a].flatMap((p) => [...readersOf(p.policy.when), ...readersOf(p.policy.unless)]),
  ];
  const seen = new Set<string>();
  const out: ReaderDiff[] = [];
  for (const reader of readers) {
    const key = JSON.stringify(reader);
    if (seen.has(key)) continue;
    seen.add(key);
    const actor: Actor = { id: 'diff', kind: 'user', roles: reader.roles, attributes: reader.attributes };
    const x = effects(b, actor, reader.mfa);
    const y = effects(a, actor, reader.mfa);
    const d: ReaderDiff = {
      reader,
      masked: [...y.masks.keys()].filter((c) => x.masks.get(c) !== y.masks.get(c)),
      unmasked: [...x.masks.keys()].filter((c) => !y.masks.has(c)),
      hidden: [...y.hidden].filter((c) => !x.hidden.has(c)),
      shown: [...x.hidden].filter((c) => !y.hidden.has(c)),
      filtersAdded: [...y.filters].filter((f) => !x.filters.has(f)),
      filtersRemoved: [...x.filters].filter((f) => !y.filters.has(f)),
    };
    if (x.threshold !== y.threshold) d.threshold = { before: x.threshold, after: y.threshold };
    const changed = d.masked.length + d.unmasked.length + d.hidden.length + d.shown.length + (d.threshold ? 1 : 0);
    if (changed + d.filtersAdded.length + d.filtersRemoved.length > 0) {
      const used = [...new Set([...x.attributes, ...y.attributes])].sort();
      if (used.length > 0) d.attributesUsed = used;
      out.push(d);
    }
  }
  return out;
}
