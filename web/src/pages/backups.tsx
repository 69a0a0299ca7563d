/**
 * Settings → Backups (the operator's): the backup targets, freshness against the objective, the
 * list with each backup's state, verification and why rotation keeps it, "Back up now" with its
 * progress (the list is re-read while a backup runs), the restore drill per backup, and how to
 * restore. Each target has a "Copy dataset objects" switch (the incremental copy of dataset
 * ciphertext, issue 20); a backup's row shows what it copied. The operator token is held in this tab's memory only (`lib/operator.tsx`).
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { bytes, duration, when } from '../lib/format.ts';
import { OperatorTokenForm, useOperator } from '../lib/operator.tsx';
import { Badge, CopyButton, Empty, Loading, Notice, PageHead, Problem, ui } from '../ui/components.tsx';

interface BackupRow {
  id: string;
  target: string;
  trigger: string;
  state: 'running' | 'complete' | 'failed' | 'deleted';
  createdAt: string;
  completedAt?: string;
  size?: number;
  error?: string;
  objects?: { total: number; copied: number; bytes: number; unchanged: number; skipped: number };
  verification: { at: string; ok: boolean; ms: number; error?: string } | null;
  keptBecause: string[];
}
interface BackupStatus {
  objectiveHours: number;
  newestBackup?: string;
  newestVerified?: string;
  lastDrill?: { id: string; ok: boolean; ms: number; at: string; error?: string };
  stale: boolean;
  drillFailed: boolean;
  recoveryKeyExported: boolean;
  targets: number;
  scheduleHourUtc?: number;
}
interface Target {
  name: string;
  workspace: string;
  drive: string;
  prefix: string;
  copyObjects: boolean;
}

function StateBadge({ row }: { row: BackupRow }) {
  if (row.state === 'running') return <Badge kind="warn">running…</Badge>;
  if (row.state === 'failed') return <Badge kind="bad">failed</Badge>;
  if (row.state === 'deleted') return <Badge>deleted</Badge>;
  return <Badge kind="good">complete</Badge>;
}

function Restore({ newest, target }: { newest: BackupRow | undefined; target: Target | undefined }) {
  const id = newest?.id ?? '<backup id>';
  const prefix = target?.prefix ?? '<prefix>';
  const local = `strongroom backup restore --from /path/to/drive/${prefix}/${id} --home /srv/strongroom-restored --recovery-key-file recovery.key`;
  const cloud = `AZURE_STORAGE_CONNECTION_STRING=… strongroom backup restore --from azure://<container>/${prefix}/${id} --home /srv/strongroom-restored --recovery-key-file recovery.key`;
  return (
    <section className={ui.panel} aria-label="Restore instructions">
      <h2 style={{ marginTop: 0 }}>How to restore</h2>
      <ol>
        <li>
          A restore never writes into a running installation: it fills a <strong>new</strong> data directory (or an
          empty PostgreSQL database with <code>--database-url</code>), so the old one stays as it was.
        </li>
        <li>
          If the target holds copies of the dataset objects and a drive lost some, start the restored server, then put
          them back (each checked against the SHA-256 recorded when it was copied):{' '}
          <code>strongroom backup restore-objects --target {target?.name ?? '<target>'}</code>.
        </li>
        <li>
          With the drive as a local folder:
          <pre className={ui.code}>{local}</pre>
          <CopyButton text={local} what="restore command" />
        </li>
        <li>
          Straight from a bucket (<code>s3://</code>, <code>azure://</code> or <code>gs://</code>; credentials from the
          environment, <code>--endpoint</code> for a compatible service):
          <pre className={ui.code}>{cloud}</pre>
        </li>
        <li>
          Use <code>--root-key-file</code> if the old root key survived, else the recovery key file or{' '}
          <code>--recovery-share-file</code> with enough shares. A backup made by another installation is refused unless
          you add <code>--allow-foreign-installation</code>.
        </li>
        <li>
          The restore checks the object's SHA-256, every segment, every table's checksum and the audit chain (a backup
          whose chain does not verify is refused), re-applies every crypto-shredding the target knows of, then records{' '}
          <code>system.backup.restored</code>. Start the server on the new directory (
          <code>STRONGROOM_HOME=/srv/strongroom-restored strongroom serve</code>).
        </li>
      </ol>
    </section>
  );
}

function Backups() {
  const { api: op, forget } = useOperator();
  const qc = useQueryClient();
  const api = op!;
  const list = useQuery({
    queryKey: ['op-backups'],
    queryFn: async () => (await api.backups.list()) as unknown as { backups: BackupRow[]; status: BackupStatus },
    // While a backup runs (here or by the schedule), the list is re-read to show its progress.
    refetchInterval: (q) => (q.state.data?.backups.some((b) => b.state === 'running') ? 1500 : false),
  });
  const targets = useQuery({
    queryKey: ['op-backup-targets'],
    queryFn: async () => (await api.backups.targets()) as unknown as { targets: Target[] },
  });
  const refresh = () => void qc.invalidateQueries({ queryKey: ['op-backups'] });
  const create = useMutation({
    mutationFn: () => api.backups.create(),
    onMutate: () => setTimeout(refresh, 300),
    onSettled: refresh,
  });
  const verify = useMutation({ mutationFn: (id: string) => api.backups.verify(id), onSettled: refresh });
  const copyObjects = useMutation({
    mutationFn: (t: { name: string; on: boolean }) => api.backups.updateTarget(t.name, { copyObjects: t.on }),
    onSettled: () => void qc.invalidateQueries({ queryKey: ['op-backup-targets'] }),
  });
  if (list.isPending) return <Loading what="backups" />;
  if (list.error)
    return (
      <>
        <Problem error={list.error} />
        <button className={ui.button} onClick={forget}>
          Use another token
        </button>
      </>
    );
  const { backups, status } = list.data;
  const visible = backups.filter((b) => b.state !== 'deleted');
  const newest = visible.find((b) => b.state === 'complete');
  const target = targets.data?.targets[0];
  return (
    <>
      <PageHead
        title="Backups"
        sub="Encrypted backups of the whole installation, their restore drills and how to restore."
        actions={
          <>
            <button
              className={`${ui.button} ${ui.primary}`}
              disabled={create.isPending || status.targets === 0}
              onClick={() => create.mutate()}
            >
              {create.isPending ? 'Backing up…' : 'Back up now'}
            </button>
            <button className={`${ui.button} ${ui.quiet}`} onClick={forget}>
              Forget token
            </button>
          </>
        }
      />
      {create.isPending ? (
        <Notice kind="info" title="Backup in progress">
          Every table is read in one snapshot and streamed, encrypted, to the target; the manifest is written last. The
          list below follows it.
        </Notice>
      ) : null}
      {create.data ? (
        <Notice kind="ok" title="Backup complete">
          <code>{String(create.data.id)}</code>: {String(create.data.rows)} rows in {String(create.data.tables)} tables.
        </Notice>
      ) : null}
      <Problem error={create.error ?? verify.error ?? copyObjects.error} />
      <section className={ui.panel} aria-label="Backup status">
        <h2 style={{ marginTop: 0 }}>Status</h2>
        <p>
          {status.stale ? <Badge kind="bad">stale</Badge> : <Badge kind="good">fresh</Badge>} Newest verified backup:{' '}
          {when(status.newestVerified)} (objective {status.objectiveHours} h). Newest backup:{' '}
          {when(status.newestBackup)}.
        </p>
        <p>
          Last restore drill:{' '}
          {status.lastDrill ? (
            <>
              <Badge kind={status.lastDrill.ok ? 'good' : 'bad'}>{status.lastDrill.ok ? 'passed' : 'failed'}</Badge>{' '}
              {when(status.lastDrill.at)}, measured recovery time {duration(status.lastDrill.ms / 1000)}
            </>
          ) : (
            'none yet'
          )}
          . Recovery key: {status.recoveryKeyExported ? 'exported' : <Badge kind="warn">not exported</Badge>}.
        </p>
        <h3>Targets</h3>
        {targets.data && targets.data.targets.length > 0 ? (
          <table className={ui.table}>
            <thead>
              <tr>
                <th>Target</th>
                <th>Workspace drive</th>
                <th>Folder</th>
                <th>Dataset objects</th>
              </tr>
            </thead>
            <tbody>
              {targets.data.targets.map((t) => (
                <tr key={t.name}>
                  <td>{t.name}</td>
                  <td>
                    {t.workspace} / {t.drive}
                  </td>
                  <td>
                    <code>{t.prefix}</code>
                  </td>
                  <td>
                    <label>
                      <input
                        type="checkbox"
                        checked={t.copyObjects}
                        disabled={copyObjects.isPending}
                        onChange={(e) => copyObjects.mutate({ name: t.name, on: e.target.checked })}
                      />{' '}
                      Copy dataset objects
                    </label>
                    <div className={ui.muted}>
                      {t.copyObjects
                        ? 'Each backup also copies new and changed dataset ciphertext here.'
                        : 'Off: only the database is backed up here.'}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className={ui.muted}>
            No target yet: <code>strongroom backup target add NAME --workspace WS --drive DRIVE</code>.
          </p>
        )}
      </section>
      <section className={ui.panel} aria-label="Backup list">
        <h2 style={{ marginTop: 0 }}>Backups</h2>
        {visible.length === 0 ? (
          <Empty title="No backups yet">Back up now, or wait for the daily schedule.</Empty>
        ) : (
          <table className={ui.table}>
            <thead>
              <tr>
                <th>Backup</th>
                <th>State</th>
                <th>Started</th>
                <th>Size</th>
                <th>Verification</th>
                <th>Kept because</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {visible.map((b) => (
                <tr key={b.id} data-testid="backup-row">
                  <td>
                    <code>{b.id}</code>
                    <div className={ui.muted}>
                      {b.trigger} → {b.target}
                    </div>
                  </td>
                  <td>
                    <StateBadge row={b} />
                    {b.error ? <div className={ui.muted}>{b.error}</div> : null}
                  </td>
                  <td>{when(b.createdAt)}</td>
                  <td>
                    {b.size !== undefined ? bytes(b.size) : '—'}
                    {b.objects ? (
                      <div className={ui.muted}>
                        objects: {b.objects.copied} copied ({bytes(b.objects.bytes)}), {b.objects.unchanged} unchanged
                        {b.objects.skipped > 0 ? `, ${b.objects.skipped} skipped` : ''}
                      </div>
                    ) : null}
                  </td>
                  <td>
                    {b.verification ? (
                      <>
                        <Badge kind={b.verification.ok ? 'good' : 'bad'}>
                          {b.verification.ok ? 'verified' : 'drill failed'}
                        </Badge>{' '}
                        {duration(b.verification.ms / 1000)}
                      </>
                    ) : (
                      <span className={ui.muted}>not yet</span>
                    )}
                  </td>
                  <td>{b.keptBecause.length > 0 ? b.keptBecause.join(', ') : '—'}</td>
                  <td>
                    {b.state === 'complete' ? (
                      <button
                        className={ui.button}
                        disabled={verify.isPending}
                        onClick={() => verify.mutate(b.id)}
                        aria-label={`Run the restore drill on ${b.id}`}
                      >
                        {verify.isPending && verify.variables === b.id ? 'Drilling…' : 'Restore drill'}
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <Restore newest={newest} target={target} />
    </>
  );
}

export function BackupsPage() {
  const { api } = useOperator();
  if (!api)
    return (
      <>
        <PageHead title="Backups" sub="Encrypted backups of the whole installation." />
        <OperatorTokenForm what="Backups" />
      </>
    );
  return <Backups />;
}
