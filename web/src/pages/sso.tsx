/**
 * Settings → Single sign-on (owners and admins of the workspace): the identity providers, this
 * workspace's group → role mappings per provider, SSO enforcement and the SCIM token.
 *
 * Providers are installation-wide and the operator's: adding one here asks for the operator
 * token, which is kept in this page's memory only (never stored, never sent anywhere but this
 * server). The SCIM token is shown once, right after it is made; rotating replaces it.
 */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ROLE_NAMES, type SsoWorkspaceSettings } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { operatorApi } from '../lib/operator.tsx';
import { when } from '../lib/format.ts';
import { usePermissions, useWorkspace } from '../lib/session.tsx';
import {
  Badge,
  CopyButton,
  Field,
  FieldErrors,
  Loading,
  NeedsRole,
  Notice,
  PageHead,
  Problem,
  ui,
} from '../ui/components.tsx';
import { useReauth } from '../ui/reauth.tsx';

function AddProvider({ onDone }: { onDone: () => void }) {
  const [token, setToken] = useState('');
  const [kind, setKind] = useState<'oidc' | 'saml'>('oidc');
  const [f, setF] = useState({
    id: '',
    displayName: '',
    issuer: '',
    clientId: '',
    clientSecret: '',
    metadataUrl: '',
    metadataXml: '',
  });
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const add = useMutation({
    mutationFn: () => {
      const common = { id: f.id.trim(), kind, displayName: f.displayName.trim() };
      const body =
        kind === 'oidc'
          ? {
              ...common,
              issuer: f.issuer.trim(),
              clientId: f.clientId.trim(),
              ...(f.clientSecret ? { clientSecret: f.clientSecret } : {}),
            }
          : {
              ...common,
              ...(f.metadataXml.trim() ? { metadataXml: f.metadataXml } : { metadataUrl: f.metadataUrl.trim() }),
            };
      return operatorApi(token.trim()).sso.addProvider(body);
    },
    onSuccess: () => {
      setF({ id: '', displayName: '', issuer: '', clientId: '', clientSecret: '', metadataUrl: '', metadataXml: '' });
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate();
  };
  return (
    <form className={ui.panel} onSubmit={submit} aria-label="Add a provider">
      <h2 style={{ marginTop: 0 }}>Add a provider</h2>
      <p className={ui.muted}>
        Providers serve the whole installation, so adding one takes the operator token (from the data directory). It
        stays in this page only.
      </p>
      <Problem error={add.error} />
      <FieldErrors error={add.error}>
        <Field label="Operator token">
          {(id) => (
            <input
              id={id}
              className={ui.input}
              type="password"
              autoComplete="off"
              value={token}
              onChange={(e) => setToken(e.target.value)}
              required
            />
          )}
        </Field>
        <div className={ui.grid2}>
          <Field label="Kind">
            {(id) => (
              <select
                id={id}
                className={ui.select}
                value={kind}
                onChange={(e) => setKind(e.target.value as 'oidc' | 'saml')}
              >
                <option value="oidc">OpenID Connect</option>
                <option value="saml">SAML 2.0</option>
              </select>
            )}
          </Field>
          <Field label="Id" path="/id" help="Short, lower case; it is part of the callback URLs.">
            {(id) => <input id={id} className={ui.input} value={f.id} onChange={set('id')} required />}
          </Field>
          <Field label="Button label" path="/displayName" help="What the sign-in page shows.">
            {(id) => (
              <input id={id} className={ui.input} value={f.displayName} onChange={set('displayName')} required />
            )}
          </Field>
        </div>
        {kind === 'oidc' ? (
          <div className={ui.grid2}>
            <Field label="Issuer URL" path="/issuer" help="Discovery is read from it, through the egress guard.">
              {(id) => (
                <input id={id} className={ui.input} type="url" value={f.issuer} onChange={set('issuer')} required />
              )}
            </Field>
            <Field label="Client id" path="/clientId">
              {(id) => <input id={id} className={ui.input} value={f.clientId} onChange={set('clientId')} required />}
            </Field>
            <Field label="Client secret" path="/clientSecret" help="Sealed at rest; never shown again.">
              {(id) => (
                <input
                  id={id}
                  className={ui.input}
                  type="password"
                  autoComplete="off"
                  value={f.clientSecret}
                  onChange={set('clientSecret')}
                />
              )}
            </Field>
          </div>
        ) : (
          <>
            <Field label="IdP metadata URL" path="/metadataUrl" help="Fetched once, now, through the egress guard.">
              {(id) => (
                <input id={id} className={ui.input} type="url" value={f.metadataUrl} onChange={set('metadataUrl')} />
              )}
            </Field>
            <Field label="…or the IdP metadata XML" path="/metadataXml">
              {(id) => (
                <textarea id={id} className={ui.input} rows={4} value={f.metadataXml} onChange={set('metadataXml')} />
              )}
            </Field>
          </>
        )}
      </FieldErrors>
      <button className={`${ui.button} ${ui.primary}`} disabled={add.isPending}>
        Add provider
      </button>
    </form>
  );
}

type Row = { group: string; role: string };

function Mappings({
  ws: workspaceId,
  provider,
  rows,
  onDone,
}: {
  ws: string;
  provider: string;
  rows: Row[];
  onDone: () => void;
}) {
  const [edit, setEdit] = useState<Row[]>(rows);
  const save = useMutation({
    mutationFn: () =>
      api.sso.setMappings(
        workspaceId,
        provider,
        edit.filter((r) => r.group.trim() !== '').map((r) => ({ group: r.group.trim(), role: r.role })),
      ),
    onSuccess: onDone,
  });
  const update = (i: number, r: Partial<Row>) => setEdit(edit.map((x, j) => (j === i ? { ...x, ...r } : x)));
  return (
    <form
      aria-label={`Group to role mappings for ${provider}`}
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <Problem error={save.error} />
      <table className={ui.table}>
        <thead>
          <tr>
            <th>IdP group</th>
            <th>Role here</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {edit.map((r, i) => (
            <tr key={i}>
              <td>
                <input
                  className={ui.input}
                  aria-label="IdP group"
                  value={r.group}
                  placeholder="group name, or * for everyone"
                  onChange={(e) => update(i, { group: e.target.value })}
                />
              </td>
              <td>
                <select
                  className={ui.select}
                  aria-label="Role"
                  value={r.role}
                  onChange={(e) => update(i, { role: e.target.value })}
                >
                  {ROLE_NAMES.map((n) => (
                    <option key={n}>{n}</option>
                  ))}
                </select>
              </td>
              <td>
                <button
                  type="button"
                  className={`${ui.button} ${ui.quiet}`}
                  onClick={() => setEdit(edit.filter((_, j) => j !== i))}
                >
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div style={{ display: 'flex', gap: '0.5rem', marginTop: '0.5rem' }}>
        <button type="button" className={ui.button} onClick={() => setEdit([...edit, { group: '', role: 'viewer' }])}>
          Add mapping
        </button>
        <button className={`${ui.button} ${ui.primary}`} disabled={save.isPending}>
          Save mappings
        </button>
      </div>
    </form>
  );
}

function Scim({
  ws: workspaceId,
  settings,
  onDone,
}: {
  ws: string;
  settings: SsoWorkspaceSettings;
  onDone: () => void;
}) {
  const { withReauth, dialog } = useReauth();
  const [provider, setProvider] = useState(settings.scim?.provider ?? settings.providers[0]?.id ?? '');
  const [shown, setShown] = useState<{ token: string; baseUrl: string } | null>(null);
  const rotate = useMutation({
    mutationFn: () => withReauth(() => api.sso.rotateScimToken(workspaceId, provider)),
    onSuccess: (r) => {
      setShown(r);
      onDone();
    },
  });
  const revoke = useMutation({
    mutationFn: () => api.sso.revokeScimToken(workspaceId),
    onSuccess: () => {
      setShown(null);
      onDone();
    },
  });
  return (
    <section className={ui.panel} aria-label="SCIM provisioning">
      <h2 style={{ marginTop: 0 }}>SCIM provisioning</h2>
      <p className={ui.muted}>
        Your IdP creates, updates and deactivates this workspace&apos;s users and groups between sign-ins. Group
        membership feeds the mappings above; deactivation ends the person&apos;s sessions at once.
      </p>
      {settings.scim ? (
        <p>
          <Badge kind="good">token set</Badge> for <strong>{settings.scim.provider}</strong>, made{' '}
          {when(settings.scim.createdAt)}. Base URL <code>{settings.scim.baseUrl}</code>
        </p>
      ) : (
        <p>
          <Badge>no token</Badge> SCIM is off for this workspace.
        </p>
      )}
      {shown ? (
        <Notice kind="ok" title="Copy the token now: it is shown once">
          <p>
            Base URL <code>{shown.baseUrl}</code>
          </p>
          <p>
            Token <code data-testid="scim-token">{shown.token}</code>{' '}
            <CopyButton text={shown.token} what="SCIM token" />
          </p>
        </Notice>
      ) : null}
      <Problem error={rotate.error ?? revoke.error} />
      <div style={{ display: 'flex', gap: '0.5rem', alignItems: 'end' }}>
        <Field label="Provider">
          {(id) => (
            <select id={id} className={ui.select} value={provider} onChange={(e) => setProvider(e.target.value)}>
              {settings.providers.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.displayName}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button
          className={`${ui.button} ${ui.primary}`}
          disabled={!provider || rotate.isPending}
          onClick={() => rotate.mutate()}
        >
          {settings.scim ? 'Rotate token' : 'Create token'}
        </button>
        {settings.scim ? (
          <button className={`${ui.button} ${ui.danger}`} disabled={revoke.isPending} onClick={() => revoke.mutate()}>
            Revoke
          </button>
        ) : null}
      </div>
      {dialog}
    </section>
  );
}

export function SsoPage() {
  const ws = useWorkspace();
  const can = usePermissions();
  const qc = useQueryClient();
  const key = ['sso', ws.id];
  const settings = useQuery({ queryKey: key, queryFn: () => api.sso.settings(ws.id), enabled: can.admin });
  const refresh = () => void qc.invalidateQueries({ queryKey: key });
  const enforce = useMutation({
    mutationFn: (on: boolean) => api.sso.setEnforcement(ws.id, on),
    onSettled: refresh,
  });
  if (!can.admin) return <NeedsRole page="Single sign-on" roles="owners and admins" have={ws.roles} />;
  if (settings.isPending) return <Loading what="single sign-on settings" />;
  if (settings.error) return <Problem error={settings.error} />;
  const s = settings.data;
  return (
    <>
      <PageHead title="Single sign-on" sub={`Identity providers, and how their people get roles in ${ws.id}.`} />
      <section className={ui.panel} aria-label="Providers">
        <h2 style={{ marginTop: 0 }}>Identity providers</h2>
        {s.providers.length === 0 ? (
          <p className={ui.muted}>None yet: people sign in with a password only.</p>
        ) : (
          <table className={ui.table}>
            <thead>
              <tr>
                <th>Provider</th>
                <th>Kind</th>
                <th>For the IdP administrator</th>
              </tr>
            </thead>
            <tbody>
              {s.providers.map((p) => (
                <tr key={p.id}>
                  <td>
                    <strong>{p.displayName}</strong> <code>{p.id}</code>
                  </td>
                  <td>{p.kind === 'oidc' ? 'OpenID Connect' : 'SAML 2.0'}</td>
                  <td>
                    {p.kind === 'saml' ? (
                      <a href={`/api/v1/auth/sso/${encodeURIComponent(p.id)}/saml/metadata`}>SP metadata</a>
                    ) : (
                      <code>{`${window.location.origin}/api/v1/auth/sso/${p.id}/oidc/callback`}</code>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <AddProvider onDone={refresh} />
      {s.providers.map((p) => (
        <section key={p.id} className={ui.panel} aria-label={`Mappings for ${p.displayName}`}>
          <h2 style={{ marginTop: 0 }}>Roles from {p.displayName}</h2>
          <p className={ui.muted}>
            Recomputed at every sign-in and SCIM change. The last owner of this workspace is never demoted this way.
          </p>
          <Mappings
            key={JSON.stringify(s.mappings)}
            ws={ws.id}
            provider={p.id}
            rows={s.mappings.filter((m) => m.provider === p.id).map((m) => ({ group: m.group, role: m.role }))}
            onDone={refresh}
          />
        </section>
      ))}
      <section className={ui.panel} aria-label="Enforcement">
        <h2 style={{ marginTop: 0 }}>Enforcement</h2>
        <Problem error={enforce.error} />
        <label style={{ display: 'flex', gap: '0.5rem', alignItems: 'center' }}>
          <input
            type="checkbox"
            checked={s.enforce}
            disabled={enforce.isPending}
            onChange={(e) => enforce.mutate(e.target.checked)}
          />
          Require single sign-on for this workspace&apos;s SSO users (owners with MFA keep a break-glass password
          sign-in, each use audited)
        </label>
      </section>
      <Scim ws={ws.id} settings={s} onDone={refresh} />
    </>
  );
}
