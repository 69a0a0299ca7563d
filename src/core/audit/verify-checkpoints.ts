/**
 * The checkpoint half of trail verification: which checkpoints are trustworthy evidence, and
 * what they say the chain must contain. Only checkpoints whose signature verifies under a known
 * key are used as evidence; the others are reported and ignored, so a forged checkpoint can
 * neither accuse nor excuse the database.
 */
import type { KeyObject } from 'node:crypto';
import { checkpointHash, signedCheckpointSchema, verifyCheckpoint, type SignedCheckpoint } from './checkpoint.ts';
import type { VerifyProblem } from './report.ts';

/** Where a checkpoint came from; named in messages. */
export type CheckpointSource = 'database' | 'export' | 'retention';

const SOURCE_NAME: Record<CheckpointSource, string> = {
  database: 'database checkpoint',
  export: 'exported checkpoint',
  retention: 'retention checkpoint',
};

/** A checkpoint whose signature verified. */
export interface TrustedCheckpoint {
  cp: SignedCheckpoint;
  source: CheckpointSource;
}

/** What the trusted checkpoints require of the chain. */
export interface Expectation {
  headHash: string;
  label: string;
}

/** Checks signatures; returns only the checkpoints that verified, reporting the rest. */
export function vetCheckpoints(
  list: readonly unknown[],
  source: CheckpointSource,
  publicKeys: ReadonlyMap<string, KeyObject>,
  report: (p: VerifyProblem) => void,
): TrustedCheckpoint[] {
  const trusted: TrustedCheckpoint[] = [];
  list.forEach((raw, i) => {
    const parsed = signedCheckpointSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const why = `${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim();
      report({ kind: 'malformed', detail: `${SOURCE_NAME[source]} #${i + 1} is malformed (${why}); it was not used` });
      return;
    }
    const cp = parsed.data;
    const where = `${SOURCE_NAME[source]} at ${cp.treeSize}`;
    const key = publicKeys.get(cp.keyId);
    if (key === undefined) {
      report({
        kind: 'unknown-key',
        seq: cp.treeSize,
        detail: `${where} is signed with key "${cp.keyId}", which is not a known audit key; it was not used`,
      });
    } else if (!verifyCheckpoint(cp, key)) {
      report({
        kind: 'bad-signature',
        seq: cp.treeSize,
        detail: `${where} has a signature that does not verify under key "${cp.keyId}" (forged or altered); it was not used`,
      });
    } else {
      trusted.push({ cp, source });
    }
  });
  return trusted;
}

/**
 * Each consecutive pair (by treeSize) of one source must link: the later one's
 * `prevCheckpointHash` is the hash of the earlier one. A mismatch means a checkpoint between
 * them was deleted or replaced.
 */
export function checkLinks(trusted: readonly TrustedCheckpoint[], report: (p: VerifyProblem) => void): void {
  const sorted = [...trusted].sort((a, b) => a.cp.treeSize - b.cp.treeSize);
  for (let i = 1; i < sorted.length; i++) {
    const prev = (sorted[i - 1] as TrustedCheckpoint).cp;
    const { cp, source } = sorted[i] as TrustedCheckpoint;
    if (cp.prevCheckpointHash === undefined || cp.prevCheckpointHash === checkpointHash(prev)) continue;
    report({
      kind: 'checkpoint-link',
      seq: cp.treeSize,
      detail: `${SOURCE_NAME[source]} at ${cp.treeSize} does not follow the one at ${prev.treeSize}: a checkpoint between them is missing or was replaced`,
    });
  }
}

/**
 * treeSize → required head hash. Two trusted checkpoints for the same treeSize that disagree
 * are a `fork`: the signer attested two different histories.
 */
export function expectations(
  trusted: readonly TrustedCheckpoint[],
  report: (p: VerifyProblem) => void,
): Map<number, Expectation> {
  const out = new Map<number, Expectation>();
  for (const { cp, source } of trusted) {
    const label = `${SOURCE_NAME[source]} at ${cp.treeSize}`;
    const seen = out.get(cp.treeSize);
    if (seen === undefined) {
      out.set(cp.treeSize, { headHash: cp.headHash, label });
    } else if (seen.headHash !== cp.headHash) {
      report({
        kind: 'fork',
        seq: cp.treeSize,
        detail: `${seen.label} and ${label} are both validly signed but name different head hashes: two histories exist`,
      });
    }
  }
  return out;
}

/** The highest treeSize among `trusted` from `source`, if any. */
export function highest(trusted: readonly TrustedCheckpoint[], source: CheckpointSource): SignedCheckpoint | undefined {
  let best: SignedCheckpoint | undefined;
  for (const t of trusted)
    if (t.source === source && (best === undefined || t.cp.treeSize > best.treeSize)) best = t.cp;
  return best;
}
