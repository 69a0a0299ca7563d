/** Your account: password, MFA and recovery codes, sessions (account-security.tsx), your API tokens (shown once at creation), your workspaces. */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../lib/api.ts';
import { when } from '../lib/format.ts';
import { useSession, useWorkspace } from '../lib/session.tsx';
import { Badge, CopyButton, Field, FieldErrors, Notice, PageHead, Problem, ui } from '../ui/components.tsx';
import { useReauth } from '../ui/reauth.tsx';
import { MfaSection, PasswordSection, SessionsSection } from './account-security.tsx';

function Tokens() {
  const ws = useWorkspace();
  const qc = useQueryClient();
  const { withReauth, dialog } = useReauth();
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: () => api.tokens.list() });
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState('dataset.*');
  const [days, setDays] = useState(30);
  const [created, setCreated] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: () =>
      withReauth(() =>
        api.tokens.create({
          name,
          scopes: scopes.split(/[\s,]+/).filter(Boolean),
          expiresInDays: days,
          workspace: ws.id,
        }),
      ),
    onSuccess: (out) => {
      setCreated(out.token);
      setName('');
      void qc.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api.tokens.revoke(id),
    onSettled: () => qc.invalidateQueries({ queryKey: ['tokens'] }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setCreated(null);
    create.mutate();
  };
  return (
    <section className={ui.panel} aria-label="API tokens">
      {dialog}
      <h2 style={{ marginTop: 0 }}>API tokens</h2>
      <p className={ui.muted}>
        For scripts and the SDK. A token acts as you, only in workspace {ws.id} and only for its scopes.
      </p>
      <Problem error={tokens.error ?? create.error ?? revoke.error} />
      {created ? (
        <Notice kind="ok" title="Copy your token now: it is not shown again">
          <div className={ui.row}>
            <code style={{ wordBreak: 'break-all' }} data-testid="new-token">
              {created}
            </code>
            <CopyButton text={created} what="the token" />
          </div>
        </Notice>
      ) : null}
      <FieldErrors error={create.error}>
        <form onSubmit={submit} className={ui.grid2} aria-label="New API token">
          <Field label="Name" path="/name">
            {(id) => (
              <input
                id={id}
                className={ui.input}
                value={name}
                onChange={(e) => setName(e.target.value)}
                required
                maxLength={100}
              />
            )}
          </Field>
          <Field
            label="Scopes"
            path="/scopes"
            help="Actions or prefixes, separated by spaces, e.g. dataset.* vault.secret.read"
          >
            {(id) => (
              <input id={id} className={ui.input} value={scopes} onChange={(e) => setScopes(e.target.value)} required />
            )}
          </Field>
          <Field label="Expires in (days)" path="/expiresInDays" mismatch="A whole number of days from 1 to 365.">
            {(id) => (
              <input
                id={id}
                className={ui.input}
                type="number"
                min={1}
                max={365}
                step={1}
                required
                value={Number.isNaN(days) ? '' : days}
                onChange={(e) => setDays(e.target.valueAsNumber)}
              />
            )}
          </Field>
          <div style={{ alignSelf: 'end', marginBottom: '0.9rem' }}>
            <button className={`${ui.button} ${ui.primary}`} disabled={create.isPending}>
              Create token
            </button>
          </div>
        </form>
      </FieldErrors>
      {tokens.data && tokens.data.tokens.length > 0 ? (
        <div className={ui.tableWrap}>
          <table className={`${ui.table} ${ui.stack}`}>
            <thead>
              <tr>
                <th>Name</th>
                <th>Workspace</th>
                <th>Scopes</th>
                <th>Expires</th>
                <th>Last used</th>
                <th>
                  <span className={ui.srOnly}>Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.tokens.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td data-label="Workspace">{t.workspace}</td>
                  <td data-label="Scopes">{t.scopes.join(' ')}</td>
                  <td data-label="Expires">{when(t.expiresAt)}</td>
                  <td data-label="Last used">{when(t.lastUsedAt)}</td>
                  <td>
                    {t.revokedAt ? (
                      <Badge>revoked</Badge>
                    ) : (
                      <button className={`${ui.button} ${ui.small}`} onClick={() => revoke.mutate(t.id)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p className={ui.muted}>You have no API tokens.</p>
      )}
    </section>
  );
}

export function AccountPage() {
  const { me } = useSession();
  if (!me) return null;
  return (
    <>
      <PageHead title="Your account" sub={`${me.user.displayName} · ${me.user.email}`} />
      <MfaSection />
      <PasswordSection />
      <SessionsSection />
      <Tokens />
      <section className={ui.panel} aria-label="Workspaces">
        <h2 style={{ marginTop: 0 }}>Your workspaces</h2>
        <ul>
          {me.workspaces.map((w) => (
            <li key={w.id}>
              <strong>{w.name}</strong> ({w.id}) — {w.roles.join(', ')}
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}
