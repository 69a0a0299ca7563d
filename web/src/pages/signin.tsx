/**
 * Sign in: email + password, then the TOTP code when the account has MFA. After a session ends
 * while the console is open, the same screen says so and, once signed in again, the page the
 * user was on comes back (the URL never changed).
 */
import { useEffect, useState, type FormEvent } from 'react';
import { paths } from '../../../src/client/api.ts';
import type { SsoProviderSummary } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { useSession } from '../lib/session.tsx';
import { Field, FieldErrors, Notice, Problem, ui } from '../ui/components.tsx';
import { Logo } from '../ui/logo.tsx';
import css from './signin.module.css';

export function SignIn() {
  const { expired, refresh } = useSession();
  const [step, setStep] = useState<'password' | 'code'>('password');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [providers, setProviders] = useState<SsoProviderSummary[]>([]);

  // The single sign-on providers the operator configured: one button each (a plain link: the
  // browser goes to the IdP and comes back signed in).
  useEffect(() => {
    api.sso
      .signInProviders()
      .then((r) => setProviders(r.providers))
      .catch(() => setProviders([]));
  }, []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (step === 'password') {
        const s = await api.auth.login(email, password);
        setPassword('');
        if (s.mfaRequired) {
          setStep('code');
          return;
        }
      } else {
        await api.auth.mfa(code.trim());
      }
      await refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  /** "Not you?": end the half-finished sign-in and start again with another account. */
  async function notYou() {
    setError(null);
    setCode('');
    await api.auth.logout().catch(() => undefined);
    setStep('password');
  }

  return (
    <main className={css.wrap}>
      <form className={css.card} onSubmit={submit} aria-label="Sign in">
        <div className={css.brand}>
          <Logo className={css.logo} /> Strongroom
        </div>
        {expired ? (
          <Notice kind="info" title="Your session ended">
            Sign in again to continue where you were.
          </Notice>
        ) : null}
        <Problem error={error} />
        <FieldErrors error={error}>
          {step === 'password' ? (
            <>
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
                    autoFocus
                  />
                )}
              </Field>
              <Field label="Password" path="/password">
                {(id) => (
                  <input
                    id={id}
                    className={ui.input}
                    type="password"
                    autoComplete="current-password"
                    value={password}
                    onChange={(e) => setPassword(e.target.value)}
                    required
                  />
                )}
              </Field>
            </>
          ) : (
            <>
              <p className={ui.muted}>
                Signing in as <strong>{email}</strong>.
              </p>
              <Field
                label="Authentication code"
                path="/code"
                help="The 6-digit code from your authenticator app (or one of your recovery codes)."
              >
                {(id) => (
                  <input
                    id={id}
                    className={ui.input}
                    inputMode="numeric"
                    autoComplete="one-time-code"
                    value={code}
                    onChange={(e) => setCode(e.target.value)}
                    required
                    autoFocus
                  />
                )}
              </Field>
            </>
          )}
        </FieldErrors>
        <button
          className={`${ui.button} ${ui.primary}`}
          type="submit"
          disabled={busy}
          style={{ width: '100%', justifyContent: 'center' }}
        >
          {step === 'password' ? 'Sign in' : 'Verify'}
        </button>
        {step === 'password' && providers.length > 0 ? (
          <nav aria-label="Single sign-on" style={{ display: 'grid', gap: '0.5rem', marginTop: '1rem' }}>
            <p className={ui.muted}>or</p>
            {providers.map((p) => (
              <a
                key={p.id}
                className={ui.button}
                href={paths.ssoStart(p.id, `${window.location.pathname}${window.location.hash}`)}
                style={{ justifyContent: 'center' }}
              >
                {p.displayName}
              </a>
            ))}
          </nav>
        ) : null}
        {step === 'code' ? (
          <p className={css.notYou}>
            Not you?{' '}
            <button type="button" className={`${ui.button} ${ui.quiet}`} onClick={() => void notYou()}>
              Sign out
            </button>
          </p>
        ) : null}
      </form>
    </main>
  );
}
