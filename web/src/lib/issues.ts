/**
 * Validation issues of a problem+json answer (`issues[]`: location, path, message), put in plain
 * words and matched to the form field they are about. A field names the API path it edits
 * (`/email`, `/config/bucket`, `/metadata/tags`); an issue at that path or below it belongs to it.
 */
import { ApiError } from './api.ts';

export interface Issue {
  location?: string;
  path: string;
  message: string;
}

/** The issues of an error (empty unless it is a problem+json answer carrying `issues`). */
export function issuesOf(error: unknown): Issue[] {
  if (!(error instanceof ApiError)) return [];
  const raw = error.problem?.issues;
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((i): i is Record<string, unknown> => typeof i === 'object' && i !== null)
    .map((i) => ({
      ...(typeof i.location === 'string' ? { location: i.location } : {}),
      path: typeof i.path === 'string' ? (i.path.startsWith('/') ? i.path : `/${i.path.replaceAll('.', '/')}`) : '/',
      message: plain(typeof i.message === 'string' ? i.message : 'is not valid'),
    }));
}

/** Schema-library wording ("Too small: expected string to have >=1 characters") as people say it. */
export function plain(message: string): string {
  const small =
    /^Too small: expected (string|number|array) to have >=?\s*(\d+)\s*(characters|items)?/i.exec(message) ??
    /^Too small: expected (number) to be >=?\s*(\d+)/i.exec(message);
  if (small) {
    const [, kind, n] = small;
    if (kind === 'string') return n === '1' ? 'This field is required.' : `At least ${n} characters.`;
    if (kind === 'array') return n === '1' ? 'Give at least one.' : `Give at least ${n}.`;
    return `At least ${n}.`;
  }
  const big = /^Too big: expected (string|number|array) to (?:have|be) <=?\s*(\d+)/i.exec(message);
  if (big) return big[1] === 'string' ? `At most ${big[2]} characters.` : `At most ${big[2]}.`;
  if (/^Invalid input: expected \w+, received undefined/i.test(message) || /^Required$/i.test(message))
    return 'This field is required.';
  // Rule descriptions ("an email address", "a duration like 90d") read as "Expected …".
  if (/^(an?|the) /.test(message)) return `Expected ${message}.`;
  return /[.!?]$/.test(message) ? message : `${message}.`;
}

/** Does an issue at `issuePath` concern the field editing `fieldPath` (the same path, or inside it)? */
export const concerns = (fieldPath: string, issuePath: string) =>
  issuePath === fieldPath || issuePath.startsWith(`${fieldPath}/`);
