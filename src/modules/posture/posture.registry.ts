/**
 * The registry of security controls. Each module contributes its controls (`register(source,
 * controls)`); the posture service runs them all and stores what they found.
 *
 * A control is a promise made to the customer ("TLS 1.2 or better", "keys rotated regularly"),
 * a check that tests it against the live installation, and the evidence the check found. The
 * contract every control keeps:
 * - `check` never changes anything and never throws for a finding: a broken installation is a
 *   `fail` with evidence, not an exception (an exception is reported as `fail`, code only).
 * - Evidence is numbers, dates, ids, names of settings — never a secret, key, token or dataset
 *   value. It is signed into evidence packs and shown to auditors.
 * - A control with `scope: 'workspace'` looks only at the workspace it is given (or, given none,
 *   at the whole installation for the operator). Installation controls never name a workspace in
 *   their evidence, so a workspace's Security page shows nothing of another tenant.
 *
 * Adding controls from a new module (backups, SSO): export a `xControls(deps): Control[]` from the
 * module's index.ts and `posture.register('x', xControls(...))` in src/server/modules.ts.
 */
import { AppError } from '../../core/errors.ts';

export type ControlStatus = 'pass' | 'warn' | 'fail';

/** Evidence values: flat and printable, so packs and the HTML report show them as they are. */
export type EvidenceValue = string | number | boolean | null | readonly (string | number)[];
export type Evidence = Record<string, EvidenceValue>;

/** What the common frameworks call the requirement a control evidences (a mapping, not a claim). */
export interface FrameworkRefs {
  soc2?: readonly string[];
  iso27001?: readonly string[];
  pciDss?: readonly string[];
  gdpr?: readonly string[];
}

export interface ControlResult {
  status: ControlStatus;
  /** One line a person reads first: what was found. */
  summary: string;
  evidence: Evidence;
}

export interface CheckContext {
  /** The clock of this run (tests inject it: a stale backup, an old key term). */
  now: Date;
  /** The workspace being looked at; undefined: the installation (operator). */
  workspace?: string;
}

export interface Control {
  /** Stable id, dotted: `<area>.<what>` (`tls.protocols`, `keys.term-age`). */
  id: string;
  title: string;
  /** The promise, in the words a customer was given where there are such words. */
  promise: string;
  /** How it is checked, in one sentence. */
  method: string;
  /** What to do when it does not pass. */
  remedy: string;
  scope: 'installation' | 'workspace';
  frameworks: FrameworkRefs;
  check(ctx: CheckContext): Promise<ControlResult>;
}

/** A control as listed (without its check function): what the API and packs describe. */
export type ControlInfo = Omit<Control, 'check'> & { source: string };

const ID = /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/;

export function createPostureRegistry() {
  const controls = new Map<string, Control & { source: string }>();
  return {
    /** Adds a module's controls. Ids must be new and well-formed (a typo is caught at start). */
    register(source: string, list: readonly Control[]): void {
      for (const c of list) {
        if (!ID.test(c.id)) throw new AppError('INTERNAL', { detail: `control id ${c.id} is not dotted lower-case` });
        if (controls.has(c.id)) throw new AppError('INTERNAL', { detail: `control ${c.id} is registered twice` });
        controls.set(c.id, { ...c, source });
      }
    },
    list(): (Control & { source: string })[] {
      return [...controls.values()].sort((a, b) => a.id.localeCompare(b.id));
    },
    get(id: string): (Control & { source: string }) | undefined {
      return controls.get(id);
    },
  };
}

export type PostureRegistry = ReturnType<typeof createPostureRegistry>;

/** The description of a control, without its function. */
export function describeControl(c: Control & { source: string }): ControlInfo {
  const { check: _check, ...info } = c;
  return info;
}

/** Helpers controls use to build results. */
export const pass = (summary: string, evidence: Evidence = {}): ControlResult => ({
  status: 'pass',
  summary,
  evidence,
});
export const warn = (summary: string, evidence: Evidence = {}): ControlResult => ({
  status: 'warn',
  summary,
  evidence,
});
export const fail = (summary: string, evidence: Evidence = {}): ControlResult => ({
  status: 'fail',
  summary,
  evidence,
});

export const DAY_MS = 24 * 3600 * 1000;

/** Whole days from `then` to `now` (rounded down). */
export function daysBetween(then: Date, now: Date): number {
  return Math.floor((now.getTime() - then.getTime()) / DAY_MS);
}
