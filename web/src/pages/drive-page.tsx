/**
 * One drive: its settings (never a secret: the API has no field for one), what it holds (the
 * datasets with versions on it), its health history, and the actions a role allows — test now,
 * make it the workspace default (owners, admins), upload a dataset to it, rotate its credentials
 * (tested before they replace the old ones; needs a fresh sign-in). Right after Mount New Drive
 * (`?added=1`) it says the drive is ready and offers the first upload.
 */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Diagnosis, Drive } from '../../../src/contracts/index.ts';
import { ApiError, api } from '../lib/api.ts';
import { bytes, when } from '../lib/format.ts';
import { Link, useLocation } from '../lib/router.tsx';
import { usePermissions, useWorkspace } from '../lib/session.tsx';
import { useReauth } from '../ui/reauth.tsx';
import { Badge, Empty, Loading, NeedsRole, Notice, PageHead, Problem, ui } from '../ui/components.tsx';
import { DiagnosisView } from './diagnosis.tsx';
import { kindSpec, KindLogo } from './drive-kinds.tsx';
import { driveInput, FieldInput } from './mount-wizard.tsx';
import { UploadPanel } from './upload-panel.tsx';

function RotateCredentials({ drive, onDone }: { drive: Drive; onDone: () => void }) {
  const ws = useWorkspace();
  const qc = useQueryClient();
  const spec = kindSpec(drive.kind);
  const [variant, setVariant] = useState(spec.credentials[0]?.id ?? '');
  const [values, setValues] = useState<Record<string, string | boolean>>({});
  const [report, setReport] = useState<Diagnosis | null>(null);
  const { withReauth, dialog } = useReauth();
  const creds = spec.credentials.find((c) => c.id === variant);
  const rotate = useMutation({
    mutationFn: () => {
      const input = driveInput(drive.kind, drive.name, '', variant, values);
      return withReauth(() => api.drives.rotateCredentials(ws.id, drive.name, input.credentials ?? {}));
    },
    onSuccess: async (out) => {
      setValues({});
      setReport(out.diagnosis);
      await qc.invalidateQueries({ queryKey: ['drive', ws.id, drive.name] });
      onDone();
    },
    onError: (err) => {
      const d = err instanceof ApiError ? (err.problem?.diagnosis as Diagnosis | undefined) : undefined;
      setReport(d ?? null);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    rotate.mutate();
  };
  return (
    <form className={ui.panel} aria-label="Rotate credentials" onSubmit={submit}>
      <h2 style={{ marginTop: 0 }}>Rotate credentials</h2>
      <p className={ui.help}>
        The new credentials are tested against this drive first; the old ones stay in use unless the test passes.
      </p>
      <Problem error={rotate.error} title="The credentials were not changed" />
      {spec.credentials.length > 1 ? (
        <select
          className={ui.select}
          aria-label="Kind of credentials"
          value={variant}
          onChange={(e) => setVariant(e.target.value)}
        >
          {spec.credentials.map((c) => (
            <option key={c.id} value={c.id}>
              {c.label}
            </option>
          ))}
        </select>
      ) : null}
      {creds?.fields.map((f) => (
        <FieldInput key={f.key} f={f} value={values[f.key]} onChange={(v) => setValues({ ...values, [f.key]: v })} />
      ))}
      <button type="submit" className={`${ui.button} ${ui.primary}`} disabled={rotate.isPending}>
        {rotate.isPending ? 'Testing…' : 'Test and rotate'}
      </button>
      {report ? <DiagnosisView report={report} /> : null}
      {dialog}
    </form>
  );
}

export function DrivePage({ name }: { name: string }) {
  const ws = useWorkspace();
  const can = usePermissions();
  const qc = useQueryClient();
  const { query } = useLocation();
  const [uploading, setUploading] = useState(false);
  const [rotating, setRotating] = useState(false);
  const [rotated, setRotated] = useState(false);
  const drive = useQuery({
    queryKey: ['drive', ws.id, name],
    queryFn: () => api.drives.get(ws.id, name),
    enabled: can.metadata,
  });
  const usage = useQuery({
    queryKey: ['drive-usage', ws.id, name],
    queryFn: () => api.drives.usage(ws.id, name),
    enabled: can.metadata,
  });
  const health = useQuery({
    queryKey: ['drive-health', ws.id, name],
    queryFn: () => api.drives.health(ws.id, name),
    enabled: can.metadata,
  });
  const refresh = async () => {
    await qc.invalidateQueries({ queryKey: ['drive', ws.id, name] });
    await qc.invalidateQueries({ queryKey: ['drive-health', ws.id, name] });
    await qc.invalidateQueries({ queryKey: ['drives', ws.id] });
  };
  const retest = useMutation({ mutationFn: () => api.drives.retest(ws.id, name), onSettled: refresh });
  const makeDefault = useMutation({ mutationFn: () => api.drives.setDefault(ws.id, name), onSettled: refresh });
  if (!can.metadata)
    return <NeedsRole page="Data Store" roles="owners, admins, engineers and auditors" have={ws.roles} />;
  const d = drive.data;

  return (
    <>
      <p>
        <Link to="/drives">← Data Store</Link>
      </p>
      <PageHead
        title={name}
        sub={d ? `${kindSpec(d.kind).title}${d.description ? ` — ${d.description}` : ''}` : undefined}
        actions={
          d ? (
            <>
              {can.manageData ? (
                <button className={`${ui.button} ${ui.primary}`} onClick={() => setUploading(true)}>
                  Upload a dataset to this drive
                </button>
              ) : null}
              {can.manageData ? (
                <button className={ui.button} onClick={() => retest.mutate()} disabled={retest.isPending}>
                  {retest.isPending ? 'Testing…' : 'Test now'}
                </button>
              ) : null}
              {can.admin && !d.isDefault ? (
                <button className={ui.button} onClick={() => makeDefault.mutate()} disabled={makeDefault.isPending}>
                  Make default drive
                </button>
              ) : null}
              {can.manageData && d.kind !== 'local' ? (
                <button className={ui.button} onClick={() => setRotating(true)} disabled={rotating}>
                  Rotate credentials
                </button>
              ) : null}
            </>
          ) : null
        }
      />
      {query.get('added') === '1' && d ? (
        <Notice kind="ok" title={`Drive ${name} is ready`}>
          It passed its test and is mounted. Upload a dataset to it with the button above, or choose it in any upload
          form.
        </Notice>
      ) : null}
      {rotated ? (
        <Notice kind="ok" title="Credentials rotated">
          The new credentials passed the test and are in use.
        </Notice>
      ) : null}
      <Problem error={drive.error ?? retest.error ?? makeDefault.error} />
      {drive.isPending ? <Loading what="the drive" /> : null}
      {uploading && d ? <UploadPanel presetDrive={name} onClose={() => setUploading(false)} /> : null}
      {rotating && d ? (
        <RotateCredentials
          drive={d}
          onDone={() => {
            setRotating(false);
            setRotated(true);
            void refresh();
          }}
        />
      ) : null}
      {retest.data ? <DiagnosisView report={retest.data} /> : null}
      {d ? (
        <section className={ui.panel} aria-label="Settings">
          <div className={ui.row}>
            <KindLogo kind={d.kind} size={28} />
            <h2 style={{ margin: 0 }}>Settings</h2>
          </div>
          <dl data-testid="drive-settings">
            <dt>Status</dt>
            <dd>
              <Badge kind={d.status === 'healthy' ? 'good' : d.status === 'failing' ? 'bad' : undefined}>
                {d.status}
              </Badge>{' '}
              {d.isDefault ? <Badge>default drive</Badge> : null}
            </dd>
            {Object.entries(d.config).map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>
                  <code>{String(v)}</code>
                </dd>
              </div>
            ))}
            <dt>Credentials</dt>
            <dd>
              {d.credentialSecret ? (
                <>
                  kept in the vault as <code>{d.credentialSecret}</code> (never shown here)
                </>
              ) : (
                'none needed'
              )}
            </dd>
            <dt>Added</dt>
            <dd>{when(d.createdAt)}</dd>
          </dl>
        </section>
      ) : null}
      <section className={ui.panel} aria-label="Usage">
        <h2 style={{ marginTop: 0 }}>Usage</h2>
        <Problem error={usage.error} />
        {usage.data ? (
          <>
            <p data-testid="drive-usage">
              {usage.data.versions} version{usage.data.versions === 1 ? '' : 's'}, {bytes(usage.data.bytes)} of data
              (before encryption).
            </p>
            {usage.data.datasets.length > 0 ? (
              <ul>
                {usage.data.datasets.map((n) => (
                  <li key={n}>
                    <Link to={`/datasets/${encodeURIComponent(n)}`}>{n}</Link>
                  </li>
                ))}
              </ul>
            ) : null}
          </>
        ) : null}
      </section>
      <section className={ui.panel} aria-label="Health history">
        <h2 style={{ marginTop: 0 }}>Health history</h2>
        <Problem error={health.error} />
        {health.data && health.data.checks.length === 0 ? <Empty title="No tests recorded yet" /> : null}
        {health.data && health.data.checks.length > 0 ? (
          <div className={ui.tableWrap}>
            <table className={`${ui.table} ${ui.stack}`} aria-label="Health history">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Result</th>
                  <th>Latency</th>
                </tr>
              </thead>
              <tbody>
                {health.data.checks.map((c, i) => (
                  <tr key={i}>
                    <td data-label="When">{when(c.checkedAt)}</td>
                    <td data-label="Result">
                      {c.ok ? (
                        <Badge kind="good">passed</Badge>
                      ) : (
                        <>
                          <Badge kind="bad">failed</Badge> {c.code ?? ''}
                          {c.failedStep ? ` at ${c.failedStep}` : ''}
                        </>
                      )}
                    </td>
                    <td data-label="Latency">{c.latencyMs === null ? '—' : `${Math.round(c.latencyMs)} ms`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
    </>
  );
}
