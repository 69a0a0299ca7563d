/**
 * Audit: the workspace's events, searchable by person (email or name, or an id), category,
 * action, resource, outcome and time, with reads hidden on request; people shown by email; one
 * event's detail; export of the whole current search, streamed by the server (CSV with emails,
 * or `.jsonl`); and the trail's integrity with a verify-now button.
 */
import { useState, type FormEvent } from 'react';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import type { WorkspaceUser } from '../../../src/contracts/index.ts';
import type { AuditEvent, AuditFilters } from '../../../src/contracts/index.ts';
import { paths } from '../../../src/client/api.ts';
import { api } from '../lib/api.ts';
import { when } from '../lib/format.ts';
import { usePeople } from '../lib/people.ts';
import { usePermissions, useWorkspace } from '../lib/session.tsx';
import { Badge, Dialog, Empty, Field, Loading, NeedsRole, Notice, PageHead, Problem, ui } from '../ui/components.tsx';

const OUTCOME = { success: 'good', failure: 'warn', denied: 'bad' } as const;
/** Event categories: the first part of the action. */
const CATEGORIES: [string, string][] = [
  ['dataset.', 'Datasets'],
  ['drive.', 'Drives'],
  ['vault.', 'Vault'],
  ['identity.', 'Sign-in and users'],
  ['workspace.', 'Workspace settings'],
  ['access.', 'Access policies'],
  ['audit.', 'Audit'],
  ['keys.', 'Keys'],
];

/** The user id a "person" filter names: an id as typed, or the one member whose email or name matches. */
function personId(text: string, users: WorkspaceUser[] | undefined): { id?: string; problem?: string } {
  const q = text.trim().toLowerCase();
  if (!q) return {};
  if (/^[0-9a-f-]{36}$/.test(q)) return { id: q };
  const found = (users ?? []).filter(
    (u) => u.email.toLowerCase() === q || u.displayName.toLowerCase() === q || u.email.toLowerCase().startsWith(q),
  );
  if (found.length === 1) return { id: found[0]!.id };
  if (found.length === 0) return { problem: `No member of this workspace is called "${text.trim()}".` };
  return { problem: `"${text.trim()}" matches ${found.length} members: type more of the email.` };
}
const iso = (local: string) => (local ? new Date(local).toISOString() : undefined);

