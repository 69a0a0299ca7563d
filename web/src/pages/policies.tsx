/**
 * Data protection policies (issue 17): the list, an editor (target, condition on the reader,
 * effects) whose "Check" asks the server for validation, conflicts and the access diff without
 * saving (a dry run), then "Save" with the version edited (optimistic concurrency), and each
 * policy's history. Stewards, admins and owners edit; engineers and auditors read. The server
 * decides everything: the form only collects the document, and shows the answer.
 */
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type {
  AccessDiffRow,
  DataPolicy,
  DataPolicyDoc,
  DataPolicyMask,
  DataPolicySaved,
} from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { usePeople } from '../lib/people.ts';
import { usePermissions, useWorkspace } from '../lib/session.tsx';
import {
  Badge,
  ConfirmDialog,
  Empty,
  Field,
  FieldErrors,
  Loading,
  NeedsRole,
  Notice,
  PageHead,
  Problem,
  ui,
} from '../ui/components.tsx';

export const MASK_KINDS = [
  'redact',
  'show_first_n',
  'show_last_n',
  'keyed_hash',
  'null',
  'date_to_year',
  'date_to_month',
  'round',
  'email_domain',
  'custom',
] as const;

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** Plain words for a policy's effects (list and dataset page). */
export function effectsSummary(p: DataPolicyDoc): string {
  const parts: string[] = [];
  for (const m of p.masks ?? []) parts.push(`${m.column}: ${m.kind}`);
  if (p.hide?.length) parts.push(`hides ${p.hide.join(', ')}`);
  if (p.rowFilter) parts.push('filters rows');
  if (p.minGroupSize) parts.push(`aggregates only (groups ≥ ${p.minGroupSize})`);
  return parts.join('; ');
}

const targetText = (p: DataPolicyDoc) =>
  'dataset' in p.target ? `dataset ${p.target.dataset}` : `tag ${p.target.tag}`;

interface Form {
  name: string;
  description: string;
  targetKind: 'dataset' | 'tag';
  target: string;
  roles: string;
  attributes: string;
  mfa: '' | 'yes' | 'no';
  masks: { column: string; kind: string; param: string }[];
  hide: string;
  rowFilter: string;
  minGroupSize: string;
}

const EMPTY: Form = {
  name: '',
  description: '',
  targetKind: 'dataset',
  target: '',
  roles: '',
  attributes: '',
  mfa: '',
  masks: [],
  hide: '',
  rowFilter: '',
  minGroupSize: '',
};

function formOf(p: DataPolicy): Form {
  const doc = p.policy;
  const w = doc.when ?? {};
  return {
    name: p.name,
    description: doc.description ?? '',
    targetKind: 'dataset' in doc.target ? 'dataset' : 'tag',
    target: 'dataset' in doc.target ? doc.target.dataset : doc.target.tag,
    roles: (w.roles ?? []).join(', '),
    attributes: Object.entries(w.attributes ?? {})
      .map(([k, vs]) => `${k}=${vs.join('|')}`)
      .join(', '),
    mfa: w.mfa === undefined ? '' : w.mfa ? 'yes' : 'no',
    masks: (doc.masks ?? []).map((m) => {
      const r = m as Record<string, unknown>;
      const param =
        r.bucket !== undefined
          ? `bucket:${String(r.bucket)}`
          : (r.n ?? r.replacement ?? r.expression ?? r.digits ?? '');
      return { column: m.column, kind: m.kind, param: String(param) };
    }),
    hide: (doc.hide ?? []).join(', '),
    rowFilter: doc.rowFilter ?? '',
    minGroupSize: doc.minGroupSize ? String(doc.minGroupSize) : '',
  };
}

/** The mask the row describes, as sent (the server checks it against the mask schema). */
function maskOf(m: Form['masks'][number]): DataPolicyMask {
  return maskFields(m) as DataPolicyMask;
}

