/**
 * The Profile tab of a dataset (issue 18): the profile of a tabular version as the server lets
 * the reader see it — the stored profile when no data policy applies to them, else their own
 * view (masked columns profiled masked, hidden ones absent) — with the job's state, per-column
 * cards (counts, numbers and dates with a histogram drawn as bars, string lengths and
 * character-class patterns, top values), detected sensitive-data tags with Confirm / Reject for
 * stewards, and the drift since the previous profiled version. It shows only what the API
 * answered: never a value the answer did not carry.
 */
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ColumnTag, DatasetProfile, DatasetVersion, ProfileColumn } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { bytes, when } from '../lib/format.ts';
import { useWorkspace } from '../lib/session.tsx';
import { Badge, Empty, Loading, Problem, ui } from '../ui/components.tsx';
import css from './datasets.module.css';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const fmt = (v: unknown) => (v === undefined || v === null ? '—' : typeof v === 'number' ? String(v) : String(v));

function Histogram({ c }: { c: ProfileColumn }) {
  const bins = c.histogram ?? [];
  const max = Math.max(1, ...bins.map((b) => b.count ?? 0));
  return (
    <div className={css.histogram} role="img" aria-label={`Histogram of ${c.name}`} data-testid={`histogram-${c.name}`}>
      {bins.map((b, i) => (
        <div
          key={i}
          className={css.bar}
          style={{ height: `${Math.max(2, ((b.count ?? 0) / max) * 100)}%`, opacity: b.count === null ? 0.3 : 1 }}
          title={`${fmt(b.lower)} – ${fmt(b.upper)}: ${b.count === null ? 'fewer than k rows' : b.count}`}
        />
      ))}
    </div>
  );
}

function TagReview({
  dataset,
  column,
  tags,
  canReview,
}: {
  dataset: string;
  column: string;
  tags: ColumnTag[];
  canReview: boolean;
}) {
  const ws = useWorkspace();
  const qc = useQueryClient();
  const decide = useMutation({
    mutationFn: (next: { tag: string; status: 'confirmed' | 'rejected' }) => {
      const keep = tags.filter((t) => t.tag !== next.tag && t.status !== 'suggested');
      const confirmed = keep.filter((t) => t.status === 'confirmed').map((t) => t.tag);
      const rejected = keep.filter((t) => t.status === 'rejected').map((t) => t.tag);
      (next.status === 'confirmed' ? confirmed : rejected).push(next.tag);
      return api.datasets.setColumnTags(ws.id, dataset, column, { confirmed, rejected });
    },
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['profile', ws.id, dataset] }),
  });
  if (tags.length === 0) return null;
  return (
    <ul className={css.tagList} aria-label={`Classification of ${column}`}>
      {tags.map((t) => (
        <li key={t.tag} data-testid={`tag-${column}-${t.tag}`}>
          <Badge kind={t.status === 'confirmed' ? 'bad' : t.status === 'rejected' ? 'good' : 'warn'}>{t.tag}</Badge>{' '}
          <span className={ui.muted}>
            {t.status}
            {t.source === 'steward' ? ' (steward)' : ''}
          </span>
          {canReview ? (
            <>
              {t.status !== 'confirmed' ? (
                <button
                  className={`${ui.button} ${ui.small}`}
                  disabled={decide.isPending}
                  onClick={() => decide.mutate({ tag: t.tag, status: 'confirmed' })}
                >
                  Confirm
                </button>
              ) : null}
              {t.status !== 'rejected' ? (
                <button
                  className={`${ui.button} ${ui.small}`}
                  disabled={decide.isPending}
                  onClick={() => decide.mutate({ tag: t.tag, status: 'rejected' })}
                >
                  Reject
                </button>
              ) : null}
            </>
          ) : null}
        </li>
      ))}
      {decide.error ? (
        <li>
          <Problem error={decide.error} title="The decision was not saved" />
        </li>
      ) : null}
    </ul>
  );
}

function ColumnCard({
  p,
  c,
  canReview,
  dataset,
}: {
  p: DatasetProfile;
  c: ProfileColumn;
  canReview: boolean;
  dataset: string;
}) {
  const tags =
    p.tags?.[c.name] ??
    c.findings.map((f) => ({ tag: f.tag, status: 'suggested' as const, source: 'detected' as const }));
  return (
    <article className={`${ui.panel} ${css.card}`} data-testid={`column-${c.name}`}>
      <header className={css.cardHead}>
        <strong>{c.name}</strong> <code className={ui.muted}>{c.type}</code>{' '}
        {c.sensitive ? <Badge kind="bad">sensitive: counts only</Badge> : null}
        {c.masked ? <Badge kind="warn">masked for you</Badge> : null}
      </header>
      <dl className={css.stats}>
        <dt>Nulls</dt>
        <dd>
          {c.nulls} ({pct(c.nullRatio)})
        </dd>
        <dt>Distinct ≈</dt>
        <dd>{fmt(c.distinct)}</dd>
        {c.min !== undefined ? (
          <>
            <dt>Range</dt>
            <dd>
              {fmt(c.min)} … {fmt(c.max)}
            </dd>
          </>
        ) : null}
        {c.mean !== undefined ? (
          <>
            <dt>Mean ± sd</dt>
            <dd>
              {fmt(c.mean)} ± {fmt(c.stddev)}
            </dd>
          </>
        ) : null}
        {c.length ? (
          <>
            <dt>Length</dt>
            <dd>
              {c.length.min}–{c.length.max} (mean {c.length.mean})
            </dd>
          </>
        ) : null}
      </dl>
      {c.histogram?.length ? <Histogram c={c} /> : null}
      {c.patterns?.length ? (
        <p className={ui.muted}>
          Patterns:{' '}
          {c.patterns.map((x) => (
            <code key={x.pattern} className={css.pattern}>
              {x.pattern} {pct(x.share)}
            </code>
          ))}
        </p>
      ) : null}
      {c.top?.length ? <p className={ui.muted}>Top: {c.top.map((t) => `${t.value} (${t.count})`).join(', ')}</p> : null}
      {c.suppressed ? <p className={ui.muted}>Fewer than {p.k} values: statistics suppressed.</p> : null}
      <TagReview dataset={dataset} column={c.name} tags={tags} canReview={canReview} />
    </article>
  );
}

