/** Users & roles (owners and admins): the workspace's users, their roles, attributes and last sign-in; create, disable, enable, reset MFA. */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ROLE_NAMES, type WorkspaceUser } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { when } from '../lib/format.ts';
import { usePermissions, useSession, useWorkspace } from '../lib/session.tsx';
import {
  Badge,
  ConfirmDialog,
  Field,
  FieldErrors,
  Loading,
  NeedsRole,
  Notice,
  PageHead,
  Problem,
  ui,
} from '../ui/components.tsx';
import { PasswordField } from '../ui/password-field.tsx';
import { AttributesDialog, useMemberActions } from './user-admin.tsx';

const ROLE_HELP: Record<string, string> = {
  owner: 'may do everything, including managing other owners',
  admin: 'manages users, drives, policies and reads the audit trail',
  steward: 'manages data policies and reads data',
  engineer: 'manages drives, datasets and secrets',
  analyst: 'reads datasets',
  viewer: 'sees what exists, without reading data',
  auditor: 'reads the audit trail',
};

function CreateUser({ ws: workspaceId, onDone }: { ws: string; onDone: () => void }) {
  const [email, setEmail] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState('engineer');
  const create = useMutation({
    mutationFn: () => api.users.create(workspaceId, { email, displayName, password, role }),
    onSuccess: onDone,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className={ui.panel} onSubmit={submit} aria-label="Create user">
      <h2 style={{ marginTop: 0 }}>Create a user</h2>
      <Problem error={create.error} />
      <FieldErrors error={create.error}>
        <div className={ui.grid2}>
          <Field label="Email" path="/email" mismatch="Enter an email address, like name@example.com.">
            {(id) => (
              <input
                id={id}
                className={ui.input}
                type="email"
                value={email}
                onChange={(e) => setEmail(e.target.value)}
                required
              />
            )}
          </Field>
          <Field label="Name" path="/displayName">
            {(id) => (
              <input
                id={id}
                className={ui.input}
                value={displayName}
                onChange={(e) => setDisplayName(e.target.value)}
                required
              />
            )}
          </Field>
          <PasswordField
            label="First password"
            path="/password"
            purpose="new"
            help="Share it privately; long passphrases are best (15 characters or more). Owners and admins must add MFA at first sign-in."
            value={password}
            onChange={setPassword}
            rules={{ email, displayName, mfa: false }}
          />
          <Field label="Role" path="/role" help={ROLE_HELP[role]}>
            {(id) => (
              <select id={id} className={ui.select} value={role} onChange={(e) => setRole(e.target.value)}>
                {ROLE_NAMES.map((r) => (
                  <option key={r}>{r}</option>
                ))}
              </select>
            )}
          </Field>
        </div>
      </FieldErrors>
      <button className={`${ui.button} ${ui.primary}`} disabled={create.isPending}>
        Create user
      </button>
    </form>
  );
}

export function UsersPage() {
  const ws = useWorkspace();
  const can = usePermissions();
  const { me } = useSession();
  const qc = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [disabling, setDisabling] = useState<WorkspaceUser | null>(null);
  const [changing, setChanging] = useState<{ user: WorkspaceUser; role: string } | null>(null);
  const users = useQuery({ queryKey: ['users', ws.id], queryFn: () => api.users.list(ws.id), enabled: can.admin });
  const refresh = () => qc.invalidateQueries({ queryKey: ['users', ws.id] });
  const [editing, setEditing] = useState<WorkspaceUser | null>(null);
  const member = useMemberActions(ws.id, me?.user.id, refresh);
  const setRole = useMutation({
    mutationFn: ({ id, role }: { id: string; role: string }) => api.users.setRoles(ws.id, id, [role]),
    onSuccess: () => setChanging(null),
    onSettled: refresh,
  });
  const disable = useMutation({
    mutationFn: (id: string) => api.users.disable(ws.id, id),
    onSuccess: () => {
      setDisabling(null);
      void refresh();
    },
  });
  if (!can.admin) return <NeedsRole page="Users & roles" roles="owners and admins" have={ws.roles} />;

  return (
    <>
      <PageHead
        title="Users & roles"
        sub={`Who can use workspace ${ws.id}, and as what.`}
        actions={
          <button className={`${ui.button} ${ui.primary}`} onClick={() => setCreating(true)} disabled={creating}>
            Create user
          </button>
        }
      />
      {creating ? (
        <CreateUser
          ws={ws.id}
          onDone={() => {
            setCreating(false);
            void refresh();
          }}
        />
      ) : null}
      <Problem error={users.error ?? member.error} />
      {users.isPending ? <Loading what="users" /> : null}
      {users.data ? (
        <div className={`${ui.panel} ${ui.tableWrap}`} style={{ padding: 0 }}>
          <table className={`${ui.table} ${ui.stack}`}>
            <thead>
              <tr>
                <th>User</th>
                <th>Role</th>
                <th>MFA</th>
                <th>Status</th>
                <th>Attributes</th>
                <th>Last sign-in</th>
                <th>
                  <span className={ui.srOnly}>Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.users.map((u) => (
                <tr key={u.id} data-testid={`user-${u.email}`}>
                  <td>
                    <strong>{u.displayName}</strong>
                    <div className={ui.muted}>{u.email}</div>
                  </td>
                  <td>
                    <select
                      className={ui.select}
                      aria-label={`Role of ${u.email}`}
                      value={u.roles[0] ?? ''}
                      disabled={u.id === me?.user.id || u.status !== 'active'}
                      onChange={(e) => {
                        setRole.reset();
                        setChanging({ user: u, role: e.target.value });
                      }}
                    >
                      {ROLE_NAMES.map((r) => (
                        <option key={r}>{r}</option>
                      ))}
                    </select>
                  </td>
                  <td data-label="MFA">{u.mfaEnabled ? <Badge kind="good">on</Badge> : <Badge>off</Badge>}</td>
                  <td data-label="Status">
                    {u.status === 'active' ? <Badge kind="good">active</Badge> : <Badge kind="bad">{u.status}</Badge>}
                  </td>
                  <td data-label="Attributes">
                    {Object.entries(u.attributes)
                      .map(([k, v]) => `${k} ${String(v)}`)
                      .join(' · ') || '—'}{' '}
                    <button
                      className={`${ui.button} ${ui.small} ${ui.quiet}`}
                      aria-label={`Edit attributes of ${u.email}`}
                      onClick={() => setEditing(u)}
                    >
                      Edit
                    </button>
                  </td>
                  <td data-label="Last sign-in">{u.lastSignInAt ? when(u.lastSignInAt) : 'never'}</td>
                  <td>
                    <div className={ui.row}>
                      {u.id !== me?.user.id && u.status === 'active' ? (
                        <button className={`${ui.button} ${ui.small}`} onClick={() => setDisabling(u)}>
                          Disable
                        </button>
                      ) : null}
                      {member.buttons(u)}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Notice kind="info">
        A user who lost their authenticator signs in with a recovery code and resets MFA from <em>Your account</em>; if
        they have no code left, <em>Reset MFA</em> here. API tokens are managed by each user there too.
      </Notice>
      {editing ? (
        <AttributesDialog
          ws={ws.id}
          user={editing}
          onDone={() => {
            setEditing(null);
            void refresh();
          }}
        />
      ) : null}
      {member.dialogs}
      <ConfirmDialog
        open={changing !== null}
        tone="primary"
        title={`Make ${changing?.user.email ?? ''} ${changing?.role ?? ''}?`}
        confirmLabel="Change role"
        pending={setRole.isPending}
        error={setRole.error ?? undefined}
        onCancel={() => setChanging(null)}
        onConfirm={() => changing && setRole.mutate({ id: changing.user.id, role: changing.role })}
      >
        <p>
          {changing?.user.displayName} is now <strong>{changing?.user.roles.join(', ') || 'without a role'}</strong> in
          workspace {ws.id}. As <strong>{changing?.role}</strong>, a member {ROLE_HELP[changing?.role ?? ''] ?? ''}.
        </p>
        <p>The change applies to their next request and is recorded in the audit trail.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={disabling !== null}
        title={`Disable ${disabling?.email ?? ''}?`}
        confirmLabel="Disable user"
        pending={disable.isPending}
        error={disable.error}
        onCancel={() => setDisabling(null)}
        onConfirm={() => disabling && disable.mutate(disabling.id)}
      >
        <p>Their sessions end at once and their API tokens stop working. The account and its audit history stay.</p>
      </ConfirmDialog>
    </>
  );
}
