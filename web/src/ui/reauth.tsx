/**
 * Re-authentication for sensitive actions (reveal, destroy, token creation): run the action; if
 * the server answers REAUTH_REQUIRED, ask for the password (and the MFA code when the account has
 * MFA), confirm with POST /auth/reauth, and run the action once more.
 */
import { useRef, useState, type FormEvent } from 'react';
import { ApiError, api } from '../lib/api.ts';
import { useSession } from '../lib/session.tsx';
import { Dialog, Field, Problem, ui } from './components.tsx';
import { PasswordField } from './password-field.tsx';

export function useReauth() {
  const { me } = useSession();
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [error, setError] = useState<unknown>(null);
  const pending = useRef<{ resolve: () => void; reject: (e: unknown) => void } | null>(null);

  async function withReauth<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'REAUTH_REQUIRED')) throw err;
    }
    await new Promise<void>((resolve, reject) => {
      pending.current = { resolve, reject };
      setError(null);
      setPassword('');
      setCode('');
      setOpen(true);
    });
    return action();
  }

  async function confirm(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      await api.auth.reauth(password, me?.user.mfaEnabled ? code.trim() : undefined);
      setPassword('');
      setCode('');
      setOpen(false);
      pending.current?.resolve();
    } catch (err) {
      setError(err);
    }
  }
  function cancel() {
    setOpen(false);
    pending.current?.reject(
      new ApiError(0, 'CANCELLED', 'Cancelled', 'You did not confirm your identity; nothing was done.'),
    );
    pending.current = null;
  }

  const dialog = (
    <Dialog open={open} title="Confirm it's you" onClose={cancel}>
      <form onSubmit={confirm}>
        <p>
          This action is sensitive: confirm your password
          {me?.user.mfaEnabled ? ' and a code from your authenticator' : ''}. It stays confirmed for 5 minutes.
        </p>
        <Problem error={error} />
        <PasswordField label="Your password" purpose="current" value={password} onChange={setPassword} autoFocus />
        {me?.user.mfaEnabled ? (
          <Field label="Authenticator code">
            {(id) => (
              <input
                id={id}
                className={ui.input}
                inputMode="numeric"
                autoComplete="one-time-code"
                value={code}
                onChange={(e) => setCode(e.target.value)}
                required
              />
            )}
          </Field>
        ) : null}
        <div className={ui.row} style={{ justifyContent: 'flex-end' }}>
          <button type="button" className={ui.button} onClick={cancel}>
            Cancel
          </button>
          <button type="submit" className={`${ui.button} ${ui.primary}`}>
            Confirm
          </button>
        </div>
      </form>
    </Dialog>
  );
  return { withReauth, dialog };
}
