/**
 * Datasets: search by name or description, filter by tags (a tag such as `pii.email` or a prefix
 * such as `pii`, several comma-separated; dataset tags and the column tags you may see both
 * count), upload a file. Each dataset shows its sensitive column tags as chips.
 */
import { useDeferredValue, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api } from '../lib/api.ts';
import { bytes, when } from '../lib/format.ts';
import { Link, navigate } from '../lib/router.tsx';
import { usePermissions, useWorkspace } from '../lib/session.tsx';
import { Empty, Field, Loading, PageHead, Problem, Tags, ui } from '../ui/components.tsx';
import { UploadPanel } from './upload-panel.tsx';
import css from './datasets.module.css';

/** Suggestions for the tag filter: prefixes and the detectors' tags. */
const TAG_SUGGESTIONS = ['pii', 'pii.email', 'pii.phone', 'pii.card', 'pii.iban', 'pii.ssn', 'pii.name', 'pii.address'];

export function DatasetsPage() {
  const ws = useWorkspace();
  const can = usePermissions();
  const [search, setSearch] = useState('');
  const [tag, setTag] = useState('');
  const [uploading, setUploading] = useState(false);
  const tagFilter = tag
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean)
    .join(',');
  const filters = { search: useDeferredValue(search.trim()), tag: useDeferredValue(tagFilter) };
  const list = useQuery({ queryKey: ['datasets', ws.id, filters], queryFn: () => api.datasets.list(ws.id, filters) });
  const filtering = Boolean(filters.search || filters.tag);
  const uploadButton = can.manageData ? (
    <button className={`${ui.button} ${ui.primary}`} onClick={() => setUploading(true)} disabled={uploading}>
      Upload
    </button>
  ) : null;

  return (
    <>
      <PageHead
        title="Datasets"
        sub="Files and tables, versioned and encrypted with your workspace's keys."
        actions={uploadButton}
      />
      {uploading ? <UploadPanel onClose={() => setUploading(false)} /> : null}
      <div className={css.filters} role="search">
        <Field label="Search">
          {(id) => (
            <input
              id={id}
              className={ui.input}
              type="search"
              placeholder="Name or description"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
          )}
        </Field>
        <Field label="Tag">
          {(id) => (
            <>
              <input
                id={id}
                className={ui.input}
                list={`${id}-tags`}
                placeholder="pii, pii.email, …"
                title="A tag, or a prefix such as pii for any pii.* tag; several separated by commas"
                value={tag}
                onChange={(e) => setTag(e.target.value)}
              />
              <datalist id={`${id}-tags`}>
                {TAG_SUGGESTIONS.map((t) => (
                  <option key={t} value={t} />
                ))}
              </datalist>
            </>
          )}
        </Field>
      </div>
      <Problem error={list.error} />
      {list.isPending ? <Loading what="datasets" /> : null}
      {list.data && list.data.datasets.length === 0 ? (
        filtering ? (
          <Empty title="Nothing matches">Try another search or tag.</Empty>
        ) : (
          <Empty title="No datasets yet" action={uploadButton}>
            {can.manageData ? (
              <>
                Upload a file to create the first dataset: it is encrypted before it is stored. To keep it in your own
                bucket, <Link to="/drives">mount a drive</Link> first.
              </>
            ) : (
              'When your team uploads datasets, they appear here.'
            )}
          </Empty>
        )
      ) : null}
      {list.data && list.data.datasets.length > 0 ? (
        <div className={`${ui.panel} ${ui.tableWrap}`} style={{ padding: 0 }}>
          <table className={`${ui.table} ${ui.stack}`}>
            <thead>
              <tr>
                <th>Dataset</th>
                <th>Tags</th>
                <th>Sensitive</th>
                <th>Versions</th>
                <th>Size</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {list.data.datasets.map((d) => (
                <tr
                  key={d.name}
                  className={ui.clickable}
                  onClick={() => navigate(`/datasets/${encodeURIComponent(d.name)}`)}
                >
                  <td>
                    <Link to={`/datasets/${encodeURIComponent(d.name)}`} onClick={(e) => e.stopPropagation()}>
                      <strong>{d.name}</strong>
                    </Link>
                    {d.description ? <div className={ui.muted}>{d.description}</div> : null}
                  </td>
                  <td data-label="Tags">
                    <Tags tags={d.tags} />
                  </td>
                  <td
                    data-label="Sensitive"
                    data-testid={`sensitive-${d.name}`}
                    aria-label={`Sensitive column tags of ${d.name}`}
                  >
                    {d.sensitiveTags.map((t) => (
                      <button
                        key={t}
                        type="button"
                        className={css.chip}
                        title={`Only datasets tagged ${t}`}
                        onClick={(e) => {
                          e.stopPropagation();
                          setTag(t);
                        }}
                      >
                        {t}
                      </button>
                    ))}
                  </td>
                  <td data-label="Versions">
                    {d.versions}
                    {d.latestVersion ? <span className={ui.muted}> (latest v{d.latestVersion})</span> : null}
                  </td>
                  <td data-label="Size" className={ui.nowrap}>
                    {bytes(d.bytes)}
                  </td>
                  <td data-label="Updated">{when(d.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
