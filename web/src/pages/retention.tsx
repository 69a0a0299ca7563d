/**
 * Settings → Retention (the operator's): how long each data class is kept, edited with a preview
 * of what the next purge would delete with the change, computed by the server before anything is
 * saved (audit events and their range, task log files, pending terminations and the grace period
 * for new ones), the legal holds that block purges, and the terminated workspaces with their purge
 * dates. The operator token is held in this tab's memory only.
 */
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Api } from '../../../src/client/api.ts';
import { when } from '../lib/format.ts';
import { OperatorTokenForm, useOperator } from '../lib/operator.tsx';
import { Badge, Loading, Notice, PageHead, Problem, ui } from '../ui/components.tsx';

const EDITABLE = ['audit', 'task-logs', 'terminated-workspaces'] as const;
type Editable = (typeof EDITABLE)[number];
const LABELS: Record<Editable | 'backups', { name: string; what: string }> = {
  audit: {
    name: 'Audit events',
    what: 'pruned from the database only up to a signed checkpoint; the export keeps them',
  },
  'task-logs': { name: 'Task logs', what: 'log files of background tasks' },
  'terminated-workspaces': {
    name: 'Terminated workspaces',
    what: 'grace period before the key is destroyed and the workspace purged',
  },
  backups: { name: 'Backups (maximum age)', what: 'set with the backup rotation, shown here' },
};

interface RetentionView {
  classes: Record<Editable | 'backups', number>;
  holds: { id: string; scope: string; target: string; workspace: string | null; reason: string; createdAt: string }[];
  terminations: {
    workspace: string;
    state: string;
    requestedAt: string;
    purgeAfter: string;
    finishedAt: string | null;
  }[];
}

/** What the next purge would delete with the edited classes, as the server computes it (nothing is saved). */
function Preview({ api, view, edit }: { api: Api; view: RetentionView; edit: Record<Editable, number> }) {
  const valid = EDITABLE.every((c) => Number.isInteger(edit[c]) && edit[c] >= 1 && edit[c] <= 36500);
  const preview = useQuery({
    queryKey: ['op-retention-preview', edit],
    queryFn: () => api.retention.preview(edit),
    enabled: valid,
    placeholderData: (previous) => previous,
  });
  const changed = EDITABLE.filter((c) => edit[c] !== view.classes[c]);
  const p = preview.data;
  return (
    <section className={ui.panel} aria-label="Preview">
      <h2 style={{ marginTop: 0 }}>Preview</h2>
      <p className={ui.muted}>
        {changed.length === 0 ? 'No change yet: what the next daily purge deletes.' : 'If saved, the next daily purge:'}
      </p>
      {!valid ? <Notice kind="warn" title="Each class is a whole number of days from 1 to 36500" /> : null}
      <Problem error={preview.error} />
      {p === undefined ? (
        preview.isFetching ? (
          <Loading what="the preview" />
        ) : null
      ) : (
        <ul aria-busy={preview.isFetching}>
          <li data-testid="preview-audit">
            {p.audit.events > 0 ? (
              <>
                prunes <strong>{p.audit.events}</strong> audit events (seq {p.audit.firstSeq}–{p.audit.lastSeq},
                recorded {when(p.audit.firstTime ?? '')} to {when(p.audit.lastTime ?? '')})
              </>
            ) : (
              'prunes no audit event'
            )}
            : cut-off <strong>{when(p.audit.before)}</strong>, down to the last signed checkpoint before it
            {edit.audit !== view.classes.audit ? ` — was ${view.classes.audit} days` : ''}.
            {p.audit.blockedByHold ? (
              <>
                {' '}
                <Badge kind="warn">legal hold</Badge> a hold keeps some older events.
              </>
            ) : null}
            {p.audit.belowRecommended ? (
              <>
                {' '}
                <Badge kind="warn">below 365 days</Badge> PCI DSS asks for at least 12 months.
              </>
            ) : null}
          </li>
          <li data-testid="preview-task-logs">
            deletes <strong>{p.taskLogs.files}</strong> task log files older than {when(p.taskLogs.before)}.
          </li>
          {p.terminations.pending.map((t) => (
            <li key={t.workspace} data-testid="preview-termination">
              Workspace <code>{t.workspace}</code> is purged after <strong>{when(t.purgeAfter)}</strong>
              {t.held ? (
                <>
                  {' '}
                  <Badge kind="warn">held</Badge> not while its legal hold stands
                </>
              ) : null}{' '}
              (a pending termination keeps the date its owners were given).
            </li>
          ))}
          <li data-testid="preview-grace">
            Workspaces terminated from now on get <strong>{p.terminations.graceDaysForNew} days</strong> of grace
            {edit['terminated-workspaces'] !== view.classes['terminated-workspaces']
              ? ` — was ${view.classes['terminated-workspaces']} days`
              : ''}
            .
          </li>
        </ul>
      )}
    </section>
  );
}

