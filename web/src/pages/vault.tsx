/**
 * Vault: the tree of secret paths (filterable, folders fold), and the selected secret's metadata
 * and versions. Values are never listed: Reveal is a separate, audited action that asks for
 * re-authentication and shows the value for 30 seconds, each field with a copy button. Delete is
 * soft (undelete restores); destroy is irreversible. "New version" starts from the non-secret
 * fields (description, tags, rotation, and the username/key id/account of a revealed value).
 */
import { useEffect, useMemo, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { RevealedSecret, SecretMetadata, SecretSummary, SecretVersion } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { when } from '../lib/format.ts';
import { navigate, useLocation } from '../lib/router.tsx';
import { usePeople } from '../lib/people.ts';
import { usePermissions, useWorkspace } from '../lib/session.tsx';
import {
  Badge,
  ConfirmDialog,
  CopyButton,
  Empty,
  Field,
  Loading,
  NeedsRole,
  Notice,
  PageHead,
  Problem,
  Tags,
  ui,
} from '../ui/components.tsx';
import { useReauth } from '../ui/reauth.tsx';
import { SecretForm, nonSecretFields } from './secret-form.tsx';
import { CertificateFacts, DueSecrets, LivePointer } from './vault-extras.tsx';
import css from './vault.module.css';

interface Node {
  name: string;
  path?: string;
  children: Map<string, Node>;
}

function buildTree(secrets: SecretSummary[]): Node {
  const root: Node = { name: '', children: new Map() };
  for (const s of secrets) {
    let n = root;
    const parts = s.path.split('/');
    parts.forEach((p, i) => {
      const key = i === parts.length - 1 ? `${p}\u0000leaf` : p;
      if (!n.children.has(key))
        n.children.set(key, { name: p, children: new Map(), ...(i === parts.length - 1 ? { path: s.path } : {}) });
      n = n.children.get(key)!;
    });
  }
  return root;
}

/** Folders the user folded, by their path prefix ("team/warehouse/"). */
type Folded = { has(prefix: string): boolean; toggle(prefix: string): void };

function Tree({
  node,
  selected,
  folded,
  filtering,
  prefix = '',
  root,
}: {
  node: Node;
  selected: string | null;
  folded: Folded;
  filtering: boolean;
  prefix?: string;
  root?: boolean;
}) {
  const entries = [...node.children.values()].sort(
    (a, b) => Number(Boolean(a.path)) - Number(Boolean(b.path)) || a.name.localeCompare(b.name),
  );
  return (
    <ul className={`${css.tree} ${root ? css.treeRoot : ''}`}>
      {entries.map((n) => {
        if (n.path) {
          return (
            <li key={`${n.name}-leaf`}>
              <button
                className={`${css.leaf} ${selected === n.path ? css.leafOn : ''}`}
                aria-current={selected === n.path ? 'true' : undefined}
                onClick={() => navigate(`/vault?path=${encodeURIComponent(n.path!)}`)}
              >
                {n.name}
              </button>
            </li>
          );
        }
        const here = `${prefix}${n.name}/`;
        // A search opens every folder with a match; the selected secret's folders stay open.
        const open = filtering || Boolean(selected?.startsWith(here)) || !folded.has(here);
        return (
          <li key={n.name}>
            <button
              type="button"
              className={css.folder}
              aria-expanded={open}
              onClick={() => folded.toggle(here)}
              disabled={filtering || Boolean(selected?.startsWith(here))}
            >
              <span aria-hidden="true" className={css.caret}>
                {open ? '▾' : '▸'}
              </span>{' '}
              {n.name}/
            </button>
            {open ? <Tree node={n} selected={selected} folded={folded} filtering={filtering} prefix={here} /> : null}
          </li>
        );
      })}
    </ul>
  );
}

/** What changed from one version to the next (who wrote it, state, certificate facts). */
function changes(v: SecretVersion, prev: SecretVersion | undefined, person: (id: string) => string): string {
  if (!prev) return 'first version';
  const out: string[] = [];
  if (v.createdBy !== prev.createdBy) out.push(`written by ${person(v.createdBy)} (was ${person(prev.createdBy)})`);
  if (v.certificate && prev.certificate) {
    if (v.certificate.subject !== prev.certificate.subject)
      out.push(`subject ${prev.certificate.subject} → ${v.certificate.subject}`);
    if (v.certificate.notAfter !== prev.certificate.notAfter)
      out.push(`expires ${when(prev.certificate.notAfter)} → ${when(v.certificate.notAfter)}`);
  }
  return out.length ? out.join('; ') : 'new value';
}

const STATE_KIND = { live: 'good', deleted: 'warn', destroyed: 'bad' } as const;
const REVEAL_SECONDS = 30;

function Reveal({ secret, onHide }: { secret: RevealedSecret; onHide: () => void }) {
  const [left, setLeft] = useState(REVEAL_SECONDS);
  useEffect(() => {
    const t = window.setInterval(() => setLeft((n) => n - 1), 1000);
    return () => window.clearInterval(t);
  }, []);
  useEffect(() => {
    if (left <= 0) onHide();
  }, [left, onHide]);
  return (
    <div data-testid="revealed">
      <Notice kind="warn" title={`Version ${secret.version} revealed — hidden again in ${left} s`}>
        This reveal was recorded in the audit trail under your name.
      </Notice>
      <dl className={css.value}>
        {Object.entries(secret.value).map(([k, v]) => {
          const text = typeof v === 'string' ? v : JSON.stringify(v, null, 2);
          return (
            <div key={k}>
              <dt>{k}</dt>
              <dd>
                <span className={css.valueText}>{text}</span>
                <CopyButton text={text} what={k} className={`${ui.button} ${ui.small} ${css.copy}`} />
              </dd>
            </div>
          );
        })}
      </dl>
      <button className={`${ui.button} ${ui.small}`} onClick={onHide}>
        Hide now
      </button>
    </div>
  );
}

function SecretDetail({ path }: { path: string }) {
  const ws = useWorkspace();
  const can = usePermissions();
  const qc = useQueryClient();
  const meta = useQuery({ queryKey: ['secret', ws.id, path], queryFn: () => api.secrets.metadata(ws.id, path) });
  const { withReauth, dialog } = useReauth();
  const person = usePeople();
  const [revealed, setRevealed] = useState<RevealedSecret | null>(null);
  const [editing, setEditing] = useState(false);
  const [confirm, setConfirm] = useState<{ verb: 'delete' | 'destroy' | 'rollback'; version: number } | null>(null);
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ['secret', ws.id, path] });
    void qc.invalidateQueries({ queryKey: ['secrets', ws.id] });
  };
  const reveal = useMutation({
    mutationFn: (v?: number) => withReauth(() => api.secrets.reveal(ws.id, path, v)),
    onSuccess: setRevealed,
  });
  const change = useMutation({
    mutationFn: ({ verb, version }: { verb: 'delete' | 'undelete' | 'destroy' | 'rollback'; version: number }) =>
      verb === 'delete'
        ? api.secrets.delete(ws.id, path, [version])
        : verb === 'undelete'
          ? api.secrets.undelete(ws.id, path, [version])
          : verb === 'rollback'
            ? api.secrets.rollback(ws.id, path, version, meta.data?.currentVersion).then(() => undefined)
            : withReauth(() => api.secrets.destroy(ws.id, path, [version])),
    onSuccess: () => {
      setConfirm(null);
      setRevealed(null);
      refresh();
    },
  });

  const m: SecretMetadata | undefined = meta.data;
  if (meta.isPending) return <Loading what="the secret" />;
  if (!m) return <Problem error={meta.error} />;
  if (editing) {
    const prefill =
      revealed && revealed.version === m.currentVersion ? nonSecretFields(m.type, revealed.value) : undefined;
    return (
      <SecretForm
        existing={m}
        prefill={prefill}
        onCancel={() => setEditing(false)}
        onSaved={() => (setEditing(false), refresh())}
      />
    );
  }
  const current = m.versions.find((v) => v.version === m.currentVersion);
  return (
    <div className={ui.panel}>
      {dialog}
      <div className={ui.spread}>
        <div>
          <h2 style={{ margin: 0, wordBreak: 'break-all' }}>{m.path}</h2>
          <p className={ui.muted}>
            {m.type} · version {m.currentVersion} · updated {when(m.updatedAt)} by {person(m.updatedBy)}
          </p>
        </div>
        <div className={ui.row}>
          {can.reveal ? (
            <button
              className={`${ui.button} ${ui.primary}`}
              onClick={() => reveal.mutate(undefined)}
              disabled={reveal.isPending || current?.state !== 'live'}
            >
              Reveal
            </button>
          ) : null}
          {can.manageData ? (
            <>
              <button className={ui.button} onClick={() => setEditing(true)}>
                New version
              </button>
              <button
                className={ui.button}
                disabled={current?.state !== 'live'}
                onClick={() => setConfirm({ verb: 'delete', version: m.currentVersion })}
              >
                Delete
              </button>
            </>
          ) : null}
        </div>
      </div>
      <Problem error={reveal.error ?? change.error} />
      {revealed ? <Reveal secret={revealed} onHide={() => setRevealed(null)} /> : null}
      <LivePointer
        m={m}
        canRollback={can.manageData}
        onRollback={(v) => setConfirm({ verb: 'rollback', version: v })}
      />
      {m.description ? <p>{m.description}</p> : null}
      <p>
        <Tags tags={m.tags} />
        {m.rotateEvery ? <Badge>rotate every {m.rotateEvery}</Badge> : null}{' '}
        {m.expiresAt ? <Badge kind="warn">expires {when(m.expiresAt)}</Badge> : null}
      </p>
      <h3>Versions</h3>
      <div className={ui.tableWrap}>
        <table className={`${ui.table} ${ui.stack}`}>
          <thead>
            <tr>
              <th>Version</th>
              <th>State</th>
              <th>Written</th>
              <th>Changes</th>
              <th>
                <span className={ui.srOnly}>Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {[...m.versions].reverse().map((v, i, all) => (
              <tr key={v.version} data-testid={`secret-version-${v.version}`}>
                <td data-label="Version">v{v.version}</td>
                <td data-label="State">
                  <Badge kind={STATE_KIND[v.state]}>{v.state}</Badge>
                </td>
                <td data-label="Written">
                  {when(v.createdAt)}
                  <div className={ui.muted}>by {person(v.createdBy)}</div>
                </td>
                <td data-label="Changes">
                  {changes(v, all[i + 1], person)}
                  <CertificateFacts v={v} />
                </td>
                <td>
                  <div className={ui.row}>
                    {can.reveal && v.state === 'live' && v.version !== m.currentVersion ? (
                      <button className={`${ui.button} ${ui.small}`} onClick={() => reveal.mutate(v.version)}>
                        Reveal
                      </button>
                    ) : null}
                    {can.manageData && v.state === 'live' && v.version !== m.currentVersion ? (
                      <button
                        className={`${ui.button} ${ui.small}`}
                        onClick={() => setConfirm({ verb: 'rollback', version: v.version })}
                      >
                        Roll back to this
                      </button>
                    ) : null}
                    {can.manageData && v.state === 'deleted' ? (
                      <button
                        className={`${ui.button} ${ui.small}`}
                        onClick={() => change.mutate({ verb: 'undelete', version: v.version })}
                      >
                        Undelete
                      </button>
                    ) : null}
                    {can.destroy && v.state !== 'destroyed' ? (
                      <button
                        className={`${ui.button} ${ui.small}`}
                        onClick={() => setConfirm({ verb: 'destroy', version: v.version })}
                      >
                        Destroy
                      </button>
                    ) : null}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ConfirmDialog
        open={confirm !== null}
        title={
          confirm?.verb === 'destroy'
            ? `Destroy version ${confirm.version}?`
            : confirm?.verb === 'rollback'
              ? `Roll back to version ${confirm.version}?`
              : `Delete version ${confirm?.version ?? ''}?`
        }
        confirmLabel={
          confirm?.verb === 'destroy' ? 'Destroy for ever' : confirm?.verb === 'rollback' ? 'Roll back' : 'Delete'
        }
        tone={confirm?.verb === 'rollback' ? 'primary' : 'danger'}
        pending={change.isPending}
        onCancel={() => setConfirm(null)}
        onConfirm={() => confirm && change.mutate(confirm)}
      >
        {confirm?.verb === 'rollback' ? (
          <p>
            A new version {m.currentVersion + 1} is written with the value of version {confirm.version}; programs
            reading this secret get that value from now on. Nothing is deleted.
          </p>
        ) : confirm?.verb === 'destroy' ? (
          <p>
            The value of version {confirm.version} is erased and can never be read again. This needs you to confirm your
            identity.
          </p>
        ) : (
          <p>
            The version can no longer be read, but an undelete restores it. Drives and programs using this secret stop
            working until then.
          </p>
        )}
      </ConfirmDialog>
    </div>
  );
}

export function VaultPage() {
  const ws = useWorkspace();
  const can = usePermissions();
  const { query } = useLocation();
  const selected = query.get('path');
  const [creating, setCreating] = useState(false);
  const [showDue, setShowDue] = useState(false);
  const [filter, setFilter] = useState('');
  const [folded, setFolded] = useState<Set<string>>(() => new Set());
  const list = useQuery({
    queryKey: ['secrets', ws.id],
    queryFn: () => api.secrets.list(ws.id),
    enabled: can.metadata,
  });
  const needle = filter.trim().toLowerCase();
  const shown = useMemo(
    () =>
      (list.data?.secrets ?? []).filter(
        (x) => !needle || x.path.toLowerCase().includes(needle) || x.description.toLowerCase().includes(needle),
      ),
    [list.data, needle],
  );
  const tree = useMemo(() => buildTree(shown), [shown]);
  const foldable: Folded = {
    has: (p) => folded.has(p),
    toggle: (p) =>
      setFolded((old) => {
        const next = new Set(old);
        if (!next.delete(p)) next.add(p);
        return next;
      }),
  };
  const qc = useQueryClient();
  if (!can.metadata) return <NeedsRole page="Vault" roles="owners, admins, engineers and auditors" have={ws.roles} />;
  const newButton = can.manageData ? (
    <button className={`${ui.button} ${ui.primary}`} onClick={() => setCreating(true)} disabled={creating}>
      New secret
    </button>
  ) : null;
  const dueButton = (
    <button className={ui.button} aria-pressed={showDue} onClick={() => setShowDue(!showDue)}>
      {showDue ? 'Hide due' : 'Due'}
    </button>
  );

  return (
    <>
      <PageHead
        title="Vault"
        sub="Connection secrets, sealed with your workspace's keys. Values are never listed; revealing one is audited."
        actions={
          <>
            {dueButton}
            {newButton}
          </>
        }
      />
      <Problem error={list.error} />
      {showDue ? <DueSecrets /> : null}
      {creating ? (
        <SecretForm
          onCancel={() => setCreating(false)}
          onSaved={(p) => {
            setCreating(false);
            void qc.invalidateQueries({ queryKey: ['secrets', ws.id] });
            navigate(`/vault?path=${encodeURIComponent(p)}`);
          }}
        />
      ) : null}
      {list.isPending ? <Loading what="secrets" /> : null}
      {list.data && list.data.secrets.length === 0 && !creating ? (
        <Empty title="The vault is empty" action={newButton}>
          Keep database passwords, API keys and cloud credentials here instead of in code; programs get them with{' '}
          <code>strongroom run</code>.
        </Empty>
      ) : null}
      {list.data && list.data.secrets.length > 0 ? (
        <div className={css.layout}>
          <nav className={ui.panel} aria-label="Secret paths">
            <div role="search">
              <Field label="Filter paths">
                {(id) => (
                  <input
                    id={id}
                    className={ui.input}
                    type="search"
                    placeholder="Part of a path or description"
                    value={filter}
                    onChange={(e) => setFilter(e.target.value)}
                  />
                )}
              </Field>
            </div>
            {shown.length === 0 ? <p className={ui.muted}>No secret path contains “{filter.trim()}”.</p> : null}
            <Tree node={tree} selected={selected} folded={foldable} filtering={Boolean(needle)} root />
          </nav>
          {selected ? (
            <SecretDetail key={selected} path={selected} />
          ) : (
            <Empty title="Pick a secret">Choose a path on the left to see its versions and metadata.</Empty>
          )}
        </div>
      ) : null}
    </>
  );
}
