/**
 * The Preview tab of a dataset: the schema (names, DuckDB types, nullability) and the first rows
 * of a tabular version, with its row count when the server knows it. The server decrypts only a
 * prefix of a CSV or JSON lines version; every preview is an audited read.
 */
import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { DatasetVersion } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { bytes } from '../lib/format.ts';
import { useWorkspace } from '../lib/session.tsx';
import { Empty, Loading, Problem, ui } from '../ui/components.tsx';
import { ResultGrid } from './result-grid.tsx';
import css from './query.module.css';

const PAGE = 100;

export function PreviewTab({ dataset, versions }: { dataset: string; versions: DatasetVersion[] }) {
  const ws = useWorkspace();
  const tabular = versions.filter((v) => v.tabularFormat);
  const [picked, setPicked] = useState<number | undefined>(undefined);
  const [offset, setOffset] = useState(0);
  const version = picked ?? tabular.at(-1)?.version;
  const preview = useQuery({
    queryKey: ['preview', ws.id, dataset, version, offset],
    queryFn: () => api.query.preview(ws.id, dataset, version!, { limit: PAGE, offset }),
    enabled: version !== undefined,
    retry: false,
  });
  if (tabular.length === 0)
    return (
      <Empty title="Nothing to preview">
        No version of this dataset is tabular (CSV, Parquet or JSON lines); download it instead.
      </Empty>
    );
  const p = preview.data;
  return (
    <section aria-label="Preview" data-testid="preview">
      <div className={ui.row}>
        <label htmlFor="preview-version" className={ui.label}>
          Version
        </label>
        <select
          id="preview-version"
          value={version}
          onChange={(e) => {
            setPicked(Number(e.target.value));
            setOffset(0);
          }}
        >
          {[...tabular].reverse().map((v) => (
            <option key={v.version} value={v.version}>
              v{v.version} · {v.tabularFormat} · {bytes(v.size)}
            </option>
          ))}
        </select>
        <button
          className={`${ui.button} ${ui.small}`}
          disabled={offset === 0 || preview.isFetching}
          onClick={() => setOffset(Math.max(0, offset - PAGE))}
        >
          Previous {PAGE}
        </button>
        <button
          className={`${ui.button} ${ui.small}`}
          disabled={!p || p.rows.length < PAGE || preview.isFetching}
          onClick={() => setOffset(offset + PAGE)}
        >
          Next {PAGE}
        </button>
      </div>
      <Problem error={preview.error} title="The preview could not be shown" />
      {preview.isPending && version !== undefined ? <Loading what="the preview" /> : null}
      {p ? (
        <>
          <p className={css.summary} data-testid="preview-summary">
            {p.columns.length} columns ·{' '}
            {p.rowCount === null
              ? 'row count not known without reading the whole file'
              : `${p.rowCount.toLocaleString('en')} rows`}{' '}
            · showing rows {p.rows.length ? `${offset + 1}–${offset + p.rows.length}` : 'none'} · {p.format} ·{' '}
            {bytes(p.decryptedBytes)} decrypted for this preview
          </p>
          <ResultGrid columns={p.columns} rows={p.rows} firstRow={offset + 1} label={`Preview of ${dataset}`} />
        </>
      ) : null}
    </section>
  );
}
