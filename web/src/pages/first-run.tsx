/**
 * First run: no owner exists yet, so instead of "Sign in" the console offers "Create the first
 * owner" — the one-time setup token (printed at the end of `strongroom serve`'s banner and kept in
 * `<data directory>/setup-token`), email, name and a password checked as it is typed. Once the
 * owner exists the console signs them in and goes straight into MFA enrolment (owners must have it).
 */
import { useState, type FormEvent } from 'react';
import { api } from '../lib/api.ts';
import { useSession } from '../lib/session.tsx';
import { Field, FieldErrors, Notice, Problem, ui } from '../ui/components.tsx';
import { Logo } from '../ui/logo.tsx';
import { PasswordField } from '../ui/password-field.tsx';
import css from './signin.module.css';

export function FirstRun({ onSignIn }: { onSignIn: () => void }) {
  const { refresh } = useSession();
  const [token, setToken] = useState('');
  const [email, setEmail] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const ctx = { email, displayName, mfa: false };

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.auth.setup({ token: token.trim(), email, displayName, password });
      await api.auth.login(email, password);
      setPassword('');
      await refresh(); // an owner without MFA: the console continues with the enrolment
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className={css.wrap}>
      <form className={`${css.card} ${css.wide}`} onSubmit={submit} aria-label="Create the first owner">
        <div className={css.brand}>
          <Logo className={css.logo} /> Strongroom
        </div>
        <h1 style={{ marginTop: 0 }}>Create the first owner</h1>
        <p className={ui.muted}>
          Welcome. No one can sign in yet: create the owner account of this installation. You will set up your
          authenticator app (MFA) right after.
        </p>
        <Problem error={error} />
        <FieldErrors error={error}>
          <Field
            label="Setup token"
            path="/token"
            help={
              <>
                Printed at the end of <code>strongroom serve</code>, and kept in the file <code>setup-token</code> of
                the data directory until it is used. It is valid for one hour after the server started.
              </>
            }
          >
            {(id) => (
              <input
                id={id}
                className={ui.input}
                autoComplete="off"
                spellCheck={false}
                value={token}
                onChange={(e) => setToken(e.target.value)}
                required
                minLength={10}
                autoFocus
              />
            )}
          </Field>
          <Field label="Email" path="/email" mismatch="Enter an email address, like name@example.com.">
            {(id) => (
              <input
                id={id}
                className={ui.input}
                type="email"
                autoComplete="username"
                value={email}
                onChange={(e) => setEmail(e.target.value)}
                required
              />
            )}
          </Field>
          <Field label="Your name" path="/displayName">
            {(id) => (
              <input
                id={id}
                className={ui.input}
                autoComplete="name"
                value={displayName}
                onChange={(e) => setDisplayName(e.target.value)}
                required
                maxLength={200}
              />
            )}
          </Field>
          <PasswordField
            label="Password"
            path="/password"
            purpose="new"
            value={password}
            onChange={setPassword}
            rules={ctx}
          />
        </FieldErrors>
        <button
          className={`${ui.button} ${ui.primary}`}
          type="submit"
          disabled={busy}
          style={{ width: '100%', justifyContent: 'center' }}
        >
          Create owner and continue
        </button>
        <Notice kind="info">
          Already set up?{' '}
          <button type="button" className={`${ui.button} ${ui.quiet}`} onClick={onSignIn}>
            Sign in
          </button>
        </Notice>
      </form>
    </main>
  );
}
