/**
 * Secret paths and the vault's size limits (documented in docs/security.md §14).
 *
 * A path is 1–10 segments joined by `/`; a segment is 1–64 characters of `[A-Za-z0-9._-]`, never
 * `.` or `..`; at most 200 characters in all. So a path never contains a control character, a
 * `#` (the barrier row id `<ws>/<path>#<version>` stays unambiguous), whitespace, a backslash or
 * an empty segment, and it is the same string in URLs, SQL, audit events and the AAD.
 */
import { z } from 'zod';

export const MAX_PATH_LENGTH = 200;
export const MAX_PATH_DEPTH = 10;
export const MAX_SEGMENT_LENGTH = 64;
/** Largest sealed value: the JSON of a typed value, in bytes. */
export const MAX_VALUE_BYTES = 64 * 1024;
export const MAX_VERSIONS_LIMIT = 1000;
export const DEFAULT_MAX_VERSIONS = 10;
export const MAX_TAGS = 32;
export const MAX_CUSTOM_FIELDS = 32;

const SEGMENT = /^[A-Za-z0-9._-]{1,64}$/;

/** Why `path` is not a valid secret path, or undefined when it is. */
export function pathProblem(path: string): string | undefined {
  if (typeof path !== 'string' || path.length === 0) return 'a secret path is required';
  if (path.length > MAX_PATH_LENGTH) return `at most ${MAX_PATH_LENGTH} characters`;
  const segments = path.split('/');
  if (segments.length > MAX_PATH_DEPTH) return `at most ${MAX_PATH_DEPTH} segments`;
  for (const s of segments) {
    if (s.length === 0) return 'no empty segments (no leading, trailing or double slash)';
    if (s === '.' || s === '..') return 'no "." or ".." segments';
    if (!SEGMENT.test(s)) return `segments are 1–${MAX_SEGMENT_LENGTH} characters of A–Z a–z 0–9 . _ -`;
  }
  return undefined;
}

/** Zod schema of a secret path (the problem is the message; the input is never echoed). */
export const secretPathSchema = z.string().superRefine((p, ctx) => {
  const problem = pathProblem(p);
  if (problem) ctx.addIssue({ code: 'custom', message: `not a valid secret path: ${problem}` });
});

/** A listing prefix: empty, or path segments optionally ending in `/`. */
export const secretPrefixSchema = z
  .string()
  .max(MAX_PATH_LENGTH)
  .superRefine((p, ctx) => {
    if (p === '') return;
    const problem = pathProblem(p.endsWith('/') ? p.slice(0, -1) : p);
    if (problem) ctx.addIssue({ code: 'custom', message: `not a valid prefix: ${problem}` });
  });

/** The barrier row id of one version: `<workspace>/<path>#<version>`. */
export function sealIdOf(workspace: string, path: string, version: number): string {
  return `${workspace}/${path}#${version}`;
}
