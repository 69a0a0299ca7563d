/**
 * Controls over the audit trail: the chain verified end to end, the freshness of the exported
 * signed checkpoints, and the lag of each SIEM sink.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCheckpointFileName } from '../../core/audit/segment.ts';
import type { VerifyReport } from '../../core/audit/report.ts';
import { exportDir, type SinkLag } from '../audit/index.ts';
import { fail, pass, warn, type Control } from './posture.registry.ts';

export interface AuditControlDeps {
  verify(): Promise<VerifyReport>;
  /** The seq of the newest chained event (0 when none). */
  headSeq(): Promise<number>;
  /** `<STRONGROOM_HOME>/logs`: the export area is `<logDir>/audit/`. */
  logDir: string;
  /** Each configured SIEM sink's position; empty when none is configured. */
  sinkLag(): Promise<SinkLag[]>;
}

const FRAMEWORKS = { soc2: ['CC7.2', 'CC7.3'], iso27001: ['A.8.15', 'A.8.16'], pciDss: ['10.2.1', '10.3.4', '10.5.1'] };
const HOUR_MS = 3600_000;

/** The newest exported checkpoint: its tree size and time, if any. */
async function newestExportedCheckpoint(logDir: string): Promise<{ treeSize: number; time: string } | undefined> {
  const dir = exportDir(logDir);
  const names = await readdir(dir).catch(() => [] as string[]);
  const newest = names
    .map((n) => ({ n, size: parseCheckpointFileName(n) }))
    .filter((x): x is { n: string; size: number } => x.size !== null)
    .sort((a, b) => b.size - a.size)[0];
  if (!newest) return undefined;
  const body = JSON.parse(await readFile(path.join(dir, newest.n), 'utf8')) as { treeSize: number; time: string };
  return { treeSize: body.treeSize, time: body.time };
}

export function auditControls(deps: AuditControlDeps): Control[] {
  return [
    {
      id: 'audit.chain',
      title: 'Audit trail intact',
      promise: 'Audit logs record who did what, when and from where, and cannot be altered unnoticed.',
      method:
        'Recomputes every event hash, checks every signed checkpoint (database and export) and holds the exported lines against the database.',
      remedy:
        'Run `strongroom audit verify` for the full report; restore the altered rows or files from a backup and investigate.',
      scope: 'installation',
      frameworks: FRAMEWORKS,
      async check({ now }) {
        const r = await deps.verify();
        const evidence = {
          verifiedUpToSeq: r.headSeq,
          verifiedAt: now.toISOString(),
          eventsChecked: r.eventsChecked,
          headHash: r.headHash,
          problems: r.problems.length + r.problemsOmitted,
        };
        if (!r.ok) {
          const first = r.problems[0];
          return fail(
            `${evidence.problems} problem(s); first: ${first?.kind ?? '?'} at seq ${first?.seq ?? '?'}`,
            evidence,
          );
        }
        return pass(`chain verified up to seq ${r.headSeq} (${r.eventsChecked} events)`, evidence);
      },
    },
    {
      id: 'audit.checkpoint-export',
      title: 'Signed checkpoints exported',
      promise: 'Audit logs are exported to the logs area, so even a rewrite of the whole database is detected.',
      method:
        'Reads the newest signed checkpoint in the export area and compares it with the chain head and the clock.',
      remedy:
        'Check that the data directory’s logs/audit is writable and the server is unsealed (checkpoints are signed).',
      scope: 'installation',
      frameworks: FRAMEWORKS,
      async check({ now }) {
        const [cp, head] = await Promise.all([newestExportedCheckpoint(deps.logDir), deps.headSeq()]);
        if (!cp)
          return head === 0
            ? pass('no events yet')
            : fail(`no exported checkpoint; the chain is at seq ${head}`, { headSeq: head });
        const ageMs = now.getTime() - new Date(cp.time).getTime();
        const evidence = {
          checkpointSeq: cp.treeSize,
          checkpointTime: cp.time,
          headSeq: head,
          behind: head - cp.treeSize,
        };
        if (head > cp.treeSize && ageMs > 24 * HOUR_MS)
          return fail(
            `the newest exported checkpoint (seq ${cp.treeSize}) is over a day old; the chain is at ${head}`,
            evidence,
          );
        if (head > cp.treeSize && ageMs > HOUR_MS)
          return warn(`the newest exported checkpoint (seq ${cp.treeSize}) is over an hour old`, evidence);
        return pass(`exported checkpoint at seq ${cp.treeSize} (${cp.time}); head ${head}`, evidence);
      },
    },
    {
      id: 'audit.streaming',
      title: 'Audit events streamed to a SIEM',
      promise: 'Audit logs are sent to the customer’s security monitoring to identify security incidents.',
      method: 'Reads each SIEM sink’s delivered position against the chain head, and its last error.',
      remedy:
        'Configure a sink (STRONGROOM_AUDIT_SYSLOG_URL or STRONGROOM_AUDIT_WEBHOOK_URL); if one lags, check the receiver and its certificate — the sink catches up by itself.',
      scope: 'installation',
      frameworks: { ...FRAMEWORKS, soc2: ['CC7.2'] },
      async check({ now }) {
        const sinks = await deps.sinkLag();
        if (sinks.length === 0) return warn('no SIEM sink is configured', { sinks: 0 });
        const evidence: Record<string, string | number | null> = { sinks: sinks.length };
        let worst: 'pass' | 'warn' | 'fail' = 'pass';
        const notes: string[] = [];
        for (const s of sinks) {
          evidence[`${s.sink}.deliveredSeq`] = s.deliveredSeq;
          evidence[`${s.sink}.lagEvents`] = s.lagEvents;
          evidence[`${s.sink}.lastError`] = s.lastError;
          const since = s.oldestUndeliveredAt ? now.getTime() - new Date(s.oldestUndeliveredAt).getTime() : 0;
          evidence[`${s.sink}.lagSeconds`] = Math.round(since / 1000);
          if (s.lagEvents > 0 && since > HOUR_MS) {
            worst = 'fail';
            notes.push(`${s.sink} is ${s.lagEvents} events (${Math.round(since / 60000)} min) behind`);
          } else if (s.lagEvents > 0 && since > 60_000) {
            if (worst === 'pass') worst = 'warn';
            notes.push(`${s.sink} is ${s.lagEvents} events behind`);
          }
        }
        if (worst === 'pass') return pass(`${sinks.length} sink(s) up to date`, evidence);
        return { status: worst, summary: notes.join('; '), evidence };
      },
    },
  ];
}