function maskFields(m: Form['masks'][number]): Record<string, unknown> {
  const base = { column: m.column.trim(), kind: m.kind };
  switch (m.kind) {
    case 'show_first_n':
    case 'show_last_n':
      return { ...base, n: Number(m.param || 0) };
    case 'redact':
      return m.param ? { ...base, replacement: m.param } : base;
    case 'round':
      return m.param.startsWith('bucket:')
        ? { ...base, bucket: Number(m.param.slice(7)) }
        : { ...base, digits: Number(m.param || 0) };
    case 'custom':
      return { ...base, expression: m.param };
    default:
      return base;
  }
}

/** The document the form describes (the server validates it; nothing here is trusted). */
function docOf(f: Form): DataPolicyDoc {
  const attributes: Record<string, string[]> = {};
  for (const pair of list(f.attributes)) {
    const [k, v = ''] = pair.split('=');
    if (k) attributes[k.trim()] = v.split('|').map((x) => x.trim());
  }
  const when = {
    ...(list(f.roles).length ? { roles: list(f.roles) } : {}),
    ...(Object.keys(attributes).length ? { attributes } : {}),
    ...(f.mfa ? { mfa: f.mfa === 'yes' } : {}),
  };
  return {
    description: f.description,
    target: f.targetKind === 'dataset' ? { dataset: f.target.trim() } : { tag: f.target.trim() },
    ...(Object.keys(when).length ? { when } : {}),
    masks: f.masks.map(maskOf),
    hide: list(f.hide),
    ...(f.rowFilter.trim() ? { rowFilter: f.rowFilter.trim() } : {}),
    ...(f.minGroupSize ? { minGroupSize: Number(f.minGroupSize) } : {}),
  };
}

const PARAM_HELP: Record<string, string> = {
  redact: 'replacement text (default [redacted])',
  show_first_n: 'n characters shown',
  show_last_n: 'n characters shown',
  round: 'digits (e.g. -3), or bucket:WIDTH',
  custom: "expression, e.g. concat('***-', right(value, 4))",
};

function readerText(r: AccessDiffRow['reader']): string {
  const attrs = Object.entries(r.attributes).map(([k, v]) => `${k}=${String(v)}`);
  return [r.roles.join('+') || 'any role', ...attrs, r.mfa ? 'with MFA' : ''].filter(Boolean).join(', ');
}

