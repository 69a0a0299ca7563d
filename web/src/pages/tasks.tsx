/**
 * Tasks: the background task runs of the workspace (key rewraps, drive health checks, …) with
 * their state and progress, filtered by kind, and each run's log — read from the encrypted log
 * object on the system drive. Runs still going are refreshed every few seconds.
 */
import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { TaskRunInfo } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { when } from '../lib/format.ts';
import { usePermissions, useWorkspace } from '../lib/session.tsx';
import { Badge, Dialog, Empty, Loading, NeedsRole, PageHead, Problem, ui } from '../ui/components.tsx';

const STATE = { running: 'warn', succeeded: 'good', failed: 'bad' } as const;

/** "remaining 0 · rewrapped 3": a run's progress counts in one line, in name order. */
function progressLine(p: Record<string, unknown>): string {
  const parts = Object.entries(p)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${String(v)}`);
  return parts.length > 0 ? parts.join(' · ') : '—';
}

/** One log entry: its time, its event, then every other field. */
function LogLine({ entry }: { entry: Record<string, unknown> }) {
  const { time, event, ...rest } = entry;
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return (
    <tr>
      <td className={ui.muted}>{typeof time === 'string' ? when(time) : ''}</td>
      <td>
        <code>{String(event ?? '')}</code>
      </td>
      <td>
        <code>{fields.join(' ')}</code>
      </td>
    </tr>
  );
}

function TaskLog({ ws: workspaceId, task, onClose }: { ws: string; task: TaskRunInfo; onClose: () => void }) {
  const log = useQuery({
    queryKey: ['task-log', workspaceId, task.id],
    queryFn: () => api.tasks.log(task.id, workspaceId),
    refetchInterval: task.status === 'running' ? 3000 : false,
  });
  return (
    <Dialog open title={`Task ${task.kind}`} onClose={onClose}>
      <p>
        <Badge kind={STATE[task.status]}>{task.status}</Badge> started {when(task.startedAt)}
        {task.finishedAt ? `, finished ${when(task.finishedAt)}` : ''} — {progressLine(task.progress)}
      </p>
      <p className={ui.muted}>
        <code>{task.id}</code> · log kept encrypted on the system drive <code>{task.drive}</code>
      </p>
      <Problem error={log.error} />
      {log.isLoading ? <Loading what="the task log" /> : null}
      {log.data && log.data.entries.length === 0 ? <p className={ui.muted}>No log lines written yet.</p> : null}
      {log.data && log.data.entries.length > 0 ? (
        <table className={ui.table} data-testid="task-log">
          <thead>
            <tr>
              <th>Time</th>
              <th>Event</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {log.data.entries.map((e, i) => (
              <LogLine key={i} entry={e} />
            ))}
          </tbody>
        </table>
      ) : null}
    </Dialog>
  );
}

export function TasksPage() {
  const ws = useWorkspace();
  const can = usePermissions();
  const [kind, setKind] = useState('');
  const [open, setOpen] = useState<TaskRunInfo | null>(null);
  const runs = useQuery({
    queryKey: ['tasks', ws.id, kind],
    queryFn: () => api.tasks.list(kind || undefined, 100, ws.id),
    enabled: can.audit,
    refetchInterval: (q) => (q.state.data?.tasks.some((t) => t.status === 'running') ? 3000 : false),
  });
  if (!can.audit) return <NeedsRole page="Tasks" roles="owners, admins and auditors" have={ws.roles} />;
  const tasks = runs.data?.tasks ?? [];
  const kinds = runs.data?.kinds ?? [];
  return (
    <>
      <PageHead
        title="Tasks"
        sub="Background work done for this workspace — key rewraps, drive health checks — with its progress and its log."
        actions={
          <label className={ui.label}>
            Kind{' '}
            <select value={kind} onChange={(e) => setKind(e.target.value)} aria-label="Kind">
              <option value="">All kinds</option>
              {kinds.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </label>
        }
      />
      <Problem error={runs.error} />
      {runs.isLoading ? <Loading what="the task runs" /> : null}
      {runs.isSuccess && tasks.length === 0 ? (
        <Empty title="No task runs">
          {kind
            ? `No ${kind} run for this workspace yet.`
            : 'Nothing has run in the background for this workspace yet.'}
        </Empty>
      ) : null}
      {tasks.length > 0 ? (
        <table className={ui.table} data-testid="task-runs">
          <thead>
            <tr>
              <th>State</th>
              <th>Kind</th>
              <th>Progress</th>
              <th>Started</th>
              <th>Finished</th>
              <th>Log</th>
            </tr>
          </thead>
          <tbody>
            {tasks.map((t) => (
              <tr key={t.id} data-task={t.id} data-kind={t.kind} data-status={t.status}>
                <td>
                  <Badge kind={STATE[t.status]}>{t.status}</Badge>
                </td>
                <td>
                  {t.kind}
                  <div className={ui.muted}>
                    <code>{t.id}</code>
                  </div>
                </td>
                <td>{progressLine(t.progress)}</td>
                <td>{when(t.startedAt)}</td>
                <td>{t.finishedAt ? when(t.finishedAt) : '—'}</td>
                <td>
                  <button className={`${ui.button} ${ui.small}`} onClick={() => setOpen(t)}>
                    View log ({t.entries})
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {open ? <TaskLog ws={ws.id} task={open} onClose={() => setOpen(null)} /> : null}
    </>
  );
}
