/** Data Store: the workspace's drives with kind, status and last test; re-test, remove, mount new. */
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Drive } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { when } from '../lib/format.ts';
import { Link } from '../lib/router.tsx';
import { usePermissions, useWorkspace } from '../lib/session.tsx';
import { Badge, ConfirmDialog, Dialog, Empty, Loading, NeedsRole, PageHead, Problem, ui } from '../ui/components.tsx';
import { DiagnosisView } from './diagnosis.tsx';
import { KindLogo, kindSpec } from './drive-kinds.tsx';
import css from './drives.module.css';

const STATUS = { healthy: 'good', failing: 'bad', unknown: undefined } as const;

export function DrivesPage() {
  const ws = useWorkspace();
  const can = usePermissions();
  const qc = useQueryClient();
  const drives = useQuery({
    queryKey: ['drives', ws.id],
    queryFn: () => api.drives.list(ws.id),
    enabled: can.metadata,
  });
  const [shown, setShown] = useState<Drive | null>(null);
  const [removing, setRemoving] = useState<Drive | null>(null);
  const retest = useMutation({
    mutationFn: (name: string) => api.drives.retest(ws.id, name),
    onSettled: () => qc.invalidateQueries({ queryKey: ['drives', ws.id] }),
  });
  const remove = useMutation({
    mutationFn: (name: string) => api.drives.remove(ws.id, name),
    onSuccess: () => {
      setRemoving(null);
      void qc.invalidateQueries({ queryKey: ['drives', ws.id] });
    },
  });
  if (!can.metadata)
    return <NeedsRole page="Data Store" roles="owners, admins, engineers and auditors" have={ws.roles} />;
  const mount = can.manageData ? (
    <Link to="/drives/new" className={`${ui.button} ${ui.primary}`}>
      Mount New Drive
    </Link>
  ) : null;

  return (
    <>
      <PageHead
        title="Data Store"
        sub="Drives are the buckets and disks your datasets are stored in, encrypted before any byte leaves Strongroom."
        actions={mount}
      />
      <Problem error={drives.error ?? retest.error} />
      {drives.isPending ? <Loading what="drives" /> : null}
      {drives.data && drives.data.drives.length === 0 ? (
        <Empty title="No drives yet" action={mount}>
          Mount your own bucket (S3, Azure Blob or Google Cloud Storage) to keep datasets there.
        </Empty>
      ) : null}
      {drives.data && drives.data.drives.length > 0 ? (
        <div className={`${ui.panel} ${ui.tableWrap}`} style={{ padding: 0 }}>
          <table className={`${ui.table} ${ui.stack}`}>
            <thead>
              <tr>
                <th>Drive</th>
                <th>Kind</th>
                <th>Status</th>
                <th>Last test</th>
                <th>
                  <span className={ui.srOnly}>Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {drives.data.drives.map((d) => (
                <tr key={d.name} data-testid={`drive-${d.name}`}>
                  <td>
                    <div className={css.driveName}>
                      <KindLogo kind={d.kind} size={28} />
                      <div>
                        <Link to={`/drives/${encodeURIComponent(d.name)}`}>
                          <strong>{d.name}</strong>
                        </Link>{' '}
                        {d.isDefault ? <Badge>default</Badge> : null}
                        {d.description ? <div className={ui.muted}>{d.description}</div> : null}
                      </div>
                    </div>
                  </td>
                  <td data-label="Kind">{kindSpec(d.kind).title}</td>
                  <td data-label="Status">
                    <Badge kind={STATUS[d.status]}>{d.status}</Badge>
                    {d.statusCode ? <div className={ui.muted}>{d.statusCode}</div> : null}
                  </td>
                  <td data-label="Last test">
                    {d.lastTest ? (
                      <button className={`${ui.button} ${ui.quiet}`} onClick={() => setShown(d)}>
                        {d.lastTest.ok ? 'passed' : `failed (${d.lastTest.code ?? 'error'})`} ·{' '}
                        {when(d.lastTest.checkedAt)}
                      </button>
                    ) : (
                      <span className={ui.muted}>never</span>
                    )}
                  </td>
                  <td>
                    <div className={ui.row}>
                      {can.manageData ? (
                        <button
                          className={`${ui.button} ${ui.small}`}
                          disabled={retest.isPending}
                          onClick={() => retest.mutate(d.name)}
                        >
                          {retest.isPending && retest.variables === d.name ? 'Testing…' : 'Test'}
                        </button>
                      ) : null}
                      {can.manageData && !d.isDefault ? (
                        <button className={`${ui.button} ${ui.small}`} onClick={() => setRemoving(d)}>
                          Remove
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
      <Dialog
        open={shown !== null}
        title={`Last test of ${shown?.name ?? ''}`}
        onClose={() => setShown(null)}
        actions={
          <button className={ui.button} onClick={() => setShown(null)}>
            Close
          </button>
        }
      >
        {shown?.lastTest ? <DiagnosisView report={shown.lastTest} /> : null}
      </Dialog>
      <ConfirmDialog
        open={removing !== null}
        title={`Remove drive ${removing?.name ?? ''}?`}
        confirmLabel="Remove drive"
        pending={remove.isPending}
        error={remove.error}
        onCancel={() => setRemoving(null)}
        onConfirm={() => removing && remove.mutate(removing.name)}
      >
        <p>
          Strongroom forgets this drive and destroys the credentials it kept for it. The objects in the bucket are not
          deleted.
        </p>
      </ConfirmDialog>
    </>
  );
}
