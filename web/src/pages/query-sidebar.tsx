/**
 * The Query page's sidebar: the workspace's datasets, each opening to the columns detected when
 * its latest version was uploaded (metadata only: nothing is decrypted). "insert" and a column's
 * name put the name at the editor's cursor, quoted when it is not a plain identifier.
 */
import { useQuery } from '@tanstack/react-query';
import type { DatasetSummary } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { Problem } from '../ui/components.tsx';
import css from './query.module.css';

const ident = (name: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`);

function Columns({
  workspace: workspaceId,
  name,
  onInsert,
}: {
  workspace: string;
  name: string;
  onInsert: (t: string) => void;
}) {
  const d = useQuery({ queryKey: ['dataset', workspaceId, name], queryFn: () => api.datasets.get(workspaceId, name) });
  const latest = d.data?.versions.at(-1);
  const cols = (latest?.schema as { columns?: { name: string; type: string }[] } | null)?.columns;
  if (d.isPending) return <p className={css.summary}>Loading…</p>;
  if (!latest?.tabularFormat) return <p className={css.summary}>Not tabular</p>;
  if (!cols) return <p className={css.summary}>{latest.tabularFormat}: columns shown by a preview</p>;
  return (
    <ul className={css.columns}>
      {cols.map((c) => (
        <li key={c.name}>
          <button type="button" className={css.insert} onClick={() => onInsert(ident(c.name))}>
            {c.name}
          </button>{' '}
          <span className={css.type} style={{ display: 'inline' }}>
            {c.type}
          </span>
        </li>
      ))}
    </ul>
  );
}

export function DatasetSidebar({
  workspace: workspaceId,
  list,
  error,
  onInsert,
}: {
  workspace: string;
  list: DatasetSummary[];
  error: unknown;
  onInsert: (text: string) => void;
}) {
  return (
    <nav className={css.side} aria-label="Datasets and columns" data-testid="query-sidebar">
      <Problem error={error} />
      {list.length === 0 ? <p className={css.summary}>No datasets yet.</p> : null}
      <ul>
        {list.map((d) => (
          <li key={d.name}>
            <details>
              <summary>
                <span className={css.dsName}>{d.name}</span>{' '}
                <button
                  type="button"
                  className={css.insert}
                  aria-label={`Insert ${d.name}`}
                  title="Insert the name at the cursor"
                  onClick={() => onInsert(ident(d.name))}
                >
                  insert
                </button>
              </summary>
              <Columns workspace={workspaceId} name={d.name} onInsert={onInsert} />
            </details>
          </li>
        ))}
      </ul>
    </nav>
  );
}
