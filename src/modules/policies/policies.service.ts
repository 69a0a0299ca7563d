/**
 * Data policies as use cases: list, show, history, save (create or replace), delete — and the
 * seam's side, `planFor`, which the query module calls for every dataset a read touches.
 *
 * A save validates the document (schema, row filter parsed and walked, conflicts with every other
 * policy in force), then writes the new version and its history row in the caller's transaction
 * (the pipeline's `commit`, which records the audit event with the before/after in it). Until
 * that commit the previous version stays in force; readers load policies per read, so the new
 * version applies from the next read after the commit.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Actor } from '../../core/actor.ts';
import type { Barrier } from '../../core/crypto/barrier.ts';
import { AppError } from '../../core/errors.ts';
import type { ResourceRef } from '../../core/resource.ts';
import type { Database } from '../../db/schema.ts';
import { ownTransaction, type Transact } from '../../db/transact.ts';
import type { PolicyLookup, RelationPlan } from '../query/index.ts';
import { appliesTo, compilePlan, targets, type ApplicablePolicy, type HashKey } from './policies.compile.ts';
import { findConflict } from './policies.conflicts.ts';
import { accessDiff, type ReaderDiff } from './policies.diff.ts';
import type { PolicyBody, PolicyOut } from '../../contracts/policies.ts';
import { parseFilter, type Filter } from './policies.filter.ts';
import {
  deleteCurrent,
  insertKey,
  lastVersion,
  lockWorkspace,
  readKey,
  selectCurrent,
  selectHistory,
  writeVersion,
} from './policies.store.ts';

export const MAX_POLICIES_PER_WORKSPACE = 500;
const SECOND_FACTOR = /(^|[+:])(totp|webauthn|mfa|recovery-code)\b/;

export interface PoliciesDeps {
  db: Kysely<Database>;
  barrier: Barrier;
  /** The Cedar decision (for `dataset.read.unmasked`). */
  authorize: (actor: Actor, action: string, resource: ResourceRef) => boolean;
  /** DuckDB's parser (json_serialize_sql), for row filters. */
  serialize: (sql: string) => Promise<string>;
  /** A dataset's tags now, read in `trx` (conflicts between a dataset policy and a tag policy). */
  tagsOf: (trx: Transaction<Database>, ws: string, dataset: string) => Promise<readonly string[]>;
}

