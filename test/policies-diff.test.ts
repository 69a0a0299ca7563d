/**
 * The access diff (issue 17, policies.diff.ts) from documents alone: besides masks, hides and row
 * filters, a change of the aggregation threshold per reader and the reader attributes the
 * deciding policies use (conditions and `reader.<name>` in row filters).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PolicyBody } from '../src/contracts/policies.ts';
import { accessDiff } from '../src/modules/policies/policies.diff.ts';

const target = { dataset: 'sales' };
const body = (extra: Partial<PolicyBody>): PolicyBody =>
  ({ target, description: '', masks: [], hide: [], ...extra }) as PolicyBody;

test('a new threshold shows per reader, with before and after', () => {
  const after = [{ name: 'k', policy: body({ when: { roles: ['analyst'] }, minGroupSize: 10 }) }];
  const diff = accessDiff(target, [], after);
  assert.deepEqual(diff, [
    {
      reader: { roles: ['analyst'], attributes: {}, mfa: false },
      masked: [],
      unmasked: [],
      hidden: [],
      shown: [],
      filtersAdded: [],
      filtersRemoved: [],
      threshold: { before: null, after: 10 },
    },
  ]);
  // Raising it: the largest minimum of the policies in force, before and after.
  const other = { name: 'k5', policy: body({ minGroupSize: 5 }) };
  const raised = accessDiff(target, [other], [other, ...after]);
  assert.deepEqual(
    raised.map((d) => [d.reader.roles[0], d.threshold]),
    [['analyst', { before: 5, after: 10 }]],
  );
});

test('the reader attributes the deciding policies use are named (conditions and row filters)', () => {
  const before = [{ name: 'eu-only', policy: body({ when: { attributes: { dept: ['sales'] } }, masks: [] }) }];
  const after = [
    {
      name: 'eu-only',
      policy: body({
        when: { attributes: { dept: ['sales'] } },
        rowFilter: 'region = reader.region or reader.clearance >= 3 or owner = reader.id',
      }),
    },
  ];
  const diff = accessDiff(target, before, after);
  const sales = diff.find((d) => d.reader.attributes.dept === 'sales');
  assert.ok(sales, JSON.stringify(diff));
  assert.deepEqual(sales.filtersAdded, ['eu-only']);
  assert.deepEqual(sales.attributesUsed, ['clearance', 'dept', 'region']);
  // A reader the policy does not select sees no change, so is not listed.
  assert.ok(diff.every((d) => d.reader.attributes.dept === 'sales'));
});
