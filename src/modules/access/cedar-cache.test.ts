/**
 * The start-time Cedar cache (`cedar-cache.ts`): an entry is used only under the key of its exact
 * inputs, a damaged or foreign entry is recomputed and replaced, a built-in set that does not
 * validate is refused whatever the file holds (and never written), and decisions are the same
 * with and without the cache.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { Actor } from '../../core/actor.ts';
import { createAccessControl } from './access-control.ts';
import { cedarCacheKey, readCachedSchema, writeCachedSchema } from './cedar-cache.ts';
import { SCHEMA_FILE, schemaTextToJson } from './cedar-schema.ts';
import { AccessPolicyError, readBuiltinPolicies, splitPolicies, type NamedPolicies } from './policy-text.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sr-cedar-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshFile = () => path.join(dir, `cedar-cache-${++n}.json`);

const schemaText = readFileSync(SCHEMA_FILE, 'utf8');
function builtinSet(extra: string[] = []): NamedPolicies {
  const set: NamedPolicies = {};
  for (const src of readBuiltinPolicies()) for (const { id, json } of splitPolicies(src)) set[id] = json;
  extra.forEach((text, i) => {
    for (const { id, json } of splitPolicies({ origin: `extra-${i}.cedar`, text })) set[id] = json;
  });
  return set;
}

const actors: Actor[] = [
  {
    id: 'u1',
    kind: 'user',
    authMethod: 'password+totp',
    workspace: 'A',
    roles: ['analyst'],
    attributes: { mfa: true },
  },
  { id: 'u2', kind: 'user', authMethod: 'password+totp', workspace: 'A', roles: ['owner'], attributes: { mfa: true } },
  { id: 'operator', kind: 'operator', authMethod: 'operator-token', roles: ['operator'], attributes: {} },
];

describe('Cedar start-time cache', () => {
  test('a first creation writes the entry (0600); the next one reads it; decisions are the same', () => {
    const file = freshFile();
    const plain = createAccessControl();
    const first = createAccessControl({ cacheFile: file });
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const key = cedarCacheKey(schemaText, builtinSet());
    assert.deepEqual(readCachedSchema(file, key), schemaTextToJson(schemaText));
    const second = createAccessControl({ cacheFile: file });
    assert.deepEqual(second.actions, plain.actions);
    assert.deepEqual(first.actions, plain.actions);
    let allowed = 0;
    for (const actor of actors)
      for (const action of plain.actions) {
        const expected = plain.authorize(actor, action, { type: 'workspace', id: 'A' });
        assert.deepEqual(second.authorize(actor, action, { type: 'workspace', id: 'A' }), expected, action);
        if (expected.allowed) allowed++;
      }
    assert.ok(allowed > 10, 'the comparison covers allowed decisions too');
  });

  test('the key covers the schema text, every built-in policy and the Cedar build', () => {
    const base = cedarCacheKey(schemaText, builtinSet());
    assert.equal(cedarCacheKey(schemaText, builtinSet()), base);
    assert.notEqual(cedarCacheKey(`${schemaText}\n`, builtinSet()), base);
    const extra = '@id("x.extra")\npermit (principal is Operator, action == Action::"keys.keyring.read", resource);';
    assert.notEqual(cedarCacheKey(schemaText, builtinSet([extra])), base);
    const renamed = builtinSet();
    const [firstId] = Object.keys(renamed);
    renamed[`${firstId}-renamed`] = renamed[firstId!]!;
    delete renamed[firstId!];
    assert.notEqual(cedarCacheKey(schemaText, renamed), base);
    assert.match(base, /^[0-9a-f]{64}$/);
    assert.ok(cedar.getCedarSDKVersion()); // the build is hashed from its files, not only its version
  });

  test('an entry is used only under its own key and intact; anything else is a miss, recomputed and replaced', () => {
    const file = freshFile();
    const key = cedarCacheKey(schemaText, builtinSet());
    const json = schemaTextToJson(schemaText);
    writeCachedSchema(file, 'another-key', json);
    assert.equal(readCachedSchema(file, key), undefined);
    createAccessControl({ cacheFile: file });
    assert.deepEqual(readCachedSchema(file, key), json, 'a foreign entry is replaced');

    const entry = JSON.parse(readFileSync(file, 'utf8')) as { schema: { '': { actions: Record<string, unknown> } } };
    delete entry.schema[''].actions['vault.secret.read'];
    writeFileSync(file, JSON.stringify(entry));
    assert.equal(readCachedSchema(file, key), undefined, 'a changed schema no longer matches its digest');
    const ac = createAccessControl({ cacheFile: file });
    assert.ok(ac.actions.includes('vault.secret.read'));
    assert.deepEqual(readCachedSchema(file, key), json);

    for (const junk of ['', '{', 'null', '[]', '{"format":"strongroom-cedar-cache/1"}']) {
      writeFileSync(file, junk);
      assert.equal(readCachedSchema(file, key), undefined, junk);
      assert.ok(createAccessControl({ cacheFile: file }).actions.includes('vault.secret.read'));
    }
  });

  test('a matching entry is what the start uses (the data directory is trusted as a whole)', () => {
    const file = freshFile();
    const key = cedarCacheKey(schemaText, builtinSet());
    const json = schemaTextToJson(schemaText);
    const trimmed = structuredClone(json);
    delete trimmed['']!.actions['vault.secret.read'];
    writeCachedSchema(file, key, trimmed);
    assert.ok(!createAccessControl({ cacheFile: file }).actions.includes('vault.secret.read'));
  });

  test('a built-in set that does not validate is refused whatever the file holds, and never written', () => {
    const file = freshFile();
    createAccessControl({ cacheFile: file });
    const before = readFileSync(file, 'utf8');
    const bad = '@id("rbac.typo")\npermit (principal, action == Action::"vault.secret.raed", resource);';
    const builtinPolicies = [...readBuiltinPolicies(), { origin: 'typo.cedar', text: bad }];
    for (let i = 0; i < 2; i++)
      assert.throws(
        () => createAccessControl({ builtinPolicies, cacheFile: file }),
        (err: unknown) => err instanceof AccessPolicyError && /rbac\.typo/.test(err.message),
      );
    assert.equal(readFileSync(file, 'utf8'), before);
    const other = freshFile();
    assert.throws(() => createAccessControl({ builtinPolicies, cacheFile: other }), AccessPolicyError);
    assert.equal(existsSync(other), false);
  });

  test('an unwritable cache place costs time, not the start', () => {
    const file = path.join(dir, 'missing-dir', 'cedar-cache.json');
    assert.ok(createAccessControl({ cacheFile: file }).actions.length > 0);
    assert.equal(existsSync(file), false);
  });
});
