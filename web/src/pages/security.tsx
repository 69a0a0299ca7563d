/**
 * Security: the workspace's security posture — every control with its status, what it promises,
 * the live evidence, what to do when it does not pass, and the frameworks it gives evidence for;
 * the history of one control; "Check now"; and "Download evidence" (the signed JSON pack, its HTML
 * report and the audit public key to verify it with `strongroom evidence verify`); the client
 * network allowlist and its editor (network-allowlist.tsx).
 */
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { PostureControl } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { when } from '../lib/format.ts';
import { usePermissions, useWorkspace } from '../lib/session.tsx';
import { Badge, Dialog, Loading, NeedsRole, PageHead, Problem, downloadText, ui } from '../ui/components.tsx';
import { NetworkAllowlist } from './network-allowlist.tsx';

const KIND = { pass: 'good', warn: 'warn', fail: 'bad' } as const;
const ORDER = { fail: 0, warn: 1, pass: 2 } as const;
const FRAMEWORK = { soc2: 'SOC 2', iso27001: 'ISO/IEC 27001:2022', pciDss: 'PCI DSS 4.0', gdpr: 'GDPR' } as const;

function show(v: unknown): string {
  return Array.isArray(v) ? v.join(', ') || '—' : v === null ? '—' : String(v);
}

function History({ ws: workspaceId, control }: { ws: string; control: string }) {
  const h = useQuery({
    queryKey: ['posture-history', workspaceId, control],
    queryFn: () => api.posture.history(workspaceId, control, 20),
  });
  if (h.isLoading) return <Loading what="history" />;
  return (
    <>
      <Problem error={h.error} />
      <table className={ui.table} data-testid="posture-history">
        <thead>
          <tr>
            <th>Checked</th>
            <th>Status</th>
            <th>Finding</th>
          </tr>
        </thead>
        <tbody>
          {h.data?.results.map((r) => (
            <tr key={`${r.runId}-${r.controlId}`}>
              <td>{when(r.checkedAt)}</td>
              <td>
                <Badge kind={KIND[r.status]}>{r.status}</Badge>
              </td>
              <td>{r.summary}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function ControlDetail({ ws: workspaceId, c, onClose }: { ws: string; c: PostureControl; onClose: () => void }) {
  return (
    <Dialog open title={c.title} onClose={onClose}>
      <p>
        <Badge kind={KIND[c.status]}>{c.status}</Badge> {c.summary}
      </p>
      <p>
        <strong>Promise.</strong> {c.promise}
      </p>
      <p>
        <strong>How it is checked.</strong> {c.method}
      </p>
      {c.status !== 'pass' ? (
        <p data-testid="remedy">
          <strong>To fix.</strong> {c.remedy}
        </p>
      ) : null}
      <h3>Evidence ({when(c.checkedAt)})</h3>
      <dl className={ui.muted}>
        {Object.entries(c.evidence).map(([k, v]) => (
          <div key={k}>
            <dt style={{ display: 'inline', fontWeight: 600 }}>{k}</dt>:{' '}
            <dd style={{ display: 'inline', margin: 0 }}>{show(v)}</dd>
          </div>
        ))}
      </dl>
      <h3>Frameworks</h3>
      <p className={ui.muted}>
        {Object.entries(c.frameworks)
          .map(([k, v]) => `${FRAMEWORK[k as keyof typeof FRAMEWORK] ?? k}: ${(v as string[]).join(', ')}`)
          .join(' · ')}{' '}
        (a mapping to what the control gives evidence for, not a certification)
      </p>
      <h3>History</h3>
      <History ws={workspaceId} control={c.id} />
    </Dialog>
  );
}

export function SecurityPage() {
  const ws = useWorkspace();
  const can = usePermissions();
  const qc = useQueryClient();
  const [open, setOpen] = useState<PostureControl | null>(null);
  const report = useQuery({
    queryKey: ['posture', ws.id],
    queryFn: () => api.posture.latest(ws.id),
    enabled: can.audit,
  });
  const run = useMutation({
    mutationFn: () => api.posture.run(ws.id),
    onSuccess: (r) => {
      qc.setQueryData(['posture', ws.id], r);
      void qc.invalidateQueries({ queryKey: ['posture-history', ws.id] });
    },
  });
  const evidence = useMutation({
    mutationFn: () => api.posture.evidence(ws.id),
    onSuccess: (b) => {
      const stamp = b.pack.generatedAt.replace(/[:.]/g, '-');
      downloadText(`strongroom-evidence-${ws.id}-${stamp}.json`, `${JSON.stringify(b.pack, null, 2)}\n`);
      downloadText(`strongroom-evidence-${ws.id}-${stamp}.html`, b.html);
      downloadText('audit-public-key.pem', b.publicKeyPem);
    },
  });
  if (!can.audit) return <NeedsRole page="Security" roles="owners, admins and auditors" have={ws.roles} />;
  const r = report.data;
  const controls = [...(r?.controls ?? [])].sort(
    (a, b) => ORDER[a.status] - ORDER[b.status] || a.id.localeCompare(b.id),
  );
  return (
    <>
      <PageHead
        title="Security"
        sub="Every promise as a live control: checked against this installation and this workspace, with its evidence."
        actions={
          <>
            <button className={ui.button} onClick={() => run.mutate()} disabled={run.isPending}>
              {run.isPending ? 'Checking…' : 'Check now'}
            </button>
            <button className={ui.button} onClick={() => evidence.mutate()} disabled={evidence.isPending}>
              Download evidence
            </button>
          </>
        }
      />
      <Problem error={report.error ?? run.error ?? evidence.error} />
      {evidence.isSuccess ? (
        <p className={ui.muted} data-testid="evidence-done">
          Evidence pack signed with audit key {evidence.data.pack.signature.keyId}. Verify it with{' '}
          <code>strongroom evidence verify &lt;file&gt; --public-key audit-public-key.pem</code>.
        </p>
      ) : null}
      {report.isLoading ? <Loading what="the security posture" /> : null}
      {r ? (
        <section className={ui.panel} aria-label="Summary" data-testid="posture-summary">
          <p>
            <Badge kind="good">{r.counts.pass} pass</Badge> <Badge kind="warn">{r.counts.warn} warn</Badge>{' '}
            <Badge kind="bad">{r.counts.fail} fail</Badge> — checked {when(r.checkedAt)}
          </p>
        </section>
      ) : null}
      <table className={ui.table} data-testid="posture-controls">
        <thead>
          <tr>
            <th>Status</th>
            <th>Control</th>
            <th>Finding</th>
            <th>To fix</th>
          </tr>
        </thead>
        <tbody>
          {controls.map((c) => (
            <tr key={c.id} data-control={c.id} data-status={c.status}>
              <td>
                <Badge kind={KIND[c.status]}>{c.status}</Badge>
              </td>
              <td>
                <button className={`${ui.button} ${ui.quiet} ${ui.small}`} onClick={() => setOpen(c)}>
                  {c.title}
                </button>
                <div className={ui.muted}>
                  <code>{c.id}</code>
                </div>
              </td>
              <td>{c.summary}</td>
              <td className={ui.muted}>{c.status === 'pass' ? '' : c.remedy}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <NetworkAllowlist ws={ws.id} />
      {open ? <ControlDetail ws={ws.id} c={open} onClose={() => setOpen(null)} /> : null}
    </>
  );
}
