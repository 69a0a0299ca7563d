/**
 * The Query page: read-only SQL over the workspace's datasets. The sidebar lists the datasets
 * (and the columns detected at upload) and inserts a name at the cursor; Run (or Ctrl+Enter)
 * sends the statement, Cancel aborts the request (the server then interrupts the statement).
 * Results show in a typed grid; the same statement can be downloaded as CSV, Parquet or JSON
 * lines, or (data managers) stored as the next version of a dataset. A refused statement shows
 * the server's reason and, when it has one, the position: the line with a caret under the spot,
 * and a button that selects it in the editor. The server checks, decides and audits everything.
 */
import { useRef, useState, type KeyboardEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { QueryResult, ResultFileFormat } from '../../../src/contracts/index.ts';
import { paths, problemError } from '../../../src/client/api.ts';
import { ApiError, api, csrfHeader, reportUnauthenticated } from '../lib/api.ts';
import { useWorkspace, usePermissions } from '../lib/session.tsx';
import { Link } from '../lib/router.tsx';
import { NeedsRole, Notice, PageHead, Problem, ui } from '../ui/components.tsx';
import { maskReasons, ResultGrid } from './result-grid.tsx';
import { DatasetSidebar } from './query-sidebar.tsx';
import css from './query.module.css';

const LIMITS = [100, 1000, 10_000];
const EXT: Record<ResultFileFormat, string> = { csv: 'csv', parquet: 'parquet', jsonl: 'jsonl' };

/** POSTs the statement; the answer, or the problem as an ApiError. */
async function post(workspaceId: string, body: Record<string, unknown>, signal: AbortSignal): Promise<Response> {
  const url = paths.query(workspaceId);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json', ...csrfHeader() },
      credentials: 'same-origin',
      cache: 'no-store',
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw new ApiError(0, 'CANCELLED', 'Cancelled', 'The query was cancelled.');
    throw new ApiError(0, 'NETWORK', 'The server could not be reached', String((err as Error).message ?? err));
  }
  if (res.status >= 400) {
    const err = problemError(res.status, await res.json().catch(() => undefined));
    reportUnauthenticated(url, err);
    throw err;
  }
  return res;
}

/**
 * "Run as" text → the API's `as`: `user:<id>` (a member as they are now), or roles then
 * attributes, e.g. `analyst region=eu clearance=3 mfa`. Empty: run as oneself. Undefined: unreadable.
 */
export function parseRunAs(text: string): string | Record<string, unknown> | null | undefined {
  const t = text.trim();
  if (t === '') return null;
  if (/^user:\S+$/.test(t)) return t;
  const [first = '', ...rest] = t.split(/\s+/);
  const roles = first.includes('=') ? [] : first.split(',').filter(Boolean);
  const attributes: Record<string, string | number> = {};
  let mfa = false;
  for (const tok of first.includes('=') ? [first, ...rest] : rest) {
    if (tok === 'mfa') mfa = true;
    else {
      const m = /^([a-z][a-zA-Z0-9_]*)=(.+)$/.exec(tok);
      if (!m) return undefined;
      attributes[m[1]!] = /^-?\d+$/.test(m[2]!) ? Number(m[2]) : m[2]!;
    }
  }
  return { roles, attributes, mfa };
}

/** Where a refusal points: line and column (1-based) and the character offset. */
function positionOf(err: unknown): { line: number; column: number; position: number } | undefined {
  const p = err instanceof ApiError ? err.problem : undefined;
  const line = Number(p?.line);
  const column = Number(p?.column);
  const position = Number(p?.position);
  return Number.isInteger(line) && Number.isInteger(column) && Number.isInteger(position)
    ? { line, column, position }
    : undefined;
}

