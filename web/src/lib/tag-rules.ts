/**
 * The built-in tag rules (src/modules/access/policies/abac.cedar) in plain words, so the console can
 * say what a tag does before it is set, and why a read was refused after. The server decides; this
 * only explains. The data protection policies issue replaces these rules with visible policies.
 */
import type { MeInfo } from '../../../src/contracts/index.ts';

export interface TagRule {
  tag: string;
  rule: string;
  /** Who may still read content with this tag. */
  who: string;
  /** Whether the signed-in user meets the rule (false: they would lock themselves out). */
  meets(me: MeInfo | undefined): boolean;
}

const mfa = (me: MeInfo | undefined) => /totp|recovery/.test(me?.strength ?? '');
const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN);

export const TAG_RULES: TagRule[] = [
  {
    tag: 'pii',
    rule: 'abac.pii-needs-clearance-and-mfa',
    who: 'people with clearance 2 or more who signed in with MFA',
    meets: (me) => num(me?.user.attributes.clearance) >= 2 && mfa(me),
  },
  {
    tag: 'eu-only',
    rule: 'abac.eu-only-needs-eu-region',
    who: 'people whose region is eu',
    meets: (me) => me?.user.attributes.region === 'eu',
  },
];

export const rulesFor = (tags: string[]) => TAG_RULES.filter((r) => tags.includes(r.tag));

/** A dataset name as the server accepts it: `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`. */
export const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** What is wrong with a dataset name, in plain words (undefined: nothing, or still empty). */
export function datasetNameProblem(name: string): string | undefined {
  if (name === '' || DATASET_NAME.test(name)) return undefined;
  if (name.length > 128) return `At most 128 characters: this name has ${name.length}.`;
  if (/\s/.test(name)) return 'No spaces: use - or _ between words (e.g. sales-2024).';
  const odd = [...name].find((c) => !/[A-Za-z0-9._-]/.test(c));
  if (odd)
    return `"${odd}" cannot be used: names are letters A–Z and a–z, digits, and . _ - (no accents or other scripts).`;
  return 'Start with a letter or a digit.';
}

/** A valid dataset name from a file name: "Q3 Sales (final).csv" → "Q3-Sales-final". */
export function nameFromFile(filename: string): string {
  const stem = filename.replace(/\.[A-Za-z0-9]{1,8}$/, '');
  const ascii = stem.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  return ascii
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[-.]+$/, '')
    .slice(0, 128);
}

/** What is wrong with a comma-separated tag list (the server's rule: 1–64 of a–z 0–9 . _ : -). */
export function tagsProblem(tags: string[]): string | undefined {
  const bad = tags.find((t) => !/^[a-z0-9._:-]{1,64}$/.test(t));
  if (!bad) return undefined;
  return `Tag "${bad}": use 1–64 characters of a–z, 0–9 and . _ : - (separate tags with commas).`;
}