function DriftPanel({ p }: { p: DatasetProfile }) {
  const d = p.drift;
  if (!d) return null;
  const none =
    d.added.length + d.removed.length + d.retyped.length + d.shifts.length + d.newFindings.length === 0 &&
    (!d.rows || d.rows.from === d.rows.to);
  return (
    <section className={ui.panel} aria-label="Drift" data-testid="drift">
      <h3>
        Since v{d.from}
        {none ? ': no drift' : ''}
      </h3>
      <ul>
        {d.rows && d.rows.from !== d.rows.to ? (
          <li>
            Rows: {d.rows.from} → {d.rows.to}
          </li>
        ) : null}
        {d.added.map((a) => (
          <li key={`a-${a.name}`}>
            Added column <strong>{a.name}</strong> ({a.type})
          </li>
        ))}
        {d.removed.map((r) => (
          <li key={`r-${r}`}>
            Removed column <strong>{r}</strong>
          </li>
        ))}
        {d.retyped.map((r) => (
          <li key={`t-${r.name}`}>
            <strong>{r.name}</strong>: {r.from} → {r.to}
          </li>
        ))}
        {d.shifts.map((s) => (
          <li key={`s-${s.column}-${s.metric}`}>
            <strong>{s.column}</strong>: {s.metric === 'nullRatio' ? 'null ratio' : 'distinct ratio'} {pct(s.from)} →{' '}
            {pct(s.to)}
          </li>
        ))}
        {d.newFindings.map((f) => (
          <li key={`f-${f.column}`}>
            New finding on <strong>{f.column}</strong>: {f.tags.join(', ')}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function ProfileTab({
  dataset,
  versions,
  canReview,
  canRecompute,
}: {
  dataset: string;
  versions: DatasetVersion[];
  canReview: boolean;
  canRecompute: boolean;
}) {
  const ws = useWorkspace();
  const qc = useQueryClient();
  const tabular = versions.filter((v) => v.tabularFormat);
  const [picked, setPicked] = useState<number | undefined>(undefined);
  const version = picked ?? tabular.at(-1)?.version;
  const profile = useQuery({
    queryKey: ['profile', ws.id, dataset, version],
    queryFn: () => api.datasets.profile(ws.id, dataset, version!),
    enabled: version !== undefined,
    retry: false,
    refetchInterval: (q) =>
      q.state.data && q.state.data.state !== 'done' && q.state.data.state !== 'failed' ? 2000 : false,
  });
  const recompute = useMutation({
    mutationFn: () => api.datasets.recomputeProfile(ws.id, dataset, version!),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['profile', ws.id, dataset] }),
  });
  if (tabular.length === 0)
    return (
      <Empty title="No profile">
        No version of this dataset is tabular (CSV, Parquet or JSON lines): there is nothing to profile.
      </Empty>
    );
  const p = profile.data;
  return (
    <section aria-label="Profile" data-testid="profile">
      <div className={ui.row}>
        <label htmlFor="profile-version" className={ui.label}>
          Version
        </label>
        <select id="profile-version" value={version} onChange={(e) => setPicked(Number(e.target.value))}>
          {[...tabular].reverse().map((v) => (
            <option key={v.version} value={v.version}>
              v{v.version} · {v.tabularFormat} · {bytes(v.size)}
            </option>
          ))}
        </select>
        {canRecompute ? (
          <button
            className={`${ui.button} ${ui.small}`}
            disabled={recompute.isPending}
            onClick={() => recompute.mutate()}
          >
            Recompute
          </button>
        ) : null}
      </div>
      <Problem error={profile.error ?? recompute.error} />
      {profile.isPending && version !== undefined ? <Loading what="the profile" /> : null}
      {p ? (
        <>
          <p className={ui.muted} data-testid="profile-summary">
            {p.rowCount} rows · {p.columnCount} columns · duplicate rows {fmt(p.quality.duplicateRows)} · job{' '}
            <strong data-testid="profile-state">{p.state ?? 'n/a'}</strong>
            {p.source === 'reader_view' ? ' · computed for your view (data policies apply to you)' : ''}
            {p.computedAt ? ` · stored ${when(p.computedAt)}` : ''}
            {p.valuesShown ? '' : ' · values hidden: you may not read rows'}
          </p>
          {p.quality.emptyColumns.length + p.quality.constantColumns.length > 0 ? (
            <p className={ui.muted}>
              Empty: {p.quality.emptyColumns.join(', ') || '—'} · constant:{' '}
              {p.quality.constantColumns.join(', ') || '—'}
            </p>
          ) : null}
          <DriftPanel p={p} />
          <div className={css.cards}>
            {p.columns.map((c) => (
              <ColumnCard key={c.name} p={p} c={c} canReview={canReview} dataset={dataset} />
            ))}
          </div>
        </>
      ) : null}
    </section>
  );
}
