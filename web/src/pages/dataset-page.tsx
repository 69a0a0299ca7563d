/** One dataset: its versions with size, SHA-256, drive and uploader; download, upload, delete. */
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { DatasetVersion } from '../../../src/client/api-types.ts';
import { paths } from '../../../src/client/api.ts';
import { api } from '../lib/api.ts';
import { bytes, when } from '../lib/format.ts';
import { Link } from '../lib/router.tsx';
import { usePeople } from '../lib/people.ts';
import { usePermissions, useWorkspace } from '../lib/session.tsx';
import { ConfirmDialog, Empty, Loading, PageHead, Problem, Tags, ui } from '../ui/components.tsx';
import { UploadPanel } from './upload-panel.tsx';
import css from './datasets.module.css';

export function DatasetPage({ name }: { name?: string }) {
  const ws = useWorkspace();
  const can = usePermissions();
  const qc = useQueryClient();
  const ds = name ?? '';
  const detail = useQuery({ queryKey: ['dataset', ws.id, ds], queryFn: () => api.datasets.get(ws.id, ds) });
  const [uploading, setUploading] = useState(false);
  const [deleting, setDeleting] = useState<DatasetVersion | null>(null);
  const del = useMutation({
    mutationFn: (v: number) => api.datasets.deleteVersion(ws.id, ds, v),
    onSuccess: () => {
      setDeleting(null);
      void qc.invalidateQueries({ queryKey: ['dataset', ws.id, ds] });
      void qc.invalidateQueries({ queryKey: ['datasets', ws.id] });
    },
  });
  const who = usePeople();
  const d = detail.data;

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
            <button className={`${ui.button} ${ui.primary}`} onClick={() => setUploading(true)} disabled={uploading}>
              Upload new version
            </button>
          ) : null
        }
      />
      {d?.tags.length ? (
        <p>
          <Tags tags={d.tags} />
        </p>
      ) : null}
      {uploading ? <UploadPanel dataset={ds} onClose={() => setUploading(false)} /> : null}
      <Problem error={detail.error} />
      {detail.isPending ? <Loading what="the dataset" /> : null}
      {d && d.versions.length === 0 ? <Empty title="No versions">Upload a file to store the first version.</Empty> : null}
      {d && d.versions.length > 0 ? (
        <div className={`${ui.panel} ${ui.tableWrap}`} style={{ padding: 0 }}>
          <table className={ui.table}>
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
                  <td>
                    <strong>v{v.version}</strong>
                  </td>
                  <td>
                    {v.filename ?? '—'}
                    <div className={ui.muted}>{v.mediaType}</div>
                  </td>
                  <td className={ui.nowrap}>{bytes(v.size)}</td>
                  <td className={css.hash} data-testid="sha256">
                    {v.sha256}
                  </td>
                  <td>{v.drive}</td>
                  <td>
                    {when(v.committedAt)}
                    <div className={ui.muted}>by {who(v.createdBy)}</div>
                  </td>
                  <td>
                    <div className={ui.row}>
                      <a className={`${ui.button} ${ui.small}`} href={paths.datasetContent(ws.id, ds, v.version)} download={v.filename ?? `${ds}-v${v.version}`}>
                        Download
                      </a>
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
        <p>The encrypted object is removed from drive {deleting?.drive}. Other versions stay.</p>
      </ConfirmDialog>
    </>
  );
}
