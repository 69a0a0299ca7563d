/**
 * One dataset: its versions with size, SHA-256, drive and uploader; download, upload, delete (a
 * version or the whole dataset: confirmation, then a fresh sign-in); description and tags; and
 * (readers of data) a Preview tab (`?tab=preview`, `dataset-preview.tsx`).
 * Only the actions the current roles allow are offered (a viewer gets no Download). A download
 * that policy refuses says why on the page instead of failing silently in the browser's download
 * bar: the console first asks for the version's first byte (a 1-byte range read, audited like any
 * read) and only hands the URL to the browser, which streams the file to disk, when that works.
 */
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { DatasetVersion } from '../../../src/contracts/index.ts';
import { paths, problemError } from '../../../src/client/api.ts';
import { ApiError, api, reportUnauthenticated } from '../lib/api.ts';
import { bytes, when } from '../lib/format.ts';
import { Link, useLocation } from '../lib/router.tsx';
import { usePeople } from '../lib/people.ts';
import { usePermissions, useSession, useWorkspace } from '../lib/session.tsx';
import { rulesFor } from '../lib/tag-rules.ts';
import { ConfirmDialog, Empty, Loading, Notice, PageHead, Problem, Tags, ui } from '../ui/components.tsx';
import { useReauth } from '../ui/reauth.tsx';
import { DatasetSettings, DeleteDatasetButton } from './dataset-settings.tsx';
import { UploadPanel } from './upload-panel.tsx';
import { PreviewTab } from './dataset-preview.tsx';
import qcss from './query.module.css';
import css from './datasets.module.css';

/** Ask for the first byte; undefined when the download would be served, else the refusal. */
async function probeDownload(url: string, size: number): Promise<ApiError | undefined> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: 'application/json', ...(size > 0 ? { range: 'bytes=0-0' } : {}) },
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    return new ApiError(0, 'NETWORK', 'The server could not be reached', 'Check your connection and try again.');
  }
  if (res.status < 400) {
    await res.body?.cancel().catch(() => undefined);
    return undefined;
  }
  const err = problemError(res.status, await res.json().catch(() => undefined));
  reportUnauthenticated(url, err);
  return err;
}

/** Let the browser save the file (it streams to disk; nothing is held in memory here). */
function saveAs(url: string, filename: string) {
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
}

function DownloadButton({
  url,
  filename,
  size,
  onRefused,
}: {
  url: string;
  filename: string;
  size: number;
  onRefused: (e: ApiError | null) => void;
}) {
  const [busy, setBusy] = useState(false);
  const go = async () => {
    setBusy(true);
    onRefused(null);
    const refused = await probeDownload(url, size);
    setBusy(false);
    if (refused) onRefused(refused);
    else saveAs(url, filename);
  };
  return (
    <button type="button" className={`${ui.button} ${ui.small}`} onClick={() => void go()} disabled={busy}>
      {busy ? 'Starting…' : 'Download'}
    </button>
  );
}

