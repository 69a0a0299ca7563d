/**
 * The built-in Cedar policies in plain words: what each one does (listed read-only for admins, see
 * `GET …/policies/builtin`) and, for the forbids, what a refused person is told — the rule's name
 * and what it needs, so "Download" never fails without a reason. The text here explains; the
 * `.cedar` files decide. `test/access-rules.test.ts` holds every built-in id to an entry here.
 * The data protection policies issue replaces the tag rules with visible, editable policies.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { readBuiltinPolicies, splitPolicies } from './policy-text.ts';

export interface BuiltinRuleText {
  /** What the rule does, for someone who does not read Cedar. */
  summary: string;
  /** For a forbid: what the refused person is told (after "Refused by rule <id>: "). */
  refusal?: string;
}

export const BUILTIN_RULE_TEXT: Readonly<Record<string, BuiltinRuleText>> = {
  'abac.pii-needs-clearance-and-mfa': {
    summary:
      'Content tagged "pii" (dataset bytes, query results, exports, secret values) can be read only by people with clearance 2 or more who signed in with MFA in this session.',
    refusal: 'content tagged "pii" needs clearance ≥ 2 and MFA in this session — ask an admin to set your clearance.',
  },
  'abac.eu-only-needs-eu-region': {
    summary: 'Content tagged "eu-only" can be read only by people whose region is "eu".',
    refusal: 'content tagged "eu-only" needs region "eu" — ask an admin to set your region.',
  },
  'guard.reveal-needs-mfa': {
    summary: "Revealing a secret's value always needs a second factor (MFA) in this session, whatever the role.",
    refusal: 'revealing a secret needs MFA in this session — sign in with your authenticator code.',
  },
  'guard.owner-only': {
    summary: 'Only an owner may grant the owner role or delete the workspace; no other policy can allow it.',
    refusal: 'only an owner may do this.',
  },
  'guard.admin-only': {
    summary:
      "Only owners and admins may change roles or the workspace's access policies; no other policy can allow it.",
    refusal: 'only an owner or admin may do this.',
  },
  'rbac.owner': { summary: 'Owners may do everything in their workspace, including managing other owners.' },
  'rbac.admin': {
    summary:
      'Admins manage users, drives, datasets, secrets and policies, and read the audit trail, in their workspace.',
  },
  'rbac.steward': { summary: 'Stewards manage data policies and read data in their workspace.' },
  'rbac.engineer': { summary: 'Engineers manage drives, datasets and secrets and read data in their workspace.' },
  'rbac.analyst': { summary: 'Analysts see what exists and read dataset content in their workspace.' },
  'rbac.viewer': { summary: 'Viewers see what exists in their workspace, without reading content.' },
  'rbac.auditor': { summary: 'Auditors read the audit trail and configuration metadata of their workspace.' },
  'self.own-account': {
    summary: 'Every signed-in person manages their own account: password, MFA, sessions and API tokens.',
  },
  'operator.actions': {
    summary:
      'The operator token manages keys, seals and unseals, creates workspaces and reads the audit trail — nothing else.',
  },
};

/** The message of a refusal by `policies` (the forbids that decided), or undefined when none explains it. */
export function refusalText(policies: readonly string[]): string | undefined {
  const parts = policies.flatMap((id) => {
    const refusal = BUILTIN_RULE_TEXT[id]?.refusal;
    return refusal ? [`Refused by rule ${id}: ${refusal}`] : [];
  });
  return parts.length > 0 ? parts.join(' ') : undefined;
}

export interface BuiltinRule {
  id: string;
  effect: 'permit' | 'forbid';
  /** The `.cedar` file it comes from. */
  file: string;
  summary: string;
  /** The policy as written (Cedar), comments included. */
  text: string;
}

let listed: BuiltinRule[] | undefined;

/** Every built-in policy with its text and plain-words summary (read once; the files ship with the build). */
export function listBuiltinRules(): readonly BuiltinRule[] {
  listed ??= readBuiltinPolicies().flatMap((src) => {
    const parts = cedar.policySetTextToParts(src.text);
    if (parts.type !== 'success') return [];
    return splitPolicies(src).map(({ id, json }, n) => ({
      id,
      effect: json.effect,
      file: src.origin,
      summary: BUILTIN_RULE_TEXT[id]?.summary ?? '',
      text: (parts.policies[n] ?? '').trim(),
    }));
  });
  return listed;
}