function Retention() {
  const { api: op, forget } = useOperator();
  const api = op!;
  const qc = useQueryClient();
  const view = useQuery({
    queryKey: ['op-retention'],
    queryFn: async () => (await api.retention.show()) as unknown as RetentionView,
  });
  const [edit, setEdit] = useState<Record<Editable, number> | null>(null);
  const save = useMutation({
    mutationFn: (classes: Record<Editable, number>) => api.retention.set(classes),
    onSuccess: async () => {
      setEdit(null);
      await qc.invalidateQueries({ queryKey: ['op-retention'] });
    },
  });
  if (view.isPending) return <Loading what="retention settings" />;
  if (view.error)
    return (
      <>
        <Problem error={view.error} />
        <button className={ui.button} onClick={forget}>
          Use another token
        </button>
      </>
    );
  const v = view.data;
  const current = edit ?? {
    audit: v.classes.audit,
    'task-logs': v.classes['task-logs'],
    'terminated-workspaces': v.classes['terminated-workspaces'],
  };
  return (
    <>
      <PageHead
        title="Retention"
        sub="How long each kind of data is kept, what legal holds keep longer, and which workspaces are being terminated."
        actions={
          <button className={`${ui.button} ${ui.quiet}`} onClick={forget}>
            Forget token
          </button>
        }
      />
      {save.isSuccess ? (
        <Notice kind="ok" title="Retention saved">
          The next daily purge uses it.
        </Notice>
      ) : null}
      <form
        className={ui.panel}
        aria-label="Retention classes"
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate(current);
        }}
      >
        <h2 style={{ marginTop: 0 }}>Classes</h2>
        <Problem error={save.error} />
        <table className={ui.table}>
          <thead>
            <tr>
              <th>Data</th>
              <th>Kept (days)</th>
              <th>What happens after</th>
            </tr>
          </thead>
          <tbody>
            {EDITABLE.map((c) => (
              <tr key={c}>
                <td>{LABELS[c].name}</td>
                <td>
                  <input
                    className={ui.input}
                    type="number"
                    min={1}
                    max={36500}
                    aria-label={`${LABELS[c].name} days`}
                    value={current[c]}
                    onChange={(e) => setEdit({ ...current, [c]: Number(e.target.value) })}
                  />
                </td>
                <td className={ui.muted}>{LABELS[c].what}</td>
              </tr>
            ))}
            <tr>
              <td>{LABELS.backups.name}</td>
              <td>{v.classes.backups}</td>
              <td className={ui.muted}>{LABELS.backups.what}</td>
            </tr>
          </tbody>
        </table>
        <div style={{ display: 'flex', gap: '0.5rem', marginTop: '0.5rem' }}>
          <button className={`${ui.button} ${ui.primary}`} disabled={!edit || save.isPending}>
            Save retention
          </button>
          <button type="button" className={ui.button} disabled={!edit} onClick={() => setEdit(null)}>
            Discard changes
          </button>
        </div>
      </form>
      <Preview api={api} view={v} edit={current} />
      <section className={ui.panel} aria-label="Legal holds">
        <h2 style={{ marginTop: 0 }}>Legal holds</h2>
        {v.holds.length === 0 ? (
          <p className={ui.muted}>None: purges run as the classes say.</p>
        ) : (
          <table className={ui.table}>
            <thead>
              <tr>
                <th>Covers</th>
                <th>Reason</th>
                <th>Since</th>
              </tr>
            </thead>
            <tbody>
              {v.holds.map((h) => (
                <tr key={h.id}>
                  <td>
                    {h.scope} <code>{h.target}</code>
                    {h.workspace && h.scope !== 'workspace' ? ` in ${h.workspace}` : ''}
                  </td>
                  <td>{h.reason}</td>
                  <td>{when(h.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section className={ui.panel} aria-label="Terminated workspaces">
        <h2 style={{ marginTop: 0 }}>Terminated workspaces</h2>
        {v.terminations.length === 0 ? (
          <p className={ui.muted}>None.</p>
        ) : (
          <table className={ui.table}>
            <thead>
              <tr>
                <th>Workspace</th>
                <th>State</th>
                <th>Requested</th>
                <th>Purge after</th>
              </tr>
            </thead>
            <tbody>
              {v.terminations.map((t) => (
                <tr key={t.workspace}>
                  <td>
                    <code>{t.workspace}</code>
                  </td>
                  <td>
                    <Badge kind={t.state === 'purged' ? 'bad' : 'warn'}>{t.state}</Badge>
                  </td>
                  <td>{when(t.requestedAt)}</td>
                  <td>{when(t.purgeAfter)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

export function RetentionPage() {
  const { api } = useOperator();
  if (!api)
    return (
      <>
        <PageHead title="Retention" sub="How long each kind of data is kept." />
        <OperatorTokenForm what="Retention settings" />
      </>
    );
  return <Retention />;
}
