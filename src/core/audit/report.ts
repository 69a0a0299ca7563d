/**
 * What `verifyTrail` reports. Each kind names one way the evidence disagrees; docs/format-audit.md
 * explains each for operators.
 */
import type { ChainProblemKind } from './chain.ts';

export type VerifyProblemKind =
  | ChainProblemKind
  | 'truncated'
  | 'rolled-back'
  | 'fork'
  | 'bad-signature'
  | 'unknown-key'
  | 'checkpoint-link'
  | 'export-mismatch';

/** One problem: its kind, the seq it concerns (when there is one) and a plain sentence. */
export interface VerifyProblem {
  kind: VerifyProblemKind;
  seq?: number;
  detail: string;
}

export interface VerifyReport {
  /** True only when no problem of any kind was found. */
  ok: boolean;
  /** Database events whose hash was recomputed. */
  eventsChecked: number;
  /** The last database event in the verified order (the start if there is none). */
  headSeq: number;
  headHash: string;
  /** Problems ordered by seq (problems without a seq first). */
  problems: VerifyProblem[];
  /** Problems found beyond `maxProblems` and left out of `problems`. */
  problemsOmitted: number;
}

/** Collects problems up to a cap, counting the rest, so a rewritten trail cannot exhaust memory. */
export class ProblemList {
  readonly items: VerifyProblem[] = [];
  omitted = 0;
  constructor(private readonly max: number) {}

  readonly add = (p: VerifyProblem): void => {
    if (this.items.length < this.max) this.items.push(p);
    else this.omitted++;
  };

  get total(): number {
    return this.items.length + this.omitted;
  }

  /** The problems sorted by seq; equal seqs keep the order they were found in. */
  sorted(): VerifyProblem[] {
    return this.items
      .map((p, i) => [p, i] as const)
      .sort(([a, i], [b, j]) => (a.seq ?? -1) - (b.seq ?? -1) || i - j)
      .map(([p]) => p);
  }
}
