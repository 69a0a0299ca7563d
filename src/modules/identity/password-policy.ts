/**
 * Password rules of NIST SP 800-63B-4 §3.1.1.2: length, not composition. A password is
 * NFKC-normalised, then checked: at least 15 characters when it is the only factor (8 with MFA),
 * at most 256, any Unicode, never truncated; not on the common-passwords list
 * (@zxcvbn-ts/language-common, offline); not containing a context word (the product name, the
 * email's local part or domain, the display name). No composition rules, no expiry.
 * Every refusal says why, so the user can pick a better one.
 */
import { createRequire } from 'node:module';
import type * as LanguageCommon from '@zxcvbn-ts/language-common';

export const MIN_LENGTH_SINGLE_FACTOR = 15;
export const MIN_LENGTH_WITH_MFA = 8;
export const MAX_LENGTH = 256;

let common: Set<string> | undefined;
/** The list (and its library) loads with the first password checked, not with every start. */
function commonPasswords(): Set<string> {
  if (!common) {
    const { dictionary } = createRequire(import.meta.url)('@zxcvbn-ts/language-common') as typeof LanguageCommon;
    common = new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()));
  }
  return common;
}

/** The form that is hashed and compared: NFKC, nothing else (no trimming, no case folding). */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

export interface PasswordContext {
  email?: string;
  displayName?: string;
  mfa: boolean;
}

function contextWords(ctx: PasswordContext): string[] {
  const words = ['strongroom'];
  if (ctx.email) {
    const [local = '', domain = ''] = ctx.email.toLowerCase().split('@');
    words.push(local, ...domain.split('.').slice(0, -1));
  }
  if (ctx.displayName)
    words.push(
      ...ctx.displayName
        .toLowerCase()
        .normalize('NFKC')
        .split(/[\s._-]+/),
    );
  return words.filter((w) => [...w].length >= 4);
}

/** Returns why the password is refused, or undefined when it is acceptable. */
export function checkPassword(password: string, ctx: PasswordContext): string | undefined {
  const p = normalizePassword(password);
  const length = [...p].length; // code points, so any script counts fairly
  const min = ctx.mfa ? MIN_LENGTH_WITH_MFA : MIN_LENGTH_SINGLE_FACTOR;
  if (length < min) {
    return ctx.mfa
      ? `The password must have at least ${min} characters.`
      : `The password must have at least ${min} characters (${MIN_LENGTH_WITH_MFA} once multi-factor authentication is on).`;
  }
  if (length > MAX_LENGTH) return `The password must have at most ${MAX_LENGTH} characters.`;
  const lower = p.toLowerCase();
  if (commonPasswords().has(lower))
    return 'This password is on a list of common or breached passwords; choose another.';
  const word = contextWords(ctx).find((w) => lower.includes(w));
  if (word)
    return word === 'strongroom'
      ? 'The password must not contain the product name.'
      : 'The password must not contain your name or email address.';
  return undefined;
}
