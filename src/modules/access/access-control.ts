/**
 * Authorization by Cedar. Default deny: an action is allowed only when a policy permits it and no
 * policy forbids it; anything unexpected (unknown action or resource type, a Cedar error, a
 * policy that errors while evaluating) is a denial with a reason, never an exception.
 *
 * Policies are parsed, schema-validated (strict) and pre-parsed into Cedar's cache ONCE, when
 * the object is created or a workspace's policies change; a decision only names the pre-parsed
 * set (`statefulIsAuthorized`). A built-in policy that does not validate makes creation throw
 * `AccessPolicyError`, so the server does not start with a broken policy set.
 *
 * Decisions are memoised: Cedar is a pure function of (policy set, principal, action, resource,
 * context, entities) — it has no clock, randomness or I/O — so the answer for an identical request
 * against the same pre-parsed set is the same answer. The memo key is the complete request as
 * sent to Cedar (every entity with every attribute: roles, workspace, clearance, tags …) plus the
 * set id; any policy change empties the memo before the new set is used. It is bounded (oldest
 * entries go first), holds only answers Cedar actually evaluated (never an exception path), and
 * returns frozen decisions.
 *
 * Workspace policies: each workspace gets its own pre-parsed set = built-ins + its policies,
 * every one of them scoped to the workspace (`scopeToWorkspace`). A request is evaluated with the
 * set of the workspace the actor acts in, so another workspace's policies are not even loaded
 * for it — and the scoping would neutralise them if they were.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { EntityJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { Actor } from '../../core/actor.ts';
import { readFileSync } from 'node:fs';
import { cedarCacheKey, readCachedSchema, writeCachedSchema } from './cedar-cache.ts';
import {
  GROUP_PREFIX,
  SCHEMA_FILE,
  routeActions,
  schemaFromJson,
  schemaTextToJson,
  type SchemaInfo,
} from './cedar-schema.ts';
import { buildRequest, type ResourceRef } from './cedar-request.ts';
import {
  AccessPolicyError,
  readBuiltinPolicies,
  scopeToWorkspace,
  splitPolicies,
  validateNamed,
  validateText,
  type NamedPolicies,
  type PolicySource,
} from './policy-text.ts';
import { WORKSPACE_ID } from '../../contracts/common.ts';

export interface Decision {
  allowed: boolean;
  /** Why, in words: `permitted by rbac.analyst`, `forbidden by abac.pii-…`, `unknown action` … */
  reason: string;
  /** The policies that determined the decision (empty for a default deny). */
  policies: readonly string[];
}

export interface PolicyValidation {
  ok: boolean;
  errors: string[];
}

/** A stored workspace policy, as far as the decision engine is concerned. */
export interface WorkspacePolicyText {
  id: string;
  text: string;
}

export interface AccessControlOptions {
  /** Workspace id → its custom policies, loaded at creation. */
  workspacePolicies?: Readonly<Record<string, readonly WorkspacePolicyText[]>>;
  /** Replace the built-in `.cedar` files (tests). */
  builtinPolicies?: readonly PolicySource[];
  /** Replace the schema text (tests). */
  schemaText?: string;
  /**
   * A file (in the data directory) that keeps the schema's JSON form and the built-in set's
   * validation between starts, keyed by a hash of their inputs (`cedar-cache.ts`). Without it,
   * both are computed by Cedar at every creation.
   */
  cacheFile?: string;
}

export interface AccessControl {
  /** Decide synchronously; never throws. */
  authorize(actor: Actor, action: string, resource?: ResourceRef): Decision;
  /** Would this text be accepted as a policy of `workspace`? Errors say where and what. */
  validatePolicy(text: string, workspaceId?: string): PolicyValidation;
  /**
   * Replace a workspace's custom policies (after they changed in the database). Invalid ones
   * are not half-applied: the workspace is locked (every decision for it denied) until fixed.
   */
  setWorkspacePolicies(workspace: string, policies: readonly WorkspacePolicyText[]): PolicyValidation;
  /** Every action a route may declare, from the schema. */
  readonly actions: readonly string[];
  /** Ids of the built-in policies. */
  readonly builtinPolicyIds: readonly string[];
  /** Workspaces that currently have custom policies loaded (or are locked). */
  customWorkspaces(): string[];
  /** Counters proving the hot path does no parsing: Cedar evaluations, and answers from the memo. */
  stats(): { preparses: number; decisions: number; memoHits: number; memoEntries: number };
}

const MAX_POLICY_CHARS = 20_000;
/** Memoised decisions kept at most (a few MB at worst; oldest evicted first). */
const MEMO_MAX = 4096;
let instances = 0;

