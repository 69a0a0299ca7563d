/**
 * Posture controls of the retention module (registered in src/server/posture-wiring.ts):
 * - `retention.audit-class`: audit events are kept at least a year (PCI DSS 10.5.1);
 * - `retention.terminations`: no terminated workspace is past its purge date by more than a day
 *   without being purged (a held one is reported, not failed: the hold is why).
 * Evidence: day counts, workspace ids of terminations (installation scope, operator only).
 */
import type { Control, ControlResult } from '../posture/index.ts';
import { pass, warn } from '../posture/index.ts';

export interface RetentionPostureDeps {
  show(): Promise<{
    classes: Record<string, number>;
    holds: { scope: string; target: string; releasedAt: string | null }[];
    terminations: { workspace: string; state: string; purgeAfter: string }[];
  }>;
}

const FRAMEWORKS = {
  soc2: ['C1.2', 'P4.2'],
  iso27001: ['A.5.33', 'A.8.10'],
  pciDss: ['10.5.1'],
  gdpr: ['Art. 5(1)(e)'],
};

export function retentionControls(deps: RetentionPostureDeps): Control[] {
  const base = { scope: 'installation' as const, frameworks: FRAMEWORKS };
  return [
    {
      ...base,
      id: 'retention.audit-class',
      title: 'Audit trail kept a year',
      promise: 'Logs are kept for one year.',
      method: 'Reads the audit events retention class (days).',
      remedy: 'Set it to 365 days or more: `strongroom retention set audit 365`.',
      async check(): Promise<ControlResult> {
        const days = (await deps.show()).classes.audit ?? 0;
        return days >= 365
          ? pass(`audit events are kept ${days} days`, { auditDays: days })
          : warn(`audit events are kept only ${days} days (a year is expected)`, { auditDays: days });
      },
    },
    {
      ...base,
      id: 'retention.terminations',
      title: 'Terminated workspaces purged on time',
      promise: 'Customer data is deleted within the stated period after termination.',
      method:
        'Lists terminated workspaces whose grace period ended more than a day ago and are not purged; a legal hold explains a delay.',
      remedy:
        'Check the daily purge job (`strongroom retention purge`), or release the legal hold once it is no longer needed.',
      async check({ now }): Promise<ControlResult> {
        const s = await deps.show();
        const held = new Set(
          s.holds.filter((h) => h.releasedAt === null && h.scope === 'workspace').map((h) => h.target),
        );
        const overdue = s.terminations.filter(
          (t) => t.state === 'pending' && Date.parse(t.purgeAfter) < now.getTime() - 24 * 3_600_000,
        );
        const late = overdue.filter((t) => !held.has(t.workspace)).map((t) => t.workspace);
        const evidence = {
          pending: s.terminations.filter((t) => t.state === 'pending').length,
          overdue: late,
          heldOverdue: overdue.filter((t) => held.has(t.workspace)).map((t) => t.workspace),
        };
        if (late.length > 0)
          return warn(`${late.length} terminated workspace(s) past their purge date and not purged`, evidence);
        return pass('every terminated workspace past its grace period is purged (or held)', evidence);
      },
    },
  ];
}
