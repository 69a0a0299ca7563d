/**
 * Policy text → named Cedar policies, validation against the schema, and readable errors.
 * Built-in policies carry an `@id("…")` annotation, which becomes the policy id reported in
 * decisions; workspace policies are scoped to their workspace here (see `scopeToWorkspace`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { DetailedError, PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { POLICY_DIR } from './cedar-schema.ts';

export interface PolicySource {
  /** Where the text came from, for messages (`rbac.cedar`, a stored policy id). */
  origin: string;
  text: string;
}

export type NamedPolicies = Record<string, PolicyJson>;

/** A policy that cannot be used; `message` names the policy and says what is wrong. */
export class AccessPolicyError extends Error {
  constructor(
    message: string,
    readonly errors: readonly string[] = [message],
  ) {
    super(message);
    this.name = 'AccessPolicyError';
  }
}

/** Every `.cedar` file of the built-in policy directory, sorted by name. */
export function readBuiltinPolicies(): PolicySource[] {
  return readdirSync(POLICY_DIR)
    .filter((f) => f.endsWith('.cedar'))
    .sort()
    .map((f) => ({ origin: f, text: readFileSync(new URL(f, POLICY_DIR), 'utf8') }));
}

function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

/** One readable line per Cedar error: where, what, and Cedar's hint. */
export function formatErrors(errors: readonly DetailedError[], text?: string, prefix = ''): string[] {
  return errors.map((e) => {
    const loc = text !== undefined && e.sourceLocations?.[0] ? `${lineCol(text, e.sourceLocations[0].start)}: ` : '';
    const message = e.message.replace(/^for policy `policy\d+`, /, '');
    return `${prefix}${loc}${message}${e.help ? ` (${e.help})` : ''}`;
  });
}

/**
 * Split a source into its policies as JSON. Ids: the `@id` annotation when present, otherwise
 * `<origin>#<n>`. Templates are refused (nothing links them).
 */
export function splitPolicies(src: PolicySource): Array<{ id: string; json: PolicyJson }> {
  const parts = cedar.policySetTextToParts(src.text);
  if (parts.type !== 'success')
    throw new AccessPolicyError(
      `${src.origin} does not parse`,
      formatErrors(parts.errors, src.text, `${src.origin}: `),
    );
  if (parts.policy_templates.length > 0)
    throw new AccessPolicyError(`${src.origin}: templates (?principal, ?resource) are not supported`);
  return parts.policies.map((text, n) => {
    const j = cedar.policyToJson(text);
    if (j.type !== 'success')
      throw new AccessPolicyError(`${src.origin} does not parse`, formatErrors(j.errors, text, `${src.origin}: `));
    return { id: j.json.annotations?.id ?? `${src.origin}#${n}`, json: j.json };
  });
}

/** Validate named policies against the schema (strict mode); returns readable errors. */
export function validateNamed(schemaText: string, policies: NamedPolicies): string[] {
  const answer = cedar.validate({
    schema: schemaText,
    policies: { staticPolicies: policies },
    validationSettings: { mode: 'strict' },
  });
  if (answer.type !== 'success') return formatErrors(answer.errors);
  return answer.validationErrors.map((v) => `${v.policyId}: ${formatErrors([v.error])[0]}`);
}

/** Validate policy text as written, so error locations point into it. */
export function validateText(schemaText: string, text: string): string[] {
  const answer = cedar.validate({
    schema: schemaText,
    policies: { staticPolicies: text },
    validationSettings: { mode: 'strict' },
  });
  if (answer.type !== 'success') return formatErrors(answer.errors, text);
  return answer.validationErrors.map((v) => formatErrors([v.error], text)[0]!);
}

/**
 * Confine a workspace policy to its workspace: it applies only when the principal acts in that
 * workspace and the resource lies in it. So a workspace's policy can neither grant nor deny
 * anything in another workspace, nor touch the operator (which has no workspace).
 */
export function scopeToWorkspace(policy: PolicyJson, workspaceId: string): PolicyJson {
  const ws = { Value: { __entity: { type: 'Workspace', id: workspaceId } } };
  const principal = { Var: 'principal' as const };
  const scope = {
    '&&': {
      left: {
        '&&': {
          left: { has: { left: principal, attr: 'workspace' } },
          right: { '==': { left: { '.': { left: principal, attr: 'workspace' } }, right: ws } },
        },
      },
      right: { in: { left: { Var: 'resource' as const }, right: ws } },
    },
  };
  return { ...policy, conditions: [{ kind: 'when', body: scope }, ...policy.conditions] };
}