export function DatasetPage({ name }: { name?: string }) {
  const ws = useWorkspace();
  const can = usePermissions();
  const qc = useQueryClient();
  const ds = name ?? '';
  const detail = useQuery({ queryKey: ['dataset', ws.id, ds], queryFn: () => api.datasets.get(ws.id, ds) });
  const [uploading, setUploading] = useState(false);
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState<DatasetVersion | null>(null);
  const { withReauth, dialog: reauthDialog } = useReauth();
  const del = useMutation({
    mutationFn: (v: number) => withReauth(() => api.datasets.deleteVersion(ws.id, ds, v)),
    onSuccess: () => {
      setDeleting(null);
      void qc.invalidateQueries({ queryKey: ['dataset', ws.id, ds] });
      void qc.invalidateQueries({ queryKey: ['datasets', ws.id] });
    },
  });
  const who = usePeople();
  const { me } = useSession();
  const [refused, setRefused] = useState<{ version: number; error: ApiError } | null>(null);
  const d = detail.data;
  const blocking = rulesFor(d?.tags ?? []).filter((r) => !r.meets(me));
  const loc = useLocation();
  const tab = can.readData && loc.query.get('tab') === 'preview' ? 'preview' : 'versions';
  const here = `/datasets/${encodeURIComponent(ds)}`;

  return (
    <>
      <p>
        <Link to="/datasets">← Datasets</Link>
      </p>
      <PageHead
        title={ds}
        sub={d ? d.description || 'No description.' : undefined}
        actions={
          can.manageData ? (
            <>
              <button className={`${ui.button} ${ui.primary}`} onClick={() => setUploading(true)} disabled={uploading}>
                Upload new version
              </button>
              <button className={ui.button} onClick={() => setEditing(true)} disabled={editing || !d}>
                Edit tags
              </button>
              {d ? <DeleteDatasetButton dataset={d} /> : null}
            </>
          ) : null
        }
      />
      {editing && d ? <DatasetSettings dataset={d} onClose={() => setEditing(false)} /> : null}
      {d?.tags.length ? (
        <p>
          <Tags tags={d.tags} />
        </p>
      ) : null}
      {uploading ? (
        <UploadPanel dataset={ds} currentDrive={d?.versions.at(-1)?.drive} onClose={() => setUploading(false)} />
      ) : null}
      <Problem error={detail.error} />
      {can.readData && blocking.length > 0 ? (
        <Notice kind="warn" title="Downloads of this dataset are restricted">
          {blocking.map((r) => (
            <p key={r.tag}>
              It is tagged <strong>{r.tag}</strong>: only {r.who} can download it (built-in rule <code>{r.rule}</code>).
              You do not meet this rule — ask an admin.
            </p>
          ))}
        </Notice>
      ) : null}
      {refused ? (
        <div data-testid="download-refused">
          <Problem error={refused.error} title={`Version ${refused.version} could not be downloaded`} />
          {refused.error.code === 'FORBIDDEN' && blocking.length > 0 ? (
            <p className={ui.muted}>
              Why: {blocking.map((r) => `the tag ${r.tag} allows only ${r.who}`).join('; ')}. Ask an admin of workspace{' '}
              {ws.id}.
            </p>
          ) : null}
        </div>
      ) : null}
      {detail.isPending ? <Loading what="the dataset" /> : null}
      {d && can.readData ? (
        <nav className={qcss.tabs} aria-label="Dataset views">
          <Link
            to={here}
            className={`${qcss.tab} ${tab === 'versions' ? qcss.tabActive : ''}`}
            aria-current={tab === 'versions' ? 'page' : undefined}
          >
            Versions
          </Link>
          <Link
            to={`${here}?tab=preview`}
            className={`${qcss.tab} ${tab === 'preview' ? qcss.tabActive : ''}`}
            aria-current={tab === 'preview' ? 'page' : undefined}
          >
            Preview
          </Link>
        </nav>
      ) : null}
      {d && tab === 'preview' ? <PreviewTab dataset={ds} versions={d.versions} /> : null}
      {d && tab === 'versions' && d.versions.length === 0 ? (
        <Empty title="No versions">Upload a file to store the first version.</Empty>
      ) : null}
      {d && tab === 'versions' && d.versions.length > 0 ? (
        <div className={`${ui.panel} ${ui.tableWrap}`} style={{ padding: 0 }}>
          <table className={`${ui.table} ${ui.stack}`}>
            <thead>
              <tr>
                <th>Version</th>
                <th>File</th>
                <th>Size</th>
                <th>SHA-256</th>
                <th>Drive</th>
                <th>Uploaded</th>
                <th>
                  <span className={ui.srOnly}>Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {[...d.versions].reverse().map((v) => (
                <tr key={v.version} data-testid={`version-${v.version}`}>
                  <td data-label="Version">
                    <strong>v{v.version}</strong>
                  </td>
                  <td data-label="File">
                    {v.filename ?? '—'}
                    <div className={ui.muted}>{v.mediaType}</div>
                  </td>
                  <td data-label="Size" className={ui.nowrap}>
                    {bytes(v.size)}
                  </td>
                  <td data-label="SHA-256" className={css.hash} data-testid="sha256">
                    {v.sha256}
                  </td>
                  <td data-label="Drive">{v.drive}</td>
                  <td data-label="Uploaded">
                    {when(v.committedAt)}
                    <div className={ui.muted}>by {who(v.createdBy)}</div>
                  </td>
                  <td>
                    <div className={ui.row}>
                      {can.readData ? (
                        <DownloadButton
                          url={paths.datasetContent(ws.id, ds, v.version)}
                          filename={v.filename ?? `${ds}-v${v.version}`}
                          size={v.size}
                          onRefused={(error) => setRefused(error ? { version: v.version, error } : null)}
                        />
                      ) : null}
                      {can.manageData ? (
                        <button className={`${ui.button} ${ui.small}`} onClick={() => setDeleting(v)}>
                          Delete
                        </button>
                      ) : null}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete version ${deleting?.version ?? ''}?`}
        confirmLabel="Delete version"
        pending={del.isPending}
        error={del.error}
        onCancel={() => setDeleting(null)}
        onConfirm={() => deleting && del.mutate(deleting.version)}
      >
        <p>
          The encrypted object is removed from drive {deleting?.drive}. Other versions stay. You will be asked to
          confirm your password.
        </p>
      </ConfirmDialog>
      {reauthDialog}
    </>
  );
}
