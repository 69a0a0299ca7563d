/**
 * Runs the registered controls and keeps their results with history.
 *
 * Guarantees:
 * - A run checks every control of its scope (the installation's run: installation and workspace
 *   controls over the whole installation; a workspace's run: installation controls and that
 *   workspace's controls). A control that throws or hangs is a `fail` with the error's code only
 *   (never its message: it might name something secret).
 * - A control that changes to `fail` (or back) is an audit event (`posture.control.failed` /
 *   `posture.control.recovered`), committed BEFORE the run's results are stored: if the event
 *   cannot be recorded, the run fails and stores nothing, so the next run reports the change again.
 * - Listeners (`onResult`: the metrics) see every result after it is stored.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { AuditEventInput } from '../audit/index.ts';
import { AppError } from '../../core/errors.ts';
import {
  describeControl,
  type ControlInfo,
  type ControlResult,
  type ControlStatus,
  type PostureRegistry,
} from './posture.registry.ts';
import * as store from './posture.store.ts';

export interface PostureDeps {
  db: Kysely<Database>;
  registry: PostureRegistry;
  /** Records an event on its own and resolves once committed (the audit module's `recordCommitted`). */
  recordEvent(input: AuditEventInput): Promise<void>;
  clock?: () => Date;
  /** Longest a single check may take (default 30 s). */
  checkTimeoutMs?: number;
}

export interface ControlReport extends ControlInfo, ControlResult {
  checkedAt: string;
}

export interface PostureReport {
  runId: string;
  /** '' = the installation; otherwise the workspace id. */
  scope: string;
  checkedAt: string;
  counts: Record<ControlStatus, number>;
  controls: ControlReport[];
}

type Listener = (scope: string, controlId: string, status: ControlStatus) => void;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(
        () => reject(new AppError('REQUEST_TIMEOUT', { detail: 'the check did not finish in time' })),
        ms,
      );
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Evidence as stored and signed: JSON values only (a stray `undefined` would not survive signing). */
const jsonSafe = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export function createPostureService(deps: PostureDeps) {
  const clock = deps.clock ?? (() => new Date());
  const listeners: Listener[] = [];
  const running = new Map<string, Promise<PostureReport>>();

  const controlsFor = (scope: string) =>
    deps.registry.list().filter((c) => c.scope === 'workspace' || scope === '' || c.scope === 'installation');

  function report(scope: string, runId: string, checkedAt: string, results: store.StoredResult[]): PostureReport {
    const byId = new Map(results.map((r) => [r.controlId, r]));
    const controls: ControlReport[] = [];
    for (const c of controlsFor(scope)) {
      const r = byId.get(c.id);
      if (r)
        controls.push({
          ...describeControl(c),
          status: r.status,
          summary: r.summary,
          evidence: r.evidence,
          checkedAt: r.checkedAt,
        });
    }
    const counts = { pass: 0, warn: 0, fail: 0 };
    for (const c of controls) counts[c.status]++;
    return { runId, scope, checkedAt, counts, controls };
  }

  async function runOnce(scope: string, now: Date): Promise<PostureReport> {
    const runId = randomUUID();
    const checkedAt = now.toISOString();
    const ctx = { now, ...(scope ? { workspace: scope } : {}) };
    const results: store.StoredResult[] = [];
    for (const c of controlsFor(scope)) {
      let r: ControlResult;
      try {
        r = await withTimeout(c.check(ctx), deps.checkTimeoutMs ?? 30_000);
      } catch (err) {
        const code = err instanceof AppError ? err.code : ((err as NodeJS.ErrnoException)?.code ?? 'INTERNAL');
        r = { status: 'fail', summary: `the check could not run (${code})`, evidence: { error: String(code) } };
      }
      results.push({
        runId,
        scope,
        controlId: c.id,
        status: r.status,
        summary: r.summary,
        evidence: jsonSafe(r.evidence),
        checkedAt,
      });
    }
    const previous = new Map((await store.latestResults(deps.db, scope)).map((p) => [p.controlId, p.status]));
    for (const r of results) {
      const before = previous.get(r.controlId);
      const failed = r.status === 'fail' && before !== 'fail';
      const recovered = r.status !== 'fail' && before === 'fail';
      if (!failed && !recovered) continue;
      await deps.recordEvent({
        actor: { id: 'system', kind: 'system', authMethod: 'posture-check' },
        action: failed ? 'posture.control.failed' : 'posture.control.recovered',
        outcome: failed ? 'failure' : 'success',
        resource: { type: 'posture-control', id: r.controlId, ...(scope ? { workspace: scope } : {}) },
        details: { runId, from: before ?? 'none', to: r.status, summary: r.summary.slice(0, 500) },
      });
    }
    await store.insertResults(deps.db, results);
    for (const r of results) for (const l of listeners) l(scope, r.controlId, r.status);
    return report(scope, runId, checkedAt, results);
  }

  return {
    registry: deps.registry,

    /** Runs every control of `scope` ('' = installation) now; concurrent calls share one run. */
    run(scope = '', now: Date = clock()): Promise<PostureReport> {
      const current = running.get(scope);
      if (current) return current;
      const p = runOnce(scope, now).finally(() => running.delete(scope));
      running.set(scope, p);
      return p;
    },

    /** The newest stored result of each control; runs first if there is none yet. */
    async latest(scope = ''): Promise<PostureReport> {
      const rows = await store.latestResults(deps.db, scope);
      if (rows.length === 0) return this.run(scope);
      const newest = rows.reduce((a, b) => (a.checkedAt > b.checkedAt ? a : b));
      return report(scope, newest.runId, newest.checkedAt, rows);
    },

    history(scope: string, controlId: string | undefined, limit: number): Promise<store.StoredResult[]> {
      return store.history(deps.db, scope, controlId, Math.max(1, Math.min(limit, 1000)));
    },

    /** Called with every stored result (metrics). */
    onResult(l: Listener): void {
      listeners.push(l);
    },
  };
}

export type PostureService = ReturnType<typeof createPostureService>;
