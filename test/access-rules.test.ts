/**
 * The built-in rules in plain words (modules/access/builtin-rules.ts): every built-in policy has
 * a summary, every forbid says what a refused person needs, the listing carries each policy as
 * written, and a refusal by a forbid names the rule.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BUILTIN_RULE_TEXT, builtinAccessControl, listBuiltinRules, refusalText } from '../src/modules/access/index.ts';

test('every built-in policy is explained; every forbid says what it needs', () => {
  const rules = listBuiltinRules();
  assert.deepEqual(rules.map((r) => r.id).sort(), [...builtinAccessControl().builtinPolicyIds].sort());
  for (const r of rules) {
    assert.ok(BUILTIN_RULE_TEXT[r.id]?.summary, `${r.id} has a summary`);
    assert.match(
      r.text,
      new RegExp(`^(//[^\\n]*\\n)*@id\\("${r.id.replaceAll('.', '\\.')}"\\)|@id\\("${r.id.replaceAll('.', '\\.')}"\\)`),
    );
    assert.match(r.text, new RegExp(`\\b${r.effect}\\s*\\(`));
    if (r.effect === 'forbid') assert.ok(BUILTIN_RULE_TEXT[r.id]?.refusal, `${r.id} says what a refused person needs`);
  }
});

test('a refusal names the forbid that made it; a plain lack of role says nothing more', () => {
  assert.match(
    refusalText(['abac.pii-needs-clearance-and-mfa']) ?? '',
    /^Refused by rule abac\.pii-needs-clearance-and-mfa: .*clearance ≥ 2 and MFA/,
  );
  assert.equal(refusalText([]), undefined);
  assert.equal(refusalText(['ws:default:p1#0']), undefined, 'a workspace policy has no built-in words');
  const d = builtinAccessControl().authorize(
    { id: 'u1', kind: 'user', workspace: 'default', roles: ['owner'], attributes: {}, authMethod: 'password+totp' },
    'dataset.version.read',
    { type: 'dataset', id: 'x', workspace: 'default', tags: ['pii'] },
  );
  assert.equal(d.allowed, false);
  assert.match(refusalText(d.policies) ?? '', /abac\.pii-needs-clearance-and-mfa/);
});
