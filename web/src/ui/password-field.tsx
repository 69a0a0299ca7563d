/**
 * The one password input of the console. `purpose="current"`: an existing password (sign-in,
 * re-authentication), no rules shown. `purpose="new"`: a password being chosen (first owner,
 * a new user, a change), checked as it is typed with the rule checklist under it.
 */
import type { ReactNode } from 'react';
import { passwordProblem } from '../lib/password-rules.ts';
import { Field, ui } from './components.tsx';
import { PasswordChecklist } from './password-rules.tsx';

export function PasswordField(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  purpose: 'current' | 'new';
  /** For a new password: what it is checked against (not the email or name; longer without MFA). */
  rules?: { email?: string; displayName?: string; mfa: boolean };
  path?: string;
  help?: ReactNode;
  autoFocus?: boolean;
}) {
  const rules = props.rules ?? { mfa: false };
  const isNew = props.purpose === 'new';
  return (
    <>
      <Field
        label={props.label}
        {...(props.path !== undefined ? { path: props.path } : {})}
        {...(props.help !== undefined ? { help: props.help } : {})}
        {...(isNew ? { check: passwordProblem(props.value, rules) } : {})}
      >
        {(id) => (
          <input
            id={id}
            className={ui.input}
            type="password"
            autoComplete={isNew ? 'new-password' : 'current-password'}
            value={props.value}
            onChange={(e) => props.onChange(e.target.value)}
            required
            autoFocus={props.autoFocus}
          />
        )}
      </Field>
      {isNew ? <PasswordChecklist password={props.value} {...rules} /> : null}
    </>
  );
}