export const mfaOf = (a: Actor): boolean => a.attributes.mfa === true || SECOND_FACTOR.test(a.authMethod ?? '');
/** JSON with object keys sorted (jsonb does not keep key order). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}
const keyCtx = (ws: string) => ({ table: 'data_policy_keys', column: 'sealed', rowId: ws });

export function createPoliciesService(deps: PoliciesDeps) {
  const { db } = deps;
  const filters = new Map<string, Filter>();

  async function filterOf(text: string): Promise<Filter> {
    const hit = filters.get(text);
    if (hit) return hit;
    const f = await parseFilter(text, deps.serialize);
    if (filters.size > 1000) filters.clear();
    filters.set(text, f);
    return f;
  }

  /** The workspace's HMAC key as padded inner/outer keys; created (sealed) on first use. */
  async function hashKey(ws: string): Promise<HashKey> {
    let sealed = await readKey(db, ws);
    if (!sealed) {
      const k = randomBytes(32);
      await insertKey(db, ws, deps.barrier.seal(k, keyCtx(ws)));
      k.fill(0);
      sealed = (await readKey(db, ws))!;
    }
    const key = deps.barrier.open(sealed, keyCtx(ws));
    const pad = (b: number) => {
      const out = Buffer.alloc(64, b);
      for (let i = 0; i < key.length; i++) out[i] = out[i]! ^ key[i]!;
      return out.toString('hex');
    };
    const hk = { inner: pad(0x36), outer: pad(0x5c) };
    key.fill(0);
    return hk;
  }

  const lookup: PolicyLookup = {
    async planFor(reader, source, prefix): Promise<RelationPlan | null> {
      const current = await selectCurrent(db, source.workspaceId);
      const targeting = current.filter((p) => targets(p.policy, source.dataset, source.tags));
      if (targeting.length === 0) return null;
      const ref = { type: 'dataset', id: source.dataset, workspace: source.workspaceId, tags: source.tags };
      if (deps.authorize(reader, 'dataset.read.unmasked', ref))
        return {
          exclude: [],
          replace: [],
          where: [],
          params: {},
          why: { masked: {}, hidden: {}, filteredBy: [], unmasked: true },
        };
      const mfa = mfaOf(reader);
      const applicable: ApplicablePolicy[] = [];
      for (const p of targeting)
        if (appliesTo(p.policy, reader, mfa))
          applicable.push({
            name: p.name,
            body: p.policy,
            ...(p.policy.rowFilter ? { filter: await filterOf(p.policy.rowFilter) } : {}),
          });
      if (applicable.length === 0) return null;
      const needsKey = applicable.some((p) => p.body.masks.some((m) => m.kind === 'keyed_hash'));
      const key = needsKey ? await hashKey(source.workspaceId) : undefined;
      return compilePlan(applicable, reader, prefix, () => key!);
    },
  };

  return {
    lookup,

    /** Refuses the raw object when a policy shapes what `reader` may see of the dataset. */
    async rawReadGuard(reader: Actor, ws: string, dataset: string, tags: readonly string[]): Promise<void> {
      const plan = await lookup.planFor(reader, { workspaceId: ws, dataset, tags }, 'sr_0_');
      if (plan && !plan.why.unmasked)
        throw new AppError('FORBIDDEN', {
          detail: `Data policies (${[...new Set([...Object.values(plan.why.masked).flat(), ...Object.values(plan.why.hidden).flat(), ...plan.why.filteredBy])].join(', ')}) apply to you on this dataset: download its export (…/versions/N/export), which applies them.`,
        });
    },

    list: (ws: string): Promise<PolicyOut[]> => selectCurrent(db, ws),

    async show(ws: string, name: string): Promise<PolicyOut> {
      const [p] = await selectCurrent(db, ws, name);
      if (!p) throw new AppError('NOT_FOUND', { detail: `No data policy named "${name}" in this workspace.` });
      return p;
    },

    async history(ws: string, name: string) {
      const h = await selectHistory(db, ws, name);
      if (h.length === 0)
        throw new AppError('NOT_FOUND', { detail: `No data policy named "${name}" in this workspace.` });
      return h;
    },

    /**
     * Validates and saves `body` as the next version of `name` (created when absent). `expected`:
     * the version the author edited (a mismatch is 409). Dry run: validates, writes nothing.
     */
    async save(
      input: { ws: string; name: string; body: PolicyBody; expected?: number; dryRun: boolean; actor: string },
      transact: Transact = ownTransaction(db),
    ): Promise<{ before: PolicyOut | null; after: PolicyOut; changed: boolean; diff: ReaderDiff[] }> {
      const { ws, name, body } = input;
      if (body.rowFilter !== undefined) await parseFilter(body.rowFilter, deps.serialize);
      const hidden = new Set(body.hide.map((h) => h.toLowerCase()));
      const both = body.masks.find((m) => hidden.has(m.column.toLowerCase()));
      if (both)
        throw new AppError('VALIDATION_FAILED', {
          detail: `Column "${both.column}" is both hidden and masked; choose one.`,
        });
      const work = async (trx: Transaction<Database>) => {
        await lockWorkspace(trx, ws);
        const current = await selectCurrent(trx, ws);
        const before = current.find((p) => p.name === name) ?? null;
        if (input.expected !== undefined && (before?.version ?? 0) !== input.expected)
          throw new AppError('CONFLICT', {
            detail: `Policy "${name}" is at version ${before?.version ?? 0}, not ${input.expected}; reload it and apply your change again.`,
          });
        if (!before && current.length >= MAX_POLICIES_PER_WORKSPACE)
          throw new AppError('CONFLICT', {
            detail: `A workspace may have at most ${MAX_POLICIES_PER_WORKSPACE} data policies.`,
          });
        const c = await findConflict(name, body, current, (d) => deps.tagsOf(trx, ws, d));
        if (c)
          throw new AppError('CONFLICT', {
            detail: `Policy "${name}" and policy "${c.other}" could both mask column "${c.column}" for the same reader, for example ${JSON.stringify(c.reader)}. Narrow one policy's condition or target, or mask the column in one policy only.`,
            meta: { policies: [name, c.other], column: c.column, exampleReader: c.reader },
          });
        const changed = !before || canonical(before.policy) !== canonical(body);
        const diff = accessDiff(body.target, current, [
          ...current.filter((p) => p.name !== name),
          { name, policy: body },
        ]);
        const version = changed ? (await lastVersion(trx, ws, name)) + 1 : before.version;
        if (changed && !input.dryRun) await writeVersion(trx, { ws, name, version, body, actor: input.actor });
        const after: PolicyOut = { name, version, policy: body, updatedBy: input.actor, updatedAt: new Date() };
        return { before, after, changed, diff };
      };
      return transact(work);
    },

    async remove(
      input: { ws: string; name: string; actor: string },
      transact: Transact = ownTransaction(db),
    ): Promise<PolicyOut> {
      return transact(async (trx) => {
        await lockWorkspace(trx, input.ws);
        const [before] = await selectCurrent(trx, input.ws, input.name);
        if (!before)
          throw new AppError('NOT_FOUND', { detail: `No data policy named "${input.name}" in this workspace.` });
        const version = (await lastVersion(trx, input.ws, input.name)) + 1;
        await deleteCurrent(trx, { ws: input.ws, name: input.name, version, actor: input.actor });
        return before;
      });
    },
  };
}

export type PoliciesService = ReturnType<typeof createPoliciesService>;
