/** The password rules as a live checklist under a password field (see lib/password-rules.ts). */
import { passwordRules } from '../lib/password-rules.ts';
import s from './ui.module.css';

export function PasswordChecklist(props: { password: string; email?: string; displayName?: string; mfa: boolean }) {
  // Nothing typed yet: the rules are a neutral list, not a row of failures.
  const rules = passwordRules(props.password, props).map((r) => (props.password === '' ? { ...r, ok: null } : r));
  return (
    <ul className={s.checklist} aria-label="Password rules" aria-live="polite" data-testid="password-rules">
      {rules.map((r) => (
        <li key={r.text} data-ok={r.ok === null ? 'later' : String(r.ok)}>
          <span aria-hidden="true">{r.ok === null ? '•' : r.ok ? '✓' : '✗'}</span>{' '}
          {props.password === '' ? null : (
            <span className={s.srOnly}>{r.ok === null ? 'checked later: ' : r.ok ? 'met: ' : 'not met: '}</span>
          )}
          {r.text}
        </li>
      ))}
    </ul>
  );
}
