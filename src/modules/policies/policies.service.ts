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
import { createHmac, randomBytes } from 'node:crypto';
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
import { parseCustom } from './policies.custom.ts';
import { accessDiff, type ReaderDiff } from './policies.diff.ts';
import type { PiiDefault, PolicyBody, PolicyOut } from '../../contracts/policies.ts';
import { applyPiiDefault, readPiiDefault, writePiiDefault } from './policies.pii.ts';
import { parseFilter, type Filter } from './policies.filter.ts';
import {
  policyStamp,
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
const keyCtx = (workspaceId: string) => ({ table: 'data_policy_keys', column: 'sealed', rowId: workspaceId });

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

  /** The padded inner/outer keys from the sealed workspace key (opened per call). */
  function padsOf(workspaceId: string, sealed: Buffer): HashKey {
    const key = deps.barrier.open(sealed, keyCtx(workspaceId));
    const pad = (b: number) => {
      const out = Buffer.alloc(64, b);
      for (let i = 0; i < key.length; i++) out[i] = out[i]! ^ key[i]!;
      return out.toString('hex');
    };
    const id = createHmac('sha256', key).update('strongroom keyed-hash cache id').digest('hex').slice(0, 32);
    key.fill(0);
    return { inner: pad(0x36), outer: pad(0x5c), id };
  }

  const destroyed = (workspaceId: string) =>
    new AppError('KEY_DESTROYED', {
      detail: `The keys of workspace ${workspaceId} were destroyed; a keyed-hash mask of its data policies cannot be computed, so the read is refused.`,
    });

  /**
   * The workspace's sealed HMAC key; created (sealed) on first use. Destroyed with the workspace
   * key (a tombstone row) → KEY_DESTROYED, never a fresh key and never the plain value.
   */
  async function sealedKey(workspaceId: string): Promise<Buffer> {
    let row = await readKey(db, workspaceId);
    if (!row) {
      const k = randomBytes(32);
      await insertKey(db, workspaceId, deps.barrier.seal(k, keyCtx(workspaceId)));
      k.fill(0);
      row = await readKey(db, workspaceId);
    }
    if (!row?.sealed) throw destroyed(workspaceId);
    return row.sealed;
  }

  /**
   * Compiled policies, cached per workspace and checked against the workspace's policy stamp on
   * every read (`policyStamp`: one indexed query instead of loading and parsing every policy):
   * a save or delete anywhere (this process or another) changes the stamp and drops the entry.
   * Inside an entry: per (dataset, tags, reader's roles/attributes/MFA) the applicable policies,
   * and per (that, reader id, parameter prefix) the compiled plan. The `dataset.read.unmasked`
   * decision is NOT cached (workspace access policies change independently): it is asked every
   * read. The opened key is kept for at most KEY_TTL_MS, only while its sealed form is unchanged,
   * and never across a seal (`forgetKeys` at the seal; a read finding the barrier sealed drops it too).
   */
  interface WsEntry {
    stamp: string;
    current: { name: string; body: PolicyBody; filter?: Filter }[];
    applicable: Map<string, ApplicablePolicy[]>;
    plans: Map<string, RelationPlan>;
    key?: { sealed: string; pads: HashKey; at: number };
    /** The keyed-hash key was destroyed (read with the stamp): keyed-hash masks refuse. */
    keyDestroyed?: boolean;
  }
  const KEY_TTL_MS = 60_000;
  const MAX_CACHED = 2000;
  const cache = new Map<string, WsEntry>();

  async function entryFor(workspaceId: string): Promise<WsEntry> {
    const { stamp, sealedKey: sealed, keyDestroyed } = await policyStamp(db, workspaceId);
    // A destroyed key (here or on another instance) drops everything cached for the workspace:
    // the opened key and every plan holding its padded forms.
    if (keyDestroyed) cache.delete(workspaceId);
    let e = cache.get(workspaceId);
    if (!e || e.stamp !== stamp) {
      const current = await selectCurrent(db, workspaceId);
      e = {
        stamp,
        current: await Promise.all(
          current.map(async (p) => ({
            name: p.name,
            body: p.policy,
            ...(p.policy.rowFilter ? { filter: await filterOf(p.policy.rowFilter) } : {}),
          })),
        ),
        applicable: new Map(),
        plans: new Map(),
      };
      if (cache.size > 1000) cache.clear();
      cache.set(workspaceId, e);
    }
    if (
      e.key &&
      (deps.barrier.isSealed ||
        !sealed ||
        e.key.sealed !== sealed.toString('hex') ||
        Date.now() - e.key.at > KEY_TTL_MS)
    ) {
      delete e.key;
      e.plans.clear(); // plans hold the key's padded forms as parameters
    }
    if (keyDestroyed) e.keyDestroyed = true;
    return e;
  }

  async function keyOf(workspaceId: string, e: WsEntry): Promise<HashKey> {
    if (deps.barrier.isSealed) throw new AppError('SEALED', { detail: 'Unseal Strongroom first.' });
    if (e.keyDestroyed) throw destroyed(workspaceId);
    if (e.key) return e.key.pads;
    const sealed = await sealedKey(workspaceId);
    const pads = padsOf(workspaceId, sealed);
    e.key = { sealed: sealed.toString('hex'), pads, at: Date.now() };
    return pads;
  }

  const lookup: PolicyLookup = {
    async planFor(reader, source, prefix): Promise<RelationPlan | null> {
      const e = await entryFor(source.workspaceId);
      const targeting = e.current.filter((p) => targets(p.body, source.dataset, source.tags));
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
      const who = canonical({
        d: source.dataset,
        t: [...source.tags].sort(),
        r: [...reader.roles].sort(),
        a: reader.attributes,
        mfa,
      });
      let applicable = e.applicable.get(who);
      if (!applicable) {
        applicable = targeting
          .filter((p) => appliesTo(p.body, reader, mfa))
          .map((p) => ({ name: p.name, body: p.body, ...(p.filter ? { filter: p.filter } : {}) }));
        if (e.applicable.size > MAX_CACHED) e.applicable.clear();
        e.applicable.set(who, applicable);
      }
      if (applicable.length === 0) return null;
      const planKey = `${who}\0${reader.id}\0${prefix}`;
      const needsKey = applicable.some((p) => p.body.masks.some((m) => m.kind === 'keyed_hash'));
      const key = needsKey ? await keyOf(source.workspaceId, e) : undefined;
      let plan = e.plans.get(planKey);
      if (!plan) {
        plan = compilePlan(applicable, reader, prefix, () => key!);
        if (e.plans.size > MAX_CACHED) e.plans.clear();
        e.plans.set(planKey, plan);
      }
      // A copy: callers may add to `why` (unmasked) or to the parameters.
      return structuredClone(plan);
    },
  };

  const api = {
    lookup,

    /**
     * Drops every opened keyed-hash key and the plans that carry its padded forms (the operator
     * sealed Strongroom: `keys.onSeal`). Reads after an unseal open the sealed key again.
     */
    forgetKeys(): void {
      for (const e of cache.values()) {
        delete e.key;
        e.plans.clear();
      }
    },

    /** Refuses the raw object when a policy shapes what `reader` may see of the dataset. */
    async rawReadGuard(reader: Actor, ws: string, dataset: string, tags: readonly string[]): Promise<void> {
      const plan = await lookup.planFor(reader, { workspaceId: ws, dataset, tags }, 'sr_0_');
      if (plan && !plan.why.unmasked)
        throw new AppError('FORBIDDEN', {
          detail: `Data policies (${[...new Set([...Object.values(plan.why.masked).flat(), ...Object.values(plan.why.hidden).flat(), ...plan.why.filteredBy, ...(plan.why.threshold?.by ?? [])])].join(', ')}) apply to you on this dataset: download its export (…/versions/N/export), which applies them.`,
        });
    },

    /**
     * Removing a tag from a dataset lifts every tag policy on it from that dataset — never
     * silently: refused (409, naming them) unless `lift` names each one; returns those lifted.
     */
    async tagRemovalGuard(
      trx: Transaction<Database>,
      workspaceId: string,
      removed: readonly string[],
      lift: readonly string[],
    ): Promise<string[]> {
      const hit = (await selectCurrent(trx, workspaceId)).filter(
        (p) => 'tag' in p.policy.target && removed.includes(p.policy.target.tag),
      );
      const names = hit.map((p) => p.name);
      const missing = names.filter((n) => !lift.includes(n));
      if (missing.length > 0)
        throw new AppError('CONFLICT', {
          detail: `Removing ${removed.join(', ')} lifts data ${names.length === 1 ? 'policy' : 'policies'} ${names.join(', ')} from this dataset (${names.length === 1 ? 'it' : 'they'} would no longer mask, hide or filter it). Change the ${names.length === 1 ? 'policy' : 'policies'} first, or repeat with "liftPolicies": ${JSON.stringify(names)} to lift ${names.length === 1 ? 'it' : 'them'} knowingly.`,
          meta: { policies: names },
        });
      return names;
    },

    list: (workspaceId: string): Promise<PolicyOut[]> => selectCurrent(db, workspaceId),

    async show(workspaceId: string, name: string): Promise<PolicyOut> {
      const [p] = await selectCurrent(db, workspaceId, name);
      if (!p) throw new AppError('NOT_FOUND', { detail: `No data policy named "${name}" in this workspace.` });
      return p;
    },

    async history(workspaceId: string, name: string) {
      const h = await selectHistory(db, workspaceId, name);
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
      const { ws: workspaceId, name, body } = input;
      if (body.rowFilter !== undefined) await parseFilter(body.rowFilter, deps.serialize);
      for (const m of body.masks) if (m.kind === 'custom') parseCustom(m.expression);
      const hidden = new Set(body.hide.map((h) => h.toLowerCase()));
      const both = body.masks.find((m) => hidden.has(m.column.toLowerCase()));
      if (both)
        throw new AppError('VALIDATION_FAILED', {
          detail: `Column "${both.column}" is both hidden and masked; choose one.`,
        });
      const work = async (trx: Transaction<Database>) => {
        await lockWorkspace(trx, workspaceId);
        const current = await selectCurrent(trx, workspaceId);
        const before = current.find((p) => p.name === name) ?? null;
        if (input.expected !== undefined && (before?.version ?? 0) !== input.expected)
          throw new AppError('CONFLICT', {
            detail: `Policy "${name}" is at version ${before?.version ?? 0}, not ${input.expected}; reload it and apply your change again.`,
          });
        if (!before && current.length >= MAX_POLICIES_PER_WORKSPACE)
          throw new AppError('CONFLICT', {
            detail: `A workspace may have at most ${MAX_POLICIES_PER_WORKSPACE} data policies.`,
          });
        const c = await findConflict(name, body, current, (d) => deps.tagsOf(trx, workspaceId, d));
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
        const version = changed ? (await lastVersion(trx, workspaceId, name)) + 1 : before.version;
        if (changed && !input.dryRun)
          await writeVersion(trx, { ws: workspaceId, name, version, body, actor: input.actor });
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
  const saver = {
    save: api.save,
    remove: api.remove,
    exists: async (trx: Transaction<Database>, ws: string, name: string) =>
      (await selectCurrent(trx, ws, name)).length > 0,
  };
  return {
    ...api,
    /** The workspace's default policy for `pii.*` columns (policies.pii.ts); undefined when unset. */
    piiDefault: (workspaceId: string, exec: Kysely<Database> | Transaction<Database> = db) =>
      readPiiDefault(exec, workspaceId),
    /** Sets (or, null, clears) the default, in the route's transaction. */
    setPiiDefault: (trx: Transaction<Database>, workspaceId: string, setting: PiiDefault | null, by: string) =>
      writePiiDefault(trx, workspaceId, setting, by),
    /** Writes `dataset`'s default pii policy for `columns` in `trx` (see policies.pii.ts). */
    applyPiiDefault: (
      trx: Transaction<Database>,
      workspaceId: string,
      dataset: string,
      columns: string[],
      actor: string,
    ) => applyPiiDefault(saver, trx, workspaceId, dataset, columns, actor),
  };
}

export type PoliciesService = ReturnType<typeof createPoliciesService>;
