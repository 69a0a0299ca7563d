/**
 * Profiles of tabular dataset versions (C10).
 *
 * Stored profiles: a background job computes one profile per tabular version after its upload
 * commits (and again on request) over the UNRESTRICTED relation, as the system, and stores it
 * value-free by construction (`profiling.compute.ts`: no raw string value but top values of
 * non-sensitive columns seen ≥ k times, nothing but counts for sensitive columns, k-suppression).
 * Its state (pending → running → done | failed) and progress are kept with it; its log is a task
 * log (`profile` runs), its completion the task's audit event.
 *
 * Reading obeys the reader's data policies (decision, NOTES.md):
 * - no policy applies to the reader (or they read unmasked): the stored profile is served — it
 *   is exactly their view — with values dropped if they may not preview rows;
 * - a policy applies (masks, hidden columns, row filters): the profile is computed on demand
 *   through the reader's own relation (the query module's `withRelation`) and never stored;
 * - no stored profile yet (pending, running, failed): computed on demand as well, the state says so.
 * Steward decisions (confirmed/rejected tags, remembered across versions) apply at read time: a
 * column confirmed sensitive is scrubbed from the answer and from the stored profiles.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { SYSTEM, type Actor } from '../../core/actor.ts';
import { AppError, isAppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { DatasetsService } from '../datasets/index.ts';
import type { PolicyLookup, QueryService } from '../query/index.ts';
import { PII_TAG, type PiiApplied } from '../policies/index.ts';
import type { TaskLogs } from '../tasks/index.ts';
import {
  computeProfile,
  SENSITIVE_TAG,
  type ColumnDecision,
  type ColumnProfile,
  type Profile,
} from './profiling.compute.ts';
import { drift, type Drift } from './profiling.drift.ts';
import { sanitizePublished, type PublishBody } from './profiling.publish.ts';
import * as store from './profiling.store.ts';

export interface ProfilingDeps {
  db: Kysely<Database>;
  query: Pick<QueryService, 'withRelation'>;
  datasets: Pick<DatasetsService, 'find' | 'findIn' | 'update' | 'versions' | 'ensureMetadataOnly'>;
  /** The data policies as the query module sees them (absent: none). */
  policies?: PolicyLookup;
  /** Task logs for the background job (absent: the job runs without one). */
  tasks?: Pick<TaskLogs, 'start'>;
  /** Statistics over fewer values than this are suppressed. */
  k: number;
  clock?: () => Date;
  /**
   * The workspace default policy for `pii.*` columns (the policies module's `applyPiiDefault`):
   * called with a dataset's pii columns when detection or a steward changes its pii tags.
   */
  piiDefaults?: {
    apply: (
      trx: Transaction<Database>,
      workspaceId: string,
      dataset: string,
      columns: string[],
      actor: string,
    ) => Promise<PiiApplied | undefined>;
  };
  /** Failures of the background loop that are not a job's own (logged by the caller). */
  onError?: (err: unknown) => void;
  /**
   * The lease a job is claimed under: this process's owner string (the upload lease holder's
   * `instance:pid:boot`), its length, and which owners are certainly dead (this data directory's
   * previous process). Default: a random owner, 60 s, none known dead.
   */
  lease?: { owner: string; ms: number; isDead?: (owner: string | null) => boolean };
}

export interface ColumnTag {
  tag: string;
  status: 'suggested' | 'confirmed' | 'rejected';
  source: 'detected' | 'steward';
}

export interface VersionProfile extends Profile {
  dataset: string;
  version: number;
  format: string;
  /** The background job's state for this version. */
  state: store.ProfileState;
  progress: Record<string, unknown>;
  /** `stored`: the stored profile; `reader_view`: computed now through the reader's relation. */
  source: 'stored' | 'reader_view';
  computedAt?: string;
  /** Column → its classification tags (suggested, confirmed, rejected). */
  tags: Record<string, ColumnTag[]>;
  /** Since the newest earlier version with a stored profile (absent: none). */
  drift?: Drift;
}

type StoredProfile = Profile & { format: string };

/** The tag of a dataset that holds published profiles and no content. */
export const METADATA_ONLY = 'metadata-only';

