/**
 * Vault helpers beside the secret detail: the "due" view over `GET …/secrets-due` (expired,
 * expiring, rotation overdue, certificates ending), a version's certificate facts (subject,
 * expiry, SHA-256 fingerprint), and the pointer shown when the current version is not live (which
 * version still holds a value, and a rollback to it).
 */
import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { SecretMetadata, SecretVersion } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { when } from '../lib/format.ts';
import { Link } from '../lib/router.tsx';
import { useWorkspace } from '../lib/session.tsx';
import { Badge, CopyButton, Empty, Notice, Problem, ui } from '../ui/components.tsx';

const REASON: Record<string, string> = {
  expired: 'expired',
  expiring: 'expires soon',
  'rotation-overdue': 'rotation overdue',
  'rotation-due': 'rotation due soon',
  'certificate-expired': 'certificate expired',
  'certificate-expiring': 'certificate expires soon',
};

/** Secrets due now or within the chosen number of days, each linking to its detail. */
export function DueSecrets() {
  const ws = useWorkspace();
  const [days, setDays] = useState(30);
  const due = useQuery({ queryKey: ['secrets-due', ws.id, days], queryFn: () => api.secrets.due(ws.id, days) });
  return (
    <section className={ui.panel} aria-label="Due secrets" data-testid="secrets-due">
      <div className={ui.spread}>
        <h2 style={{ margin: 0 }}>Due for rotation or expiring</h2>
        <label>
          within{' '}
          <select className={ui.select} value={days} onChange={(e) => setDays(Number(e.target.value))}>
            {[0, 7, 30, 90].map((d) => (
              <option key={d} value={d}>
                {d === 0 ? 'now' : `${d} days`}
              </option>
            ))}
          </select>
        </label>
      </div>
      <Problem error={due.error} />
      {due.data && due.data.secrets.length === 0 ? <Empty title="Nothing is due" /> : null}
      {due.data && due.data.secrets.length > 0 ? (
        <ul>
          {due.data.secrets.map((s) => (
            <li key={s.path}>
              <Link to={`/vault?path=${encodeURIComponent(s.path)}`}>{s.path}</Link>{' '}
              {s.reasons.map((r) => (
                <Badge key={r} kind={/expired|overdue/.test(r) ? 'bad' : 'warn'}>
                  {REASON[r] ?? r}
                </Badge>
              ))}{' '}
              <span className={ui.muted}>
                {[
                  s.expiresAt ? `expires ${when(s.expiresAt)}` : '',
                  s.rotationDueAt ? `rotate by ${when(s.rotationDueAt)}` : '',
                  s.certificateNotAfter ? `certificate ends ${when(s.certificateNotAfter)}` : '',
                ]
                  .filter(Boolean)
                  .join(' · ')}
              </span>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

/** Subject, expiry and fingerprint of a certificate version. */
export function CertificateFacts({ v }: { v: SecretVersion }) {
  if (!v.certificate) return null;
  const expired = new Date(v.certificate.notAfter).getTime() < Date.now();
  return (
    <div className={ui.muted} data-testid={`certificate-${v.version}`}>
      <div>
        subject <code>{v.certificate.subject}</code>
      </div>
      <div>
        {expired ? <Badge kind="bad">expired</Badge> : 'expires'} {when(v.certificate.notAfter)}
      </div>
      <div style={{ wordBreak: 'break-all' }}>
        SHA-256 <code>{v.certificate.fingerprint256}</code>{' '}
        <CopyButton text={v.certificate.fingerprint256} what="fingerprint" />
      </div>
    </div>
  );
}

/**
 * When the current version is deleted or destroyed, programs reading the secret get nothing:
 * say so and name the newest version that still holds a value (with a rollback to it).
 */
export function LivePointer({
  m,
  canRollback,
  onRollback,
}: {
  m: SecretMetadata;
  canRollback: boolean;
  onRollback: (version: number) => void;
}) {
  const current = m.versions.find((v) => v.version === m.currentVersion);
  if (!current || current.state === 'live') return null;
  const live = [...m.versions].reverse().find((v) => v.state === 'live');
  return (
    <Notice kind="warn" title={`The current version ${m.currentVersion} is ${current.state}`}>
      Programs and drives reading this secret get no value now.{' '}
      {live ? (
        <>
          The newest version that still holds a value is <strong>v{live.version}</strong>
          {canRollback ? (
            <>
              {' '}
              <button type="button" className={`${ui.button} ${ui.small}`} onClick={() => onRollback(live.version)}>
                Roll back to v{live.version}
              </button>
            </>
          ) : (
            '.'
          )}
        </>
      ) : (
        'No version holds a value any more: write a new version.'
      )}
    </Notice>
  );
}