export function QueryPage() {
  const ws = useWorkspace();
  const can = usePermissions();
  const qc = useQueryClient();
  const editor = useRef<HTMLTextAreaElement>(null);
  const [sql, setSql] = useState('');
  const [limit, setLimit] = useState(1000);
  const [running, setRunning] = useState<AbortController | null>(null);
  const [result, setResult] = useState<{ r: QueryResult; ms: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [downloading, setDownloading] = useState<ResultFileFormat | null>(null);
  const [target, setTarget] = useState('');
  const [saveFormat, setSaveFormat] = useState<ResultFileFormat>('parquet');
  const [runAs, setRunAs] = useState('');
  const asValue = can.writePolicies ? parseRunAs(runAs) : null;
  const [ranAs, setRanAs] = useState('');
  const datasets = useQuery({
    queryKey: ['datasets', ws.id, 'all'],
    queryFn: () => api.datasets.list(ws.id, { limit: 1000 }),
  });
  const save = useMutation({
    mutationFn: () => api.query.saveAs(ws.id, target, { sql, format: saveFormat }),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['datasets', ws.id] }),
  });

  if (!can.readData)
    return <NeedsRole page="Query" roles="owner, admin, steward, engineer or analyst" have={ws.roles} />;

  const insert = (text: string) => {
    const el = editor.current;
    const at = el ? el.selectionStart : sql.length;
    const end = el ? el.selectionEnd : sql.length;
    const next = sql.slice(0, at) + text + sql.slice(end);
    setSql(next);
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(at + text.length, at + text.length);
    });
  };

  const run = async () => {
    if (!sql.trim() || running) return;
    const ac = new AbortController();
    setRunning(ac);
    setError(null);
    const started = performance.now();
    try {
      const res = await post(ws.id, { sql, limit, format: 'json', ...(asValue ? { as: asValue } : {}) }, ac.signal);
      const r = (await res.json()) as QueryResult;
      setResult({ r, ms: performance.now() - started });
      setRanAs(asValue ? runAs.trim() : '');
    } catch (err) {
      setResult(null);
      setError(err);
    } finally {
      setRunning(null);
    }
  };

  const download = async (format: ResultFileFormat) => {
    setDownloading(format);
    setError(null);
    try {
      const res = await post(ws.id, { sql, limit, format }, new AbortController().signal);
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = `query-result.${EXT[format]}`;
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 30_000);
    } catch (err) {
      setError(err);
    } finally {
      setDownloading(null);
    }
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void run();
    }
  };
  const at = positionOf(error);
  const errLine = at ? (sql.split('\n')[at.line - 1] ?? '') : '';

  return (
    <>
      <PageHead
        title="Query"
        sub="Read-only SQL over this workspace's datasets: name a dataset (latest version) or name@v3. Every query is audited (without its literals)."
      />
      <div className={css.layout}>
        <DatasetSidebar
          workspace={ws.id}
          list={datasets.data?.datasets ?? []}
          error={datasets.error}
          onInsert={insert}
        />
        <div>
          <label htmlFor="sql" className={ui.label}>
            SQL
          </label>
          <textarea
            id="sql"
            ref={editor}
            className={`${ui.textarea} ${css.editor}`}
            value={sql}
            spellCheck={false}
            placeholder="SELECT country, count(*) AS n FROM sales GROUP BY country ORDER BY n DESC"
            onChange={(e) => setSql(e.target.value)}
            onKeyDown={onKey}
            aria-describedby="sql-help"
          />
          <p id="sql-help" className={ui.help}>
            Ctrl+Enter runs. One SELECT (WITH, joins, window functions); no table functions or settings.
          </p>
          <div className={ui.row}>
            <button
              className={`${ui.button} ${ui.primary}`}
              onClick={() => void run()}
              disabled={!sql.trim() || running !== null || asValue === undefined}
            >
              {running ? 'Running…' : 'Run'}
            </button>
            <button className={ui.button} onClick={() => running?.abort()} disabled={running === null}>
              Cancel
            </button>
            <label htmlFor="limit" className={ui.label}>
              Rows
            </label>
            <select id="limit" value={limit} onChange={(e) => setLimit(Number(e.target.value))}>
              {LIMITS.map((l) => (
                <option key={l} value={l}>
                  at most {l.toLocaleString('en')}
                </option>
              ))}
            </select>
          </div>
          {can.writePolicies ? (
            <div className={ui.row}>
              <label htmlFor="run-as" className={ui.label}>
                Run as
              </label>
              <input
                id="run-as"
                className={ui.input}
                value={runAs}
                placeholder="user:ID, or roles and attributes: analyst region=eu mfa"
                onChange={(e) => setRunAs(e.target.value)}
                aria-describedby="run-as-help"
              />
              <p id="run-as-help" className={ui.help}>
                {asValue === undefined
                  ? 'Write user:ID, or roles (comma-separated) then name=value attributes and mfa.'
                  : 'Policy authors: preview what another reader would see (over datasets you read unmasked; audited). Results only, no downloads.'}
              </p>
            </div>
          ) : null}
          {error ? (
            <div data-testid="query-error">
              <Problem error={error} title="The query was not run" />
              {at ? (
                <div data-testid="error-position">
                  <pre className={css.caret} aria-label={`line ${at.line}, column ${at.column}`}>
                    {`${errLine}\n${' '.repeat(Math.max(0, at.column - 1))}^`}
                  </pre>
                  <button
                    className={`${ui.button} ${ui.small}`}
                    onClick={() => {
                      editor.current?.focus();
                      editor.current?.setSelectionRange(at.position, at.position + 1);
                    }}
                  >
                    Show line {at.line}, column {at.column} in the editor
                  </button>
                </div>
              ) : null}
            </div>
          ) : null}
          {result ? (
            <section aria-label="Results" data-testid="query-result">
              <p className={css.summary} data-testid="result-summary">
                {result.r.rowCount.toLocaleString('en')} row{result.r.rowCount === 1 ? '' : 's'}
                {result.r.truncated ? ` (stopped at ${limit.toLocaleString('en')}: more rows exist)` : ''} ·{' '}
                {result.r.columns.length} columns · {Math.round(result.ms)} ms
                {ranAs ? <span data-testid="ran-as"> · as {ranAs} (simulated)</span> : null}
              </p>
              <ResultGrid
                columns={result.r.columns}
                rows={result.r.rows}
                label="Query results"
                reasons={maskReasons(Object.values(result.r.policies ?? {}))}
              />
              <div className={ui.row} style={{ marginTop: '0.75rem' }}>
                <span className={ui.label}>Download</span>
                {(['csv', 'parquet', 'jsonl'] as const).map((f) => (
                  <button
                    key={f}
                    className={`${ui.button} ${ui.small}`}
                    onClick={() => void download(f)}
                    disabled={downloading !== null}
                  >
                    {downloading === f ? 'Preparing…' : f === 'jsonl' ? 'JSON lines' : f === 'csv' ? 'CSV' : 'Parquet'}
                  </button>
                ))}
              </div>
              {can.manageData ? (
                <form
                  className={ui.row}
                  style={{ marginTop: '0.75rem' }}
                  onSubmit={(e) => {
                    e.preventDefault();
                    save.mutate();
                  }}
                >
                  <label htmlFor="save-target" className={ui.label}>
                    Save the whole result as a new version of
                  </label>
                  <input
                    id="save-target"
                    className={ui.input}
                    style={{ width: '14rem' }}
                    value={target}
                    required
                    pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,127}"
                    placeholder="dataset name"
                    onChange={(e) => setTarget(e.target.value)}
                  />
                  <select
                    aria-label="Format"
                    value={saveFormat}
                    onChange={(e) => setSaveFormat(e.target.value as ResultFileFormat)}
                  >
                    <option value="parquet">Parquet</option>
                    <option value="csv">CSV</option>
                    <option value="jsonl">JSON lines</option>
                  </select>
                  <button className={`${ui.button} ${ui.small}`} disabled={save.isPending}>
                    {save.isPending ? 'Saving…' : 'Save'}
                  </button>
                </form>
              ) : null}
              <Problem error={save.error} title="The result was not saved" />
              {save.data ? (
                <Notice kind="ok" title="Saved">
                  <span data-testid="saved">
                    {save.data.rows.toLocaleString('en')} rows stored, encrypted, as{' '}
                    <Link to={`/datasets/${encodeURIComponent(save.data.dataset)}`}>
                      {save.data.dataset} v{save.data.version.version}
                    </Link>
                    .
                  </span>
                </Notice>
              ) : null}
            </section>
          ) : null}
        </div>
      </div>
    </>
  );
}
