/**
 * `verify()`: the database trail held against its signed checkpoints and the export area.
 * Reads only public keys, so it runs offline without the root key. Events are streamed in seq
 * order a page at a time (the next page is read while the current one is checked) and exported
 * lines a chunk at a time; memory does not grow with the trail.
 */
import { verifyTrail, type VerifyProblem, type VerifyReport } from '../../core/audit/verify.ts';
import { loadPublicKeys } from './audit.keys.ts';
import { readExport } from './audit.export.ts';
import { eventPages, listCheckpoints, type Executor } from './audit.store.ts';
import { prunedStart } from './audit.retention.ts';

/** Verifies the whole trail; never throws for tampered data (it is in the report). */
export async function verifyAuditTrail(db: Executor, logDir: string, pageSize = 5000): Promise<VerifyReport> {
  const [publicKeys, checkpoints, exported, prunedBefore] = await Promise.all([
    loadPublicKeys(db),
    listCheckpoints(db),
    readExport(logDir),
    prunedStart(db),
  ]);
  const report = await verifyTrail({
    events: eventPages(db, 1, Number.MAX_SAFE_INTEGER, pageSize),
    checkpoints,
    exported: { checkpoints: exported.checkpoints, segments: exported.segments },
    publicKeys,
    ...(prunedBefore === undefined ? {} : { prunedBefore }),
  });
  return withProblems(report, exported.problems);
}

function withProblems(report: VerifyReport, extra: readonly VerifyProblem[]): VerifyReport {
  if (extra.length === 0) return report;
  const problems = [...report.problems, ...extra].sort((a, b) => (a.seq ?? -1) - (b.seq ?? -1));
  return { ...report, ok: false, problems };
}

/** One line per problem: what and where, e.g. `edited at seq 12: event 12 was changed …`. */
export function formatProblem(p: VerifyProblem): string {
  return p.seq === undefined ? `${p.kind}: ${p.detail}` : `${p.kind} at seq ${p.seq}: ${p.detail}`;
}