function describe(kind: 'permitted' | 'forbidden', ids: readonly string[]): string {
  return `${kind} by ${ids.join(', ')}`;
}

/**
 * The schema as data, once the built-in set validated against it (strict). The schema's JSON form
 * and that verdict come from `cacheFile` when its key (a hash of the schema text, this exact set
 * and the Cedar build) matches; otherwise from Cedar, and a set that does not validate throws
 * here, at every creation (failures are never cached).
 */
function validatedSchema(schemaText: string, builtin: NamedPolicies, cacheFile: string | undefined): SchemaInfo {
  const key = cacheFile === undefined ? undefined : cedarCacheKey(schemaText, builtin);
  const cached = key === undefined ? undefined : readCachedSchema(cacheFile!, key);
  if (cached) {
    try {
      return schemaFromJson(schemaText, cached);
    } catch {
      // a malformed entry is a miss
    }
  }
  const json = schemaTextToJson(schemaText);
  const schema = schemaFromJson(schemaText, json);
  const errors = validateNamed(schema.text, builtin);
  if (errors.length > 0)
    throw new AccessPolicyError(
      `built-in Cedar policies do not validate against the schema: ${errors.join('; ')}`,
      errors,
    );
  if (key !== undefined) writeCachedSchema(cacheFile!, key, json);
  return schema;
}

