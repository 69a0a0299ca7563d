/**
 * The server's password rules (NIST SP 800-63B: length, not composition), checked as the user
 * types so a form says what is missing before it is sent: at least 15 characters (8 once MFA is
 * on), at most 256, not containing the product name, the email's parts or the display name. The
 * list of common and breached passwords is checked by the server only (it is not shipped to the
 * browser); its refusal shows at the field. `test/password-rules.test.ts` holds this file to the
 * server's `checkPassword`.
 */

export interface PasswordRule {
  text: string;
  /** true: met; false: not met; null: the server checks it when the form is sent. */
  ok: boolean | null;
}

interface Context {
  email?: string;
  displayName?: string;
  mfa: boolean;
}

function contextWords(ctx: Context): string[] {
  const words: string[] = [];
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

export function passwordRules(password: string, ctx: Context): PasswordRule[] {
  const p = password.normalize('NFKC');
  const lower = p.toLowerCase();
  const length = [...p].length;
  const min = ctx.mfa ? 8 : 15;
  return [
    {
      text: ctx.mfa
        ? `At least ${min} characters (${length} so far)`
        : `At least ${min} characters — a few words make it easy (${length} so far)`,
      ok: length >= min,
    },
    { text: 'At most 256 characters', ok: length <= 256 },
    {
      text: 'Not your name or email address',
      ok: !contextWords(ctx).some((w) => lower.includes(w)),
    },
    { text: 'Not the product name', ok: !lower.includes('strongroom') },
    { text: 'Not a common or breached password (checked when you continue)', ok: null },
  ];
}

/** The first rule not met, as the field's message; undefined when every rule the browser checks holds. */
export function passwordProblem(password: string, ctx: Context): string | undefined {
  if (password === '') return undefined;
  return passwordRules(password, ctx)
    .find((r) => r.ok === false)
    ?.text.replace(/ \(\d+ so far\)$/, '');
}