const VALUE_FIELDS = ['min', 'max', 'mean', 'stddev', 'quantiles', 'histogram', 'patterns', 'top'] as const;

/** Drops every value-like statistic of a column. */
function scrub(c: ColumnProfile): void {
  for (const f of VALUE_FIELDS) delete c[f];
}

function decisionsOf(rows: store.TagRow[]): Record<string, ColumnDecision> {
  const out: Record<string, ColumnDecision> = {};
  for (const r of rows) {
    const d = (out[r.column] ??= { confirmed: [], rejected: [] });
    if (r.status === 'confirmed') d.confirmed.push(r.tag);
    if (r.status === 'rejected') d.rejected.push(r.tag);
  }
  return out;
}

/** Applies steward decisions to a profile: rejected findings out, confirmed sensitive tags scrub the column. */
function applyDecisions(p: Profile, decisions: Record<string, ColumnDecision>): boolean {
  let changed = false;
  for (const c of p.columns) {
    const d = decisions[c.name];
    if (!d) continue;
    const kept = c.findings.filter((f) => !d.rejected.includes(f.tag));
    if (kept.length !== c.findings.length) [c.findings, changed] = [kept, true];
    if (!c.sensitive && d.confirmed.some((t) => SENSITIVE_TAG.test(t))) {
      c.sensitive = true;
      scrub(c);
      changed = true;
    }
  }
  return changed;
}

/** Columns with a `pii.*` tag not rejected (of `present`, when given: a policy may not name a missing column). */
function piiColumns(rows: store.TagRow[], present?: Set<string>): string[] {
  const cols = rows.filter((r) => PII_TAG.test(r.tag) && r.status !== 'rejected').map((r) => r.column);
  return [...new Set(cols)].filter((c) => !present || present.has(c)).sort();
}

function tagsByColumn(rows: store.TagRow[]): Record<string, ColumnTag[]> {
  const out: Record<string, ColumnTag[]> = {};
  for (const r of rows) (out[r.column] ??= []).push({ tag: r.tag, status: r.status, source: r.source });
  return out;
}

