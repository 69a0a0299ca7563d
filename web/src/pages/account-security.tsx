/**
 * Your account's security: change the password, MFA (enrol, reset and enrol again, new recovery
 * codes and how many are left), and your sessions (sign one out, or sign out everywhere). Changes
 * that a stolen session must not make ask for the password (and code) again first.
 */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../lib/api.ts';
import { when } from '../lib/format.ts';
import { navigate } from '../lib/router.tsx';
import { useSession } from '../lib/session.tsx';
import { Badge, ConfirmDialog, FieldErrors, Notice, Problem, ui } from '../ui/components.tsx';
import { PasswordField } from '../ui/password-field.tsx';
import { useReauth } from '../ui/reauth.tsx';
import { MfaEnrol, RecoveryCodes } from './mfa-enrol.tsx';

export function PasswordSection() {
  const { me } = useSession();
  const { withReauth, dialog } = useReauth();
  const [password, setPassword] = useState('');
  const ctx = {
    email: me?.user.email ?? '',
    displayName: me?.user.displayName ?? '',
    mfa: Boolean(me?.user.mfaEnabled),
  };
  const change = useMutation({
    mutationFn: () => withReauth(() => api.auth.changePassword(password)),
    onSuccess: () => setPassword(''),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    change.mutate();
  };
  return (
    <section className={ui.panel} aria-label="Password">
      {dialog}
      <h2 style={{ marginTop: 0 }}>Password</h2>
      {change.isSuccess ? (
        <Notice kind="ok" title="Password changed">
          Your other sessions were signed out; this one stays.
        </Notice>
      ) : null}
      <Problem error={change.error} />
      <FieldErrors error={change.error}>
        <form onSubmit={submit} aria-label="Change password">
          <PasswordField
            label="New password"
            path="/password"
            purpose="new"
            value={password}
            onChange={setPassword}
            rules={ctx}
          />
          <button className={`${ui.button} ${ui.primary}`} disabled={change.isPending}>
            Change password
          </button>
        </form>
      </FieldErrors>
    </section>
  );
}

export function MfaSection() {
  const { me, refresh } = useSession();
  const { withReauth, dialog } = useReauth();
  const [enrolling, setEnrolling] = useState(false);
  const [resetting, setResetting] = useState(false);
  const [codes, setCodes] = useState<string[] | null>(null);
  const regenerate = useMutation({
    mutationFn: () => withReauth(() => api.auth.regenerateRecoveryCodes()),
    onSuccess: (out) => setCodes(out.recoveryCodes),
  });
  const reset = useMutation({
    mutationFn: () => withReauth(() => api.auth.resetMfa()),
    onSuccess: async () => {
      setResetting(false);
      setEnrolling(true);
      await refresh(); // owners and admins go straight to the enrolment screen
    },
  });
  if (!me) return null;
  const left = me.recoveryCodesLeft;
  return (
    <section className={ui.panel} aria-label="Multi-factor authentication">
      {dialog}
      <h2 style={{ marginTop: 0 }}>Multi-factor authentication</h2>
      {codes ? (
        <RecoveryCodes
          codes={codes}
          onDone={() => {
            setCodes(null);
            void refresh();
          }}
        />
      ) : me.user.mfaEnabled ? (
        <>
          <p>
            <Badge kind="good">on</Badge> Sign-ins and sensitive actions ask for a code from your authenticator app.
          </p>
          <p data-testid="recovery-codes-left">
            {left === 0 ? (
              <Badge kind="bad">no recovery codes left</Badge>
            ) : (
              <Badge kind={left !== null && left <= 3 ? 'warn' : undefined}>
                {left} recovery code{left === 1 ? '' : 's'} left
              </Badge>
            )}{' '}
            Each signs you in once if you lose your authenticator.
          </p>
          <Problem error={regenerate.error} />
          <div className={ui.row}>
            <button className={ui.button} onClick={() => regenerate.mutate()} disabled={regenerate.isPending}>
              New recovery codes
            </button>
            <button className={ui.button} onClick={() => setResetting(true)}>
              Reset MFA and enrol again
            </button>
          </div>
        </>
      ) : enrolling ? (
        <MfaEnrol
          required={false}
          onDone={() => {
            setEnrolling(false);
            void refresh();
          }}
        />
      ) : (
        <>
          <p>
            <Badge kind="warn">off</Badge> Add an authenticator app so a stolen password is not enough.
          </p>
          <button className={`${ui.button} ${ui.primary}`} onClick={() => setEnrolling(true)}>
            Set up MFA
          </button>
        </>
      )}
      <ConfirmDialog
        open={resetting}
        title="Reset multi-factor authentication?"
        confirmLabel="Reset MFA"
        pending={reset.isPending}
        error={reset.error ?? undefined}
        onCancel={() => setResetting(false)}
        onConfirm={() => reset.mutate()}
      >
        <p>
          Your authenticator and recovery codes stop working. You then enrol an authenticator app again
          {me.mfaEnrolmentRequired || me.workspaces.some((w) => w.roles.some((r) => r === 'owner' || r === 'admin'))
            ? ' — at once, as owners and admins must have MFA'
            : ''}
          .
        </p>
      </ConfirmDialog>
    </section>
  );
}

const STRENGTH: Record<string, string> = {
  password: 'password',
  'password-pending-mfa': 'password, code not yet given',
  'password+totp': 'password + authenticator',
  'password+recovery-code': 'password + recovery code',
};

export function SessionsSection() {
  const { signOut } = useSession();
  const qc = useQueryClient();
  const sessions = useQuery({ queryKey: ['sessions'], queryFn: () => api.auth.sessions() });
  const revoke = useMutation({
    mutationFn: (id: string) => api.auth.revokeSession(id),
    onSettled: () => qc.invalidateQueries({ queryKey: ['sessions'] }),
  });
  const everywhere = useMutation({
    mutationFn: () => api.auth.revokeAllSessions(),
    onSuccess: async () => {
      await signOut();
      navigate('/', { replace: true });
    },
  });
  return (
    <section className={ui.panel} aria-label="Sessions">
      <h2 style={{ marginTop: 0 }}>Where you are signed in</h2>
      <Problem error={sessions.error ?? revoke.error ?? everywhere.error} />
      {sessions.data ? (
        <div className={ui.tableWrap}>
          <table className={`${ui.table} ${ui.stack}`}>
            <thead>
              <tr>
                <th>Signed in</th>
                <th>Last active</th>
                <th>From</th>
                <th>With</th>
                <th>
                  <span className={ui.srOnly}>Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sessions.data.sessions.map((s) => (
                <tr key={s.id} data-testid={`session-${s.id}`}>
                  <td>{when(s.createdAt)}</td>
                  <td data-label="Last active">{when(s.lastSeenAt)}</td>
                  <td data-label="From">{s.sourceIp ?? '—'}</td>
                  <td data-label="With">{STRENGTH[s.strength] ?? s.strength}</td>
                  <td>
                    {s.current ? (
                      <Badge kind="good">this browser</Badge>
                    ) : (
                      <button className={`${ui.button} ${ui.small}`} onClick={() => revoke.mutate(s.id)}>
                        Sign out
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <button className={ui.button} onClick={() => everywhere.mutate()} disabled={everywhere.isPending}>
        Sign out everywhere
      </button>
      <p className={ui.help}>Ends every session, this one included. API tokens are not affected: revoke them below.</p>
    </section>
  );
}