/** Create the access control; throws `AccessPolicyError` if a built-in policy is invalid. */
export function createAccessControl(opts: AccessControlOptions = {}): AccessControl {
  const schemaText = opts.schemaText ?? readFileSync(SCHEMA_FILE, 'utf8');
  const prefix = `strongroom-${++instances}`;
  let preparses = 0;
  let decisions = 0;
  let memoHits = 0;
  /** Complete Cedar request (with its set id) → the decision Cedar gave for it. */
  const memo = new Map<string, Decision>();
  const remember = (key: string, d: Decision): Decision => {
    const frozen = Object.freeze({ ...d, policies: Object.freeze([...d.policies]) });
    if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value!);
    memo.set(key, frozen);
    return frozen;
  };

  const builtin: NamedPolicies = {};
  for (const src of opts.builtinPolicies ?? readBuiltinPolicies()) {
    for (const { id, json } of splitPolicies(src)) {
      if (id in builtin) throw new AccessPolicyError(`built-in policy id ${id} is used twice (${src.origin})`);
      builtin[id] = json;
    }
  }
  const schema = validatedSchema(schemaText, builtin, opts.cacheFile);
  for (const group of [...schema.actions.keys()].filter((a) => a.startsWith(GROUP_PREFIX))) {
    if (schema.actions.get(group)!.principalTypes.length > 0)
      throw new AccessPolicyError(`action group ${group} must not apply to requests`);
  }

  function preparse(id: string, policies: NamedPolicies): void {
    memo.clear(); // before the set changes: no answer computed from an older set survives it
    const r = cedar.preparsePolicySet(id, { staticPolicies: policies });
    preparses++;
    if (r.type !== 'success')
      throw new AccessPolicyError(`could not load policy set ${id}: ${r.errors.map((e) => e.message).join('; ')}`);
  }
  // The request carries its action and that action's groups as entities, so Cedar needs no
  // schema per call (it would rebuild every action entity each time: ~30 % slower). Types are
  // still guaranteed: policies were validated against the schema, and `buildRequest` checks the
  // principal and resource types against the action's `appliesTo` and shapes every entity from it.
  const actionEntities = new Map<string, EntityJson[]>();
  for (const [name, info] of schema.actions) {
    const uid = (id: string) => ({ type: 'Action', id });
    actionEntities.set(name, [
      { uid: uid(name), attrs: {}, parents: info.groups.map(uid) },
      ...info.groups.map((g) => ({ uid: uid(g), attrs: {}, parents: [] })),
    ]);
  }
  const builtinSet = `${prefix}/builtin`;
  preparse(builtinSet, builtin);

  /** workspace → pre-parsed set id, or `null` when its policies are invalid (locked). */
  const workspaceSets = new Map<string, string | null>();

  function compileWorkspace(
    workspaceId: string,
    policies: readonly WorkspacePolicyText[],
  ): { set: NamedPolicies; errors: string[] } {
    const set: NamedPolicies = { ...builtin };
    const errors: string[] = [];
    for (const p of policies) {
      try {
        splitPolicies({ origin: p.id, text: p.text }).forEach(({ json }, n) => {
          set[`ws:${workspaceId}:${p.id}#${n}`] = scopeToWorkspace(json, workspaceId);
        });
      } catch (err) {
        errors.push(...(err instanceof AccessPolicyError ? err.errors : [String(err)]));
      }
    }
    if (errors.length === 0) errors.push(...validateNamed(schema.text, set));
    return { set, errors };
  }

  const ac: AccessControl = {
    actions: routeActions(schema),
    builtinPolicyIds: Object.keys(builtin),

    authorize(actor, action, resource) {
      try {
        const info = schema.actions.get(action);
        if (!info || action.startsWith(GROUP_PREFIX)) return { allowed: false, reason: 'unknown action', policies: [] };
        const req = buildRequest(schema, actor, info, resource);
        if (typeof req === 'string') return { allowed: false, reason: req, policies: [] };
        let setId = builtinSet;
        if (actor.workspace && workspaceSets.has(actor.workspace)) {
          const ws = workspaceSets.get(actor.workspace);
          if (!ws) return { allowed: false, reason: 'this workspace has policies that do not validate', policies: [] };
          setId = ws;
        }
        const request = {
          principal: req.principal,
          action: { type: 'Action', id: action },
          resource: req.resource,
          context: req.context,
          entities: [...req.entities, ...actionEntities.get(action)!],
          preparsedPolicySetId: setId,
        };
        // The whole request is the key (the action entities follow from the action name).
        const key = JSON.stringify([setId, action, req]);
        const known = memo.get(key);
        if (known) {
          memoHits++;
          return known;
        }
        decisions++;
        const answer = cedar.statefulIsAuthorized(request);
        if (answer.type !== 'success')
          return {
            allowed: false,
            reason: `authorization error: ${answer.errors.map((e) => e.message).join('; ')}`,
            policies: [],
          };
        const { decision, diagnostics } = answer.response;
        const ids = [...diagnostics.reason].sort();
        // An erroring policy is skipped by Cedar; a skipped forbid must not turn into an allow.
        if (diagnostics.errors.length > 0) {
          return remember(key, {
            allowed: false,
            reason: `policy error in ${diagnostics.errors.map((e) => e.policyId).join(', ')}`,
            policies: diagnostics.errors.map((e) => e.policyId),
          });
        }
        if (decision === 'allow')
          return remember(key, { allowed: true, reason: describe('permitted', ids), policies: ids });
        if (ids.length > 0) return remember(key, { allowed: false, reason: describe('forbidden', ids), policies: ids });
        return remember(key, { allowed: false, reason: 'no policy allows this action', policies: [] });
      } catch {
        return { allowed: false, reason: 'authorization failed', policies: [] };
      }
    },

    validatePolicy(text, workspaceId = 'example') {
      if (typeof text !== 'string' || text.trim() === '') return { ok: false, errors: ['the policy is empty'] };
      if (text.length > MAX_POLICY_CHARS)
        return { ok: false, errors: [`the policy is longer than ${MAX_POLICY_CHARS} characters`] };
      if (!WORKSPACE_ID.test(workspaceId)) return { ok: false, errors: ['not a valid workspace id'] };
      const asWritten = validateText(schema.text, text);
      if (asWritten.length > 0) return { ok: false, errors: asWritten };
      const { errors } = compileWorkspace(workspaceId, [{ id: 'new', text }]);
      return { ok: errors.length === 0, errors };
    },

    setWorkspacePolicies(workspaceId, policies) {
      if (!WORKSPACE_ID.test(workspaceId)) return { ok: false, errors: ['not a valid workspace id'] };
      if (policies.length === 0) {
        workspaceSets.delete(workspaceId);
        memo.clear();
        return { ok: true, errors: [] };
      }
      const { set, errors } = compileWorkspace(workspaceId, policies);
      if (errors.length > 0) {
        workspaceSets.set(workspaceId, null);
        memo.clear();
        return { ok: false, errors };
      }
      // Same id: Cedar replaces the cached set in place (no growth per change).
      const id = `${prefix}/ws/${workspaceId}`;
      preparse(id, set);
      workspaceSets.set(workspaceId, id);
      return { ok: true, errors: [] };
    },

    customWorkspaces: () => [...workspaceSets.keys()],
    stats: () => ({ preparses, decisions, memoHits, memoEntries: memo.size }),
  };

  for (const [ws, policies] of Object.entries(opts.workspacePolicies ?? {})) {
    const r = ac.setWorkspacePolicies(ws, policies);
    if (!r.ok)
      throw new AccessPolicyError(`policies of workspace ${ws} do not validate: ${r.errors.join('; ')}`, r.errors);
  }
  return ac;
}