export function createProfilingService(deps: ProfilingDeps) {
  const clock = deps.clock ?? (() => new Date());
  const lease: store.JobLease = {
    owner: deps.lease?.owner ?? `profiling:${process.pid}:${randomBytes(6).toString('hex')}`,
    ms: deps.lease?.ms ?? 60_000,
  };
  let loop: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;

  /** One job: the unrestricted, value-free profile of one version, stored with its state. */
  async function runJob(workspaceId: string, dataset: string, version: number, taskId: string): Promise<void> {
    const log = await deps.tasks?.start('profile');
    const id = log?.id ?? taskId;
    await log?.write({ event: 'started', workspace: workspaceId, dataset, version });
    const progress = (p: Record<string, string | number | boolean>) => {
      log?.progress(p);
      void store.setProgress(deps.db, workspaceId, dataset, version, p, id, lease.owner).catch(() => undefined);
    };
    // The lease is renewed every third of its length while the job runs; a renewal that finds the
    // job no longer ours (another server took it over after a stall) is logged, and the fenced
    // writes below then change nothing.
    const renewal = setInterval(
      () => {
        store.renewLease(deps.db, workspaceId, dataset, version, lease, clock()).then(
          (ours) => ours || void log?.write({ event: 'lease-lost' }),
          () => undefined,
        );
      },
      Math.max(500, Math.floor(lease.ms / 3)),
    );
    renewal.unref();
    try {
      const decisions = decisionsOf(await store.tags(deps.db, workspaceId, dataset));
      const sha256 =
        (await deps.datasets.versions(workspaceId, dataset)).find((x) => x.version === version)?.sha256 ?? '';
      const p = await deps.query.withRelation(
        SYSTEM,
        workspaceId,
        dataset,
        version,
        { unrestricted: true },
        async (conn, rel, v) => {
          const prof = await computeProfile(conn, rel, {
            k: deps.k,
            includeValues: true,
            decisions,
            onProgress: (x) => progress({ phase: x.phase, step: x.step, of: x.of }),
          });
          return { ...prof, format: v.format } satisfies StoredProfile;
        },
      );
      const found = p.columns.flatMap((c) =>
        c.findings.map((f) => ({ column: c.name, tag: f.tag, confidence: f.confidence })),
      );
      await store.suggest(deps.db, workspaceId, dataset, found, clock());
      await store.finish(
        deps.db,
        workspaceId,
        dataset,
        version,
        { state: 'done', profile: p, sha256 },
        clock(),
        lease.owner,
      );
      await log?.write({
        event: 'finished',
        rows: p.rowCount,
        columns: p.columnCount,
        findings: found.length,
        sensitiveColumns: p.columns.filter((c) => c.sensitive).length,
      });
      await applyPiiDefaultAfterJob(workspaceId, dataset, version, p, log);
      log?.progress({ phase: 'done', step: 2, of: 2 });
      await log?.finish('succeeded');
    } catch (err) {
      const code = isAppError(err) ? err.code : 'INTERNAL';
      if (code === 'RATE_LIMITED') {
        // Every query slot is busy: back to pending, tried again shortly.
        await store.backToPending(deps.db, workspaceId, dataset, version, lease.owner).catch(() => undefined);
        await log?.write({ event: 'deferred', reason: code });
        await log?.finish('failed');
        throw err;
      }
      await store.finish(
        deps.db,
        workspaceId,
        dataset,
        version,
        { state: 'failed', error: code },
        clock(),
        lease.owner,
      );
      await log?.write({ event: 'failed', error: code });
      await log?.finish('failed');
    } finally {
      clearInterval(renewal);
    }
  }

  /**
   * After the newest version's job: the workspace's default pii policy covers the dataset's pii
   * columns present in that version. Its failure is logged and does not fail the profile.
   */
  async function applyPiiDefaultAfterJob(
    workspaceId: string,
    dataset: string,
    version: number,
    p: Profile,
    log: { write: (e: Record<string, unknown>) => Promise<void> } | undefined,
  ) {
    const pii = deps.piiDefaults;
    if (!pii) return;
    const newest = Math.max(0, ...(await deps.datasets.versions(workspaceId, dataset)).map((x) => x.version));
    if (version !== newest) return;
    try {
      const present = new Set(p.columns.map((c) => c.name));
      const columns = piiColumns(await store.tags(deps.db, workspaceId, dataset), present);
      const applied = await deps.db
        .transaction()
        .execute((trx) => pii.apply(trx, workspaceId, dataset, columns, 'system:pii-default'));
      if (applied?.changed)
        await log?.write({
          event: 'pii-default-policy',
          policy: applied.policy,
          version: applied.version,
          columns: applied.columns.length,
          skipped: applied.skipped.length,
        });
    } catch (err) {
      await log?.write({ event: 'pii-default-policy-failed', error: isAppError(err) ? err.code : 'INTERNAL' });
    }
  }

  /** Runs pending jobs one at a time until none is left. */
  function kick(): void {
    if (stopped) return;
    if (loop) {
      again = true;
      return;
    }
    loop = (async () => {
      do {
        again = false;
        for (;;) {
          if (stopped) return;
          const next = await store.claimNext(deps.db, lease, () => `profile-pending`, clock());
          if (next === undefined) break;
          try {
            await runJob(next.ws, next.dataset, next.version, 'profile');
          } catch {
            clearTimeout(retry);
            retry = setTimeout(kick, 2000).unref();
            return;
          }
        }
      } while (again);
    })()
      .catch((err: unknown) => deps.onError?.(err))
      .finally(() => {
        loop = undefined;
      });
  }

  async function request(workspaceId: string, dataset: string, version: number, force: boolean, exec = deps.db) {
    return store.request(exec, workspaceId, dataset, version, force, clock());
  }

  return {
    kick,
    /** After an upload commits: a tabular version gets its profile job. */
    versionCommitted(workspaceId: string, dataset: string, v: { version: number; tabularFormat: string | null }): void {
      if (v.tabularFormat !== 'csv' && v.tabularFormat !== 'jsonl' && v.tabularFormat !== 'parquet') return;
      void request(workspaceId, dataset, v.version, false).then(kick, (err: unknown) => deps.onError?.(err));
    },
    /**
     * In the transaction that deletes versions (or the whole dataset): their stored profiles go
     * with them; a whole dataset also loses its published profiles and column tags (a new
     * dataset of the same name starts with no steward decisions).
     */
    async versionsDeleting(
      trx: Transaction<Database>,
      d: { workspaceId: string; dataset: string; versions: number[]; whole: boolean },
    ): Promise<void> {
      if (d.whole) await store.forgetDataset(trx, d.workspaceId, d.dataset);
      else await store.forgetVersions(trx, d.workspaceId, d.dataset, d.versions);
    },
    /**
     * At start: jobs this data directory's stopped process left running are pending again, and
     * the queue runs. Jobs of other live servers are theirs; those of a server that died
     * elsewhere are claimed once their lease ends (`kick` every half lease, see server/jobs.ts).
     */
    async resume(): Promise<void> {
      await store.requeueRunning(deps.db, clock(), deps.lease?.isDead ?? (() => false));
      kick();
    },
    /** The lease length (ms) jobs are claimed under. */
    leaseMs: lease.ms,
    /** Waits for the queue to drain (tests, shutdown). */
    async idle(): Promise<void> {
      while (loop) await loop;
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(retry);
      while (loop) await loop;
    },

    /** NOT_FOUND / NOT_TABULAR unless `dataset@v{version}` is a committed tabular version. */
    async mustBeTabular(workspaceId: string, dataset: string, version: number): Promise<void> {
      const versions = await deps.datasets.versions(workspaceId, dataset);
      const v = versions.find((x) => x.version === version);
      if (!v) throw new AppError('NOT_FOUND', { detail: 'No such version of this dataset.' });
      if (v.tabularFormat !== 'csv' && v.tabularFormat !== 'jsonl' && v.tabularFormat !== 'parquet')
        throw new AppError('NOT_TABULAR', {
          detail: `${dataset} version ${version} is not tabular (CSV, Parquet or JSON lines): it has no profile.`,
        });
    },

    /** Asks for a recomputation (in the caller's transaction); call `kick` after it commits. */
    async recompute(trx: Transaction<Database>, workspaceId: string, dataset: string, version: number) {
      const queued = await request(workspaceId, dataset, version, true, trx);
      const row = await store.getProfile(trx, workspaceId, dataset, version);
      return { dataset, version, state: row?.state ?? 'pending', queued };
    },

    /**
     * The profile of `name@v{version}` as `actor` sees it (see the file comment). `includeValues`:
     * whether the caller may read rows; without it no value-like statistic is returned.
     */
    async profile(
      actor: Actor,
      ws: string,
      name: string,
      version: number,
      opts: { includeValues: boolean; signal?: AbortSignal },
    ): Promise<VersionProfile> {
      const ds = await deps.datasets.find(ws, name);
      const plan = ds
        ? ((await deps.policies?.planFor(actor, { workspaceId: ws, dataset: name, tags: ds.tags }, 'sr_0_')) ?? null)
        : null;
      const policyFree = !plan || (plan.exclude.length === 0 && plan.replace.length === 0 && plan.where.length === 0);
      let row = await store.getProfile(deps.db, ws, name, version);
      const versions = ds ? await deps.datasets.versions(ws, name) : [];
      const current = versions.find((x) => x.version === version);
      if (row && row.state === 'done' && current && row.sha256 !== current.sha256) {
        // The version number was reused after a deletion: the stored profile is of other content.
        if (await request(ws, name, version, true).catch(() => false)) kick();
        row = await store.getProfile(deps.db, ws, name, version);
      }
      const tagRows = await store.tags(deps.db, ws, name);
      const decisions = decisionsOf(tagRows);
      let out: VersionProfile;
      if (row?.state === 'done' && policyFree && row.profile && current) {
        const p = structuredClone(row.profile) as StoredProfile;
        applyDecisions(p, decisions);
        if (!opts.includeValues) for (const c of p.columns) scrub(c);
        p.valuesShown = opts.includeValues;
        out = {
          dataset: name,
          version,
          ...p,
          state: row.state,
          progress: row.progress,
          source: 'stored',
          computedAt: row.updatedAt,
          tags: {},
        };
      } else {
        const p = await deps.query.withRelation(
          actor,
          ws,
          name,
          version,
          { signal: opts.signal },
          async (conn, rel, v) => {
            const prof = await computeProfile(conn, rel, {
              k: deps.k,
              includeValues: opts.includeValues,
              decisions,
              masked: Object.keys(v.why?.masked ?? {}),
            });
            return { ...prof, format: v.format, version: v.version };
          },
        );
        if (!row) {
          // A version from before stored profiles (or whose job was lost): queue it now.
          if (await request(ws, name, p.version, false).catch(() => false)) kick();
          row = await store.getProfile(deps.db, ws, name, p.version);
        }
        out = {
          dataset: name,
          ...p,
          state: row?.state ?? 'pending',
          progress: row?.progress ?? {},
          source: 'reader_view',
          tags: {},
        };
      }
      const hidden = Object.keys(plan?.why.hidden ?? {}).map((h) => h.toLowerCase());
      const visible = new Set(out.columns.map((c) => c.name));
      const tags = tagsByColumn(tagRows);
      for (const [col, t] of Object.entries(tags))
        if (visible.has(col) && !hidden.includes(col.toLowerCase())) out.tags[col] = t;
      const prev = await store.previousDone(deps.db, ws, name, out.version);
      const prevLive = prev && versions.some((x) => x.version === prev.version);
      if (prev?.profile && prevLive)
        out.drift = drift(
          { version: prev.version, profile: prev.profile as Profile },
          { version: out.version, profile: out },
          {
            hidden: [...hidden, ...(plan?.exclude ?? [])],
            masked: Object.keys(plan?.why.masked ?? {}),
            statistics: policyFree || (plan?.where.length ?? 0) === 0,
          },
        );
      return out;
    },

    /**
     * A profile computed elsewhere (the CLI's metadata-only mode), published without content as
     * the next version of a metadata-only dataset (created, tagged `metadata-only`, if new). A
     * dataset with content is refused: its profiles come from its versions.
     */
    async publish(trx: Transaction<Database>, actor: Actor, workspaceId: string, dataset: string, body: PublishBody) {
      const existing = await deps.datasets.findIn(trx, workspaceId, dataset);
      if (existing && !existing.metadata_only)
        throw new AppError('CONFLICT', {
          detail: `${dataset} holds content; publish a metadata-only profile under another name.`,
        });
      const created = await deps.datasets.ensureMetadataOnly(trx, workspaceId, dataset, actor.id, [METADATA_ONLY]);
      const profile = { ...sanitizePublished(body.profile, deps.k), format: body.source.format };
      const version = await store.publish(trx, workspaceId, dataset, profile, actor.id, clock());
      return { dataset, version, created, profile };
    },

    /** Every published profile of a metadata-only dataset, oldest first. */
    async published(workspaceId: string, dataset: string, opts: { includeValues: boolean }) {
      const rows = await store.published(deps.db, workspaceId, dataset);
      if (!opts.includeValues) for (const r of rows) for (const c of (r.profile as Profile).columns) scrub(c);
      return rows;
    },

    /** One column's tags as `actor` may see them: a column a data policy hides from them has none to show. */
    async columnTags(actor: Actor, ws: string, dataset: string, column: string): Promise<ColumnTag[]> {
      const ds = await deps.datasets.find(ws, dataset);
      const plan = ds
        ? await deps.policies?.planFor(actor, { workspaceId: ws, dataset, tags: ds.tags }, 'sr_0_')
        : undefined;
      if (plan && Object.keys(plan.why.hidden).some((h) => h.toLowerCase() === column.toLowerCase()))
        throw new AppError('NOT_FOUND', { detail: 'No such column.' });
      return (await store.tags(deps.db, ws, dataset, column)).map((r) => ({
        tag: r.tag,
        status: r.status,
        source: r.source,
      }));
    },

    /** The classification tags of one column (or every column) of a dataset. */
    async tags(
      workspaceId: string,
      dataset: string,
      column?: string,
    ): Promise<ColumnTag[] | Record<string, ColumnTag[]>> {
      const rows = await store.tags(deps.db, workspaceId, dataset, column);
      return column === undefined
        ? tagsByColumn(rows)
        : rows.map((r) => ({ tag: r.tag, status: r.status, source: r.source }));
    },

    /**
     * A steward's decision on one column (in the route's transaction): `confirmed` tags are
     * confirmed (added if new), `rejected` ones rejected; an earlier decision not repeated reverts
     * (a detected tag to suggested, a steward's own tag is removed). A confirmed tag also tags the
     * dataset (so tag policies apply); a confirmed sensitive tag scrubs the column's values from
     * every stored profile of the dataset. Returns the column's tags before and after.
     */
    async setColumnTags(
      trx: Transaction<Database>,
      actor: Actor,
      workspaceId: string,
      dataset: string,
      column: string,
      body: { confirmed: string[]; rejected: string[] },
    ) {
      const both = body.confirmed.filter((t) => body.rejected.includes(t));
      if (both.length > 0)
        throw new AppError('VALIDATION_FAILED', {
          detail: `A tag cannot be both confirmed and rejected: ${both.join(', ')}.`,
        });
      const before = await store.tags(trx, workspaceId, dataset, column);
      const now = clock();
      for (const r of before) {
        if (body.confirmed.includes(r.tag) || body.rejected.includes(r.tag) || r.status === 'suggested') continue;
        if (r.source === 'detected')
          await store.upsertTag(trx, workspaceId, dataset, column, r.tag, {
            status: 'suggested',
            source: 'detected',
            by: actor.id,
            now,
          });
        else await store.deleteTag(trx, workspaceId, dataset, column, r.tag);
      }
      for (const [status, list] of [
        ['confirmed', body.confirmed],
        ['rejected', body.rejected],
      ] as const)
        for (const tag of list) {
          const source = before.find((r) => r.tag === tag)?.source ?? 'steward';
          await store.upsertTag(trx, workspaceId, dataset, column, tag, { status, source, by: actor.id, now });
        }
      const after = await store.tags(trx, workspaceId, dataset, column);
      // Confirmed tags tag the dataset too: tag policies (issue 17) target datasets by tag.
      const ds = await deps.datasets.findIn(trx, workspaceId, dataset);
      const addedToDataset = ds ? body.confirmed.filter((t) => !ds.tags.includes(t)) : [];
      if (ds && addedToDataset.length > 0)
        await deps.datasets.update(trx, workspaceId, dataset, { tags: [...ds.tags, ...addedToDataset].sort() });
      if (body.confirmed.some((t) => SENSITIVE_TAG.test(t))) {
        const decisions = { [column]: { confirmed: body.confirmed, rejected: body.rejected } };
        for (const s of await store.doneProfiles(trx, workspaceId, dataset)) {
          const p = s.profile as StoredProfile;
          if (p && applyDecisions(p, decisions)) await store.replaceProfile(trx, workspaceId, dataset, s.version, p);
        }
      }
      const view = (rows: store.TagRow[]) => rows.map((r) => ({ tag: r.tag, status: r.status, source: r.source }));
      const key = (rows: store.TagRow[]) =>
        rows
          .filter((r) => PII_TAG.test(r.tag))
          .map((r) => `${r.tag}:${r.status === 'rejected'}`)
          .join(',');
      let piiDefaultPolicy: PiiApplied | undefined;
      if (deps.piiDefaults && key(before) !== key(after)) {
        // The dataset's pii columns changed: its default pii policy follows (columns of the newest
        // stored profile only, when there is one: a policy may not name a column a version lacks).
        const newest = await store.previousDone(trx, workspaceId, dataset, 2 ** 31 - 1);
        const present = newest?.profile ? new Set((newest.profile as Profile).columns.map((c) => c.name)) : undefined;
        const columns = piiColumns(await store.tags(trx, workspaceId, dataset), present);
        piiDefaultPolicy = await deps.piiDefaults.apply(trx, workspaceId, dataset, columns, actor.id);
      }
      return { column, before: view(before), tags: view(after), addedToDataset, piiDefaultPolicy };
    },
  };
}

export type ProfilingService = ReturnType<typeof createProfilingService>;
