import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ROLES, type Role } from '../../db/tables/identity.ts';
import { rankOf, refuseAttributes, refuseGrant, refuseManage } from './role-rules.ts';

test('grants: owners anything, admins up to admin, others only what they hold', () => {
  assert.equal(refuseGrant(['owner'], ['owner']), undefined);
  assert.match(refuseGrant(['admin'], ['owner'])!, /Only an owner/);
  assert.equal(refuseGrant(['admin'], ['admin', 'auditor']), undefined);
  assert.match(refuseGrant(['viewer'], ['analyst'])!, /roles you hold/);
  assert.equal(refuseGrant(['analyst', 'viewer'], ['viewer']), undefined);
});

test('manage: only owners touch owners; admins manage up to admins; nobody below admin manages', () => {
  assert.equal(refuseManage(['owner'], ['owner']), undefined);
  assert.match(refuseManage(['admin'], ['owner', 'viewer'])!, /Only an owner/);
  assert.equal(refuseManage(['admin'], ['admin']), undefined);
  assert.match(refuseManage(['steward'], ['viewer'])!, /Only owners and admins/);
});

test('attributes: non-owners give only what they hold', () => {
  assert.equal(refuseAttributes(['owner'], {}, { clearance: 5, region: 'eu' }), undefined);
  assert.equal(refuseAttributes(['admin'], { clearance: 2, region: 'eu' }, { clearance: 2, region: 'eu' }), undefined);
  assert.equal(refuseAttributes(['admin'], { clearance: '3' }, { clearance: 1 }), undefined);
  assert.match(refuseAttributes(['admin'], { clearance: 1 }, { clearance: '2' })!, /clearance/);
  assert.match(refuseAttributes(['admin'], { department: 'ops' }, { department: 'finance' })!, /department/);
});

test('property: whatever is granted or managed, the result never outranks the actor', () => {
  const roles = fc.uniqueArray(fc.constantFrom(...ROLES), { minLength: 1, maxLength: 3 });
  fc.assert(
    fc.property(roles, roles, (actor: Role[], granted: Role[]) => {
      if (refuseGrant(actor, granted) === undefined) {
        assert.ok(rankOf(granted) <= rankOf(actor));
        if (granted.includes('owner')) assert.ok(actor.includes('owner'));
      }
      if (refuseManage(actor, granted) === undefined) assert.ok(rankOf(granted) <= rankOf(actor) && rankOf(actor) >= 2);
    }),
  );
});