function Integrity({ ws: workspaceId }: { ws: string }) {
  const verify = useQuery({
    queryKey: ['audit-verify', workspaceId],
    queryFn: () => api.audit.verify(workspaceId),
    staleTime: Infinity,
  });
  const r = verify.data;
  return (
    <section className={ui.panel} aria-label="Integrity" data-testid="integrity">
      <div className={ui.spread}>
        <div>
          <h2 style={{ margin: 0 }}>Integrity</h2>
          {verify.isFetching ? <p className={ui.muted}>Verifying the hash chain and its signed checkpoints…</p> : null}
          {r && !verify.isFetching ? (
            r.ok ? (
              <p>
                <Badge kind="good">verified</Badge> Chain verified up to event <strong>{r.headSeq}</strong> at{' '}
                {when(r.checkedAt)} ({r.eventsChecked} events checked).
              </p>
            ) : (
              <p>
                <Badge kind="bad">problems found</Badge> {r.problems.length + r.problemsOmitted} problem(s) at{' '}
                {when(r.checkedAt)}.
              </p>
            )
          ) : null}
        </div>
        <button className={ui.button} onClick={() => void verify.refetch()} disabled={verify.isFetching}>
          Verify now
        </button>
      </div>
      <Problem error={verify.error} />
      {r && !r.ok ? (
        <ul>
          {r.problems.map((p, i) => (
            <li key={i}>
              {p.seq !== undefined ? `event ${p.seq}: ` : ''}
              {p.kind} — {p.detail}
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

export function AuditPage() {
  const ws = useWorkspace();
  const can = usePermissions();
  const [form, setForm] = useState({
    actor: '',
    category: '',
    action: '',
    resource: '',
    outcome: '',
    from: '',
    to: '',
    hideReads: false,
  });
  const [personProblem, setPersonProblem] = useState<string | undefined>();
  const users = useQuery({
    queryKey: ['users', ws.id],
    queryFn: () => api.users.list(ws.id),
    enabled: can.listUsers,
    staleTime: 60_000,
  });
  const [filters, setFilters] = useState<AuditFilters>({ order: 'desc', limit: 50 });
  const [shown, setShown] = useState<AuditEvent | null>(null);
  const person = usePeople();
  const events = useInfiniteQuery({
    queryKey: ['audit', ws.id, filters],
    queryFn: ({ pageParam }) => api.audit.events(ws.id, { ...filters, ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: '',
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled: can.audit,
  });
  if (!can.audit) return <NeedsRole page="Audit" roles="owners, admins and auditors" have={ws.roles} />;

  const search = (e: FormEvent) => {
    e.preventDefault();
    const f: AuditFilters = { order: 'desc', limit: 50 };
    const who = personId(form.actor, users.data?.users);
    setPersonProblem(who.problem);
    if (who.problem) return;
    if (who.id) f.actor = who.id;
    if (form.action.trim()) f.action = form.action.trim();
    else if (form.category) f.action = form.category;
    if (form.hideReads) f.hideReads = 'true';
    if (form.resource.trim()) f.resource = form.resource.trim();
    if (form.outcome) f.outcome = form.outcome as AuditFilters['outcome'];
    const from = iso(form.from);
    const to = iso(form.to);
    if (from) f.from = from;
    if (to) f.to = to;
    setFilters(f);
  };
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const rows = events.data?.pages.flatMap((p) => p.events) ?? [];
  const { limit: _limit, cursor: _cursor, ...exportFilters } = filters;

  return (
    <>
      <PageHead
        title="Audit"
        sub="Every action and every refused attempt in this workspace, hash-chained and signed."
        actions={
          <>
            <a className={ui.button} href={paths.auditFullExport(ws.id, exportFilters, 'csv')} download>
              Export CSV
            </a>
            <a className={ui.button} href={paths.auditFullExport(ws.id, exportFilters, 'jsonl')} download>
              Export JSON lines
            </a>
          </>
        }
      />
      <Integrity ws={ws.id} />
      <form className={ui.panel} onSubmit={search} role="search" aria-label="Filter events">
        <div className={ui.grid2}>
          <Field label="Person" help="An email or name of a member, or a user or token id" check={personProblem}>
            {(id) => (
              <input id={id} className={ui.input} value={form.actor} onChange={set('actor')} list="audit-people" />
            )}
          </Field>
          <datalist id="audit-people">
            {users.data?.users.map((u) => (
              <option key={u.id} value={u.email}>
                {u.displayName}
              </option>
            ))}
          </datalist>
          <Field label="Category">
            {(id) => (
              <select id={id} className={ui.select} value={form.category} onChange={set('category')}>
                <option value="">all</option>
                {CATEGORIES.map(([prefix, label]) => (
                  <option key={prefix} value={prefix}>
                    {label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Action" help="Or its start, e.g. vault.secret (overrides the category)">
            {(id) => <input id={id} className={ui.input} value={form.action} onChange={set('action')} />}
          </Field>
          <Field label="Resource" help="type or type:id, e.g. secret:team/db">
            {(id) => <input id={id} className={ui.input} value={form.resource} onChange={set('resource')} />}
          </Field>
          <Field label="Outcome">
            {(id) => (
              <select id={id} className={ui.select} value={form.outcome} onChange={set('outcome')}>
                <option value="">any</option>
                <option value="success">success</option>
                <option value="failure">failure</option>
                <option value="denied">denied</option>
              </select>
            )}
          </Field>
          <Field label="From">
            {(id) => (
              <input id={id} className={ui.input} type="datetime-local" value={form.from} onChange={set('from')} />
            )}
          </Field>
          <Field label="To">
            {(id) => <input id={id} className={ui.input} type="datetime-local" value={form.to} onChange={set('to')} />}
          </Field>
        </div>
        <label className={ui.row}>
          <input
            type="checkbox"
            checked={form.hideReads}
            onChange={(e) => setForm({ ...form, hideReads: e.target.checked })}
          />{' '}
          Hide reads (show changes, refusals and failures)
        </label>
        <button className={`${ui.button} ${ui.primary}`} type="submit">
          Search
        </button>
      </form>
      <Problem error={events.error} />
      {events.isPending ? <Loading what="events" /> : null}
      {events.data && rows.length === 0 ? (
        <Empty title="No events match">Widen the time range or clear a filter.</Empty>
      ) : null}
      {rows.length > 0 ? (
        <div className={`${ui.panel} ${ui.tableWrap}`} style={{ padding: 0 }}>
          <table className={`${ui.table} ${ui.stack}`} aria-label="Events">
            <thead>
              <tr>
                <th>#</th>
                <th>Time</th>
                <th>Actor</th>
                <th>Action</th>
                <th>Resource</th>
                <th>Outcome</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => (
                <tr
                  key={e.seq}
                  className={ui.clickable}
                  tabIndex={0}
                  onClick={() => setShown(e)}
                  onKeyDown={(k) => k.key === 'Enter' && setShown(e)}
                >
                  <td data-label="#">{e.seq}</td>
                  <td data-label="Time">{when(e.time)}</td>
                  <td data-label="Actor">
                    <span title={e.actor.id}>{e.actor.kind === 'user' ? person(e.actor.id) : e.actor.id}</span>
                    <div className={ui.muted}>{e.actor.kind}</div>
                  </td>
                  <td data-label="Action">
                    <code>{e.action}</code>
                  </td>
                  <td data-label="Resource" style={{ wordBreak: 'break-all' }}>
                    {e.resource.type}
                    {e.resource.id ? `:${e.resource.id}` : ''}
                  </td>
                  <td data-label="Outcome">
                    <Badge kind={OUTCOME[e.outcome]}>{e.outcome}</Badge>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {events.hasNextPage ? (
        <button className={ui.button} onClick={() => void events.fetchNextPage()} disabled={events.isFetchingNextPage}>
          Load older events
        </button>
      ) : null}
      <Dialog
        open={shown !== null}
        title={`Event ${shown?.seq ?? ''}`}
        onClose={() => setShown(null)}
        actions={
          <button className={ui.button} onClick={() => setShown(null)}>
            Close
          </button>
        }
      >
        {shown ? (
          <>
            <Notice kind={shown.outcome === 'success' ? 'ok' : 'warn'} title={`${shown.action} — ${shown.outcome}`}>
              {when(shown.time)} by {shown.actor.kind === 'user' ? person(shown.actor.id) : shown.actor.id} (
              {shown.actor.kind}
              {shown.actor.authMethod ? `, ${shown.actor.authMethod}` : ''})
              {shown.sourceIp ? ` from ${shown.sourceIp}` : ''}
            </Notice>
            <pre className={ui.code} data-testid="event-json">
              {JSON.stringify(shown, null, 2)}
            </pre>
          </>
        ) : null}
      </Dialog>
    </>
  );
}
