/**
 * Precedence is decided when a policy is saved: a policy whose mask could apply to the same
 * column, for the same reader, as another policy's mask is refused, naming both policies, the
 * column and an example reader. "Could apply": the targets can meet (the same dataset; two tags,
 * since a dataset may carry both; a dataset and a tag it carries now) and some reader satisfies
 * both conditions — found by trying the readers the two conditions describe (roles, attribute
 * values and MFA taken from them), which is exact for this condition language.
 */
import type { Actor } from '../../core/actor.ts';
import type { PolicyBody, ReaderMatch } from '../../contracts/policies.ts';
import { appliesTo } from './policies.compile.ts';

export interface ExampleReader {
  roles: string[];
  attributes: Record<string, string | number | boolean>;
  mfa: boolean;
}

export interface Conflict {
  other: string;
  column: string;
  reader: ExampleReader;
}

const MAX_CANDIDATES = 5000;

function product<T>(lists: T[][]): T[][] {
  let out: T[][] = [[]];
  for (const l of lists) {
    out = out.flatMap((prefix) => l.map((x) => [...prefix, x]));
    if (out.length > MAX_CANDIDATES) return out.slice(0, MAX_CANDIDATES);
  }
  return out;
}

/** A reader both conditions select, or undefined when there is none. */
export function commonReader(a: PolicyBody, b: PolicyBody): ExampleReader | undefined {
  const whens = [a.when, b.when].filter((w): w is ReaderMatch => w !== undefined);
  const roleChoices = whens.filter((w) => w.roles).map((w) => w.roles!);
  const keys = [...new Set(whens.flatMap((w) => Object.keys(w.attributes ?? {})))];
  const valueChoices = keys.map((k) => {
    const lists = whens.map((w) => w.attributes?.[k]).filter((l) => l !== undefined);
    return lists.reduce((acc, l) => acc.filter((v) => l.includes(v)));
  });
  if (valueChoices.some((c) => c.length === 0)) return undefined;
  const mfas = [...new Set(whens.map((w) => w.mfa).filter((m) => m !== undefined))];
  if (mfas.length > 1) return undefined;
  const mfaChoices = mfas.length === 1 ? mfas : [false, true];
  for (const roles of product(roleChoices))
    for (const values of product(valueChoices))
      for (const mfa of mfaChoices) {
        const attributes = Object.fromEntries(keys.map((k, i) => [k, values[i]!]));
        const reader: Actor = { id: 'example', kind: 'user', roles: [...new Set(roles)], attributes };
        if (appliesTo(a, reader, mfa) && appliesTo(b, reader, mfa))
          return { roles: [...new Set(roles)], attributes, mfa };
      }
  return undefined;
}

/** Could the two targets cover one dataset? `tagsOf`: a dataset's tags now. */
async function targetsMeet(
  a: PolicyBody,
  b: PolicyBody,
  tagsOf: (dataset: string) => Promise<readonly string[]>,
): Promise<boolean> {
  const ta = a.target;
  const tb = b.target;
  if ('dataset' in ta && 'dataset' in tb) return ta.dataset === tb.dataset;
  if ('tag' in ta && 'tag' in tb) return true;
  const [ds, tg] =
    'dataset' in ta ? [ta.dataset, (tb as { tag: string }).tag] : [(tb as { dataset: string }).dataset, ta.tag];
  return (await tagsOf(ds)).includes(tg);
}

/** The first conflict of `candidate` with the policies in force (other names). */
export async function findConflict(
  name: string,
  candidate: PolicyBody,
  current: readonly { name: string; policy: PolicyBody }[],
  tagsOf: (dataset: string) => Promise<readonly string[]>,
): Promise<Conflict | undefined> {
  const mine = new Map(candidate.masks.map((m) => [m.column.toLowerCase(), m.column]));
  if (mine.size === 0) return undefined;
  for (const other of current) {
    if (other.name === name) continue;
    const shared = other.policy.masks.map((m) => m.column.toLowerCase()).filter((c) => mine.has(c));
    if (shared.length === 0 || !(await targetsMeet(candidate, other.policy, tagsOf))) continue;
    const reader = commonReader(candidate, other.policy);
    if (reader) return { other: other.name, column: mine.get(shared[0]!)!, reader };
  }
  return undefined;
}