function AccessDiff({ rows }: { rows: AccessDiffRow[] }) {
  const changed = rows.filter(
    (r) =>
      r.masked.length +
        r.unmasked.length +
        r.hidden.length +
        r.shown.length +
        r.filtersAdded.length +
        r.filtersRemoved.length +
        (r.threshold ? 1 : 0) >
      0,
  );
  if (changed.length === 0) return <Notice kind="info">No reader sees anything different with this change.</Notice>;
  return (
    <div className={ui.tableWrap}>
      <table className={ui.table} data-testid="access-diff" aria-label="Access diff">
        <thead>
          <tr>
            <th>Reader</th>
            <th>Becomes masked</th>
            <th>Unmasked</th>
            <th>Hidden</th>
            <th>Shown again</th>
            <th>Row filters</th>
            <th>Min. group size</th>
            <th>Attributes used</th>
          </tr>
        </thead>
        <tbody>
          {changed.map((r, i) => (
            <tr key={i}>
              <td>{readerText(r.reader)}</td>
              <td>{r.masked.join(', ')}</td>
              <td>{r.unmasked.join(', ')}</td>
              <td>{r.hidden.join(', ')}</td>
              <td>{r.shown.join(', ')}</td>
              <td>{[...r.filtersAdded.map((f) => `+ ${f}`), ...r.filtersRemoved.map((f) => `− ${f}`)].join(', ')}</td>
              <td>{r.threshold ? `${r.threshold.before ?? 'none'} → ${r.threshold.after ?? 'none'}` : ''}</td>
              <td>{(r.attributesUsed ?? []).map((a) => `reader.${a}`).join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Editor({ start, onDone }: { start?: DataPolicy; onDone: (name?: string) => void }) {
  const ws = useWorkspace();
  const qc = useQueryClient();
  const [f, setF] = useState<Form>(start ? formOf(start) : EMPTY);
  const [checked, setChecked] = useState<DataPolicySaved | null>(null);
  const set = (patch: Partial<Form>) => {
    setF({ ...f, ...patch });
    setChecked(null);
  };
  const send = (dryRun: boolean) =>
    api.dataPolicies.save(ws.id, f.name.trim(), {
      policy: docOf(f),
      dryRun,
      ...(start ? { expectedVersion: start.version } : {}),
    });
  const check = useMutation({ mutationFn: () => send(true), onSuccess: setChecked });
  const save = useMutation({
    mutationFn: () => send(false),
    onSuccess: async (r) => {
      await qc.invalidateQueries({ queryKey: ['data-policies', ws.id] });
      onDone(r.name);
    },
  });
  const error = save.error ?? check.error;
  const nameIssue = f.name && !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(f.name) ? 'a–z, 0–9, _ and -, at most 63' : undefined;
  const noEffect =
    f.masks.length === 0 && !f.hide.trim() && !f.rowFilter.trim() && !f.minGroupSize
      ? 'Add at least one effect: a mask, hidden columns, a row filter or a group size.'
      : undefined;
  return (
    <section className={ui.panel} aria-label="Policy editor" data-testid="policy-editor">
      <h2 style={{ marginTop: 0 }}>{start ? `Edit ${start.name} (version ${start.version})` : 'New policy'}</h2>
      <FieldErrors error={error}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            check.mutate();
          }}
        >
          <div className={ui.grid2}>
            <Field label="Name" path="name" check={nameIssue}>
              {(id) => (
                <input
                  id={id}
                  className={ui.input}
                  value={f.name}
                  required
                  disabled={Boolean(start)}
                  onChange={(e) => set({ name: e.target.value })}
                />
              )}
            </Field>
            <Field label="Description" path="policy.description">
              {(id) => (
                <input
                  id={id}
                  className={ui.input}
                  value={f.description}
                  onChange={(e) => set({ description: e.target.value })}
                />
              )}
            </Field>
          </div>
          <div className={ui.grid2}>
            <Field label="Applies to" path="policy.target">
              {(id) => (
                <select
                  id={id}
                  className={ui.select}
                  value={f.targetKind}
                  onChange={(e) => set({ targetKind: e.target.value as Form['targetKind'] })}
                >
                  <option value="dataset">a dataset</option>
                  <option value="tag">every dataset with a tag</option>
                </select>
              )}
            </Field>
            <Field label={f.targetKind === 'dataset' ? 'Dataset' : 'Tag'} path="policy.target">
              {(id) => (
                <input
                  id={id}
                  className={ui.input}
                  value={f.target}
                  required
                  onChange={(e) => set({ target: e.target.value })}
                />
              )}
            </Field>
          </div>
          <h3>For readers</h3>
          <div className={ui.grid2}>
            <Field label="Roles (any of, comma-separated; empty: everyone)" path="policy.when.roles">
              {(id) => (
                <input id={id} className={ui.input} value={f.roles} onChange={(e) => set({ roles: e.target.value })} />
              )}
            </Field>
            <Field label="Attributes (name=a|b, …)" path="policy.when.attributes">
              {(id) => (
                <input
                  id={id}
                  className={ui.input}
                  value={f.attributes}
                  placeholder="region=eu|us"
                  onChange={(e) => set({ attributes: e.target.value })}
                />
              )}
            </Field>
          </div>
          <Field label="MFA" path="policy.when.mfa">
            {(id) => (
              <select
                id={id}
                className={ui.select}
                value={f.mfa}
                onChange={(e) => set({ mfa: e.target.value as Form['mfa'] })}
              >
                <option value="">either</option>
                <option value="yes">signed in with MFA</option>
                <option value="no">without MFA</option>
              </select>
            )}
          </Field>
          <h3>Effects</h3>
          {f.masks.map((m, i) => (
            <div key={i} className={ui.row} data-testid="mask-row">
              <Field label="Column" path={`policy.masks.${i}.column`}>
                {(id) => (
                  <input
                    id={id}
                    className={ui.input}
                    value={m.column}
                    required
                    onChange={(e) =>
                      set({ masks: f.masks.map((x, j) => (j === i ? { ...x, column: e.target.value } : x)) })
                    }
                  />
                )}
              </Field>
              <Field label="Mask" path={`policy.masks.${i}.kind`}>
                {(id) => (
                  <select
                    id={id}
                    className={ui.select}
                    value={m.kind}
                    onChange={(e) =>
                      set({ masks: f.masks.map((x, j) => (j === i ? { ...x, kind: e.target.value } : x)) })
                    }
                  >
                    {MASK_KINDS.map((k) => (
                      <option key={k} value={k}>
                        {k}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
              {PARAM_HELP[m.kind] ? (
                <Field label={PARAM_HELP[m.kind]!} path={`policy.masks.${i}`}>
                  {(id) => (
                    <input
                      id={id}
                      className={ui.input}
                      value={m.param}
                      onChange={(e) =>
                        set({ masks: f.masks.map((x, j) => (j === i ? { ...x, param: e.target.value } : x)) })
                      }
                    />
                  )}
                </Field>
              ) : null}
              <button
                type="button"
                className={`${ui.button} ${ui.quiet} ${ui.small}`}
                onClick={() => set({ masks: f.masks.filter((_, j) => j !== i) })}
              >
                Remove
              </button>
            </div>
          ))}
          <p>
            <button
              type="button"
              className={`${ui.button} ${ui.small}`}
              onClick={() => set({ masks: [...f.masks, { column: '', kind: 'redact', param: '' }] })}
            >
              Add a mask
            </button>
          </p>
          <div className={ui.grid2}>
            <Field label="Hidden columns (comma-separated)" path="policy.hide">
              {(id) => (
                <input id={id} className={ui.input} value={f.hide} onChange={(e) => set({ hide: e.target.value })} />
              )}
            </Field>
            <Field label="Aggregates only: minimum group size" path="policy.minGroupSize">
              {(id) => (
                <input
                  id={id}
                  className={ui.input}
                  type="number"
                  min={2}
                  value={f.minGroupSize}
                  onChange={(e) => set({ minGroupSize: e.target.value })}
                />
              )}
            </Field>
          </div>
          <Field
            label="Row filter"
            path="policy.rowFilter"
            help="Over columns and reader.<attribute>, e.g. region = reader.region"
          >
            {(id) => (
              <input
                id={id}
                className={ui.input}
                value={f.rowFilter}
                onChange={(e) => set({ rowFilter: e.target.value })}
              />
            )}
          </Field>
          {noEffect ? <Notice kind="warn">{noEffect}</Notice> : null}
          <Problem error={error} />
          <div className={ui.row}>
            <button type="submit" className={ui.button} disabled={check.isPending || Boolean(nameIssue)}>
              Check (access diff)
            </button>
            <button
              type="button"
              className={`${ui.button} ${ui.primary}`}
              disabled={!checked || save.isPending}
              title={checked ? undefined : 'Check the change first: see who it affects'}
              onClick={() => save.mutate()}
            >
              Save
            </button>
            <button type="button" className={`${ui.button} ${ui.quiet}`} onClick={() => onDone()}>
              Cancel
            </button>
          </div>
        </form>
      </FieldErrors>
      {checked ? (
        <div data-testid="policy-checked">
          <h3>What this change does</h3>
          {checked.changed ? null : <Notice kind="info">Nothing changes: this is the policy in force.</Notice>}
          <AccessDiff rows={checked.accessDiff} />
        </div>
      ) : null}
    </section>
  );
}

function History({ name }: { name: string }) {
  const ws = useWorkspace();
  const who = usePeople();
  const h = useQuery({
    queryKey: ['data-policies', ws.id, name, 'history'],
    queryFn: () => api.dataPolicies.history(ws.id, name),
  });
  return (
    <section className={ui.panel} aria-label={`History of ${name}`} data-testid="policy-history">
      <h2 style={{ marginTop: 0 }}>History of {name}</h2>
      <Problem error={h.error} />
      {h.isPending ? <Loading what="the history" /> : null}
      <ul>
        {(h.data?.versions ?? []).map((v) => (
          <li key={v.version}>
            Version {v.version} by {who(v.changedBy)} on {new Date(v.changedAt).toLocaleString()}{' '}
            {v.deleted ? <Badge kind="bad">deleted</Badge> : null}
            {v.policy ? (
              <details>
                <summary className={ui.muted}>{effectsSummary(v.policy)}</summary>
                <pre style={{ whiteSpace: 'pre-wrap' }}>{JSON.stringify(v.policy, null, 2)}</pre>
              </details>
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function PoliciesPage() {
  const ws = useWorkspace();
  const can = usePermissions();
  const qc = useQueryClient();
  const who = usePeople();
  const [editing, setEditing] = useState<DataPolicy | 'new' | null>(null);
  const [history, setHistory] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const policies = useQuery({
    queryKey: ['data-policies', ws.id],
    queryFn: () => api.dataPolicies.list(ws.id),
    enabled: can.readPolicies,
  });
  const remove = useMutation({
    mutationFn: (name: string) => api.dataPolicies.remove(ws.id, name),
    onSuccess: async () => {
      setDeleting(null);
      await qc.invalidateQueries({ queryKey: ['data-policies', ws.id] });
    },
  });
  if (!can.readPolicies)
    return <NeedsRole page="Data policies" roles="owners, admins, stewards, engineers and auditors" have={ws.roles} />;
  const rows = policies.data?.policies ?? [];
  return (
    <>
      <PageHead
        title="Data policies"
        sub="What each reader sees of a dataset: masked or hidden columns, filtered rows, aggregates only."
        actions={
          can.writePolicies && !editing ? (
            <button type="button" className={`${ui.button} ${ui.primary}`} onClick={() => setEditing('new')}>
              New policy
            </button>
          ) : null
        }
      />
      <Problem error={policies.error ?? remove.error} />
      {editing ? (
        <Editor
          start={editing === 'new' ? undefined : editing}
          onDone={(name) => {
            setEditing(null);
            if (name) setHistory(name);
          }}
        />
      ) : null}
      {policies.isPending ? <Loading what="the policies" /> : null}
      {!policies.isPending && rows.length === 0 ? (
        <Empty title="No data policies yet">Every reader with access sees every column and row.</Empty>
      ) : null}
      {rows.length > 0 ? (
        <div className={ui.tableWrap}>
          <table className={ui.table} aria-label="Data policies">
            <thead>
              <tr>
                <th>Name</th>
                <th>Applies to</th>
                <th>For</th>
                <th>Effects</th>
                <th>Version</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rows.map((p) => (
                <tr key={p.name} data-testid={`policy-${p.name}`}>
                  <td>
                    <strong>{p.name}</strong>
                    {p.policy.description ? <div className={ui.muted}>{p.policy.description}</div> : null}
                  </td>
                  <td>{targetText(p.policy)}</td>
                  <td>{p.policy.when?.roles?.join(', ') ?? 'everyone'}</td>
                  <td>{effectsSummary(p.policy)}</td>
                  <td>
                    {p.version} <span className={ui.muted}>by {who(p.updatedBy)}</span>
                  </td>
                  <td>
                    <div className={ui.row}>
                      <button
                        type="button"
                        className={`${ui.button} ${ui.small}`}
                        onClick={() => setHistory(history === p.name ? null : p.name)}
                      >
                        History
                      </button>
                      {can.writePolicies ? (
                        <>
                          <button type="button" className={`${ui.button} ${ui.small}`} onClick={() => setEditing(p)}>
                            Edit
                          </button>
                          <button
                            type="button"
                            className={`${ui.button} ${ui.small} ${ui.danger}`}
                            onClick={() => setDeleting(p.name)}
                          >
                            Delete
                          </button>
                        </>
                      ) : null}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {history ? <History name={history} /> : null}
      {deleting ? (
        <ConfirmDialog
          open
          title={`Delete ${deleting}?`}
          confirmLabel="Delete policy"
          pending={remove.isPending}
          error={remove.error ?? undefined}
          onConfirm={() => remove.mutate(deleting)}
          onCancel={() => setDeleting(null)}
        >
          Readers it masks, hides or filters for will see those columns and rows from their next read.
        </ConfirmDialog>
      ) : null}
    </>
  );
}
