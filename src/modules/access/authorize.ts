/**
 * The plain `authorize(actor, action, resource?)` every existing caller uses, backed by one
 * default `AccessControl` with the built-in policies only (no workspace policies). Created on
 * first use; the server should rather create its own with `createAccessControl()` at start (so a
 * broken built-in policy stops start-up) and pass `ac.authorize` where decisions are made.
 */
import type { Actor } from '../../core/actor.ts';
import { createAccessControl, type AccessControl, type Decision } from './access-control.ts';
import type { ResourceRef } from './cedar-request.ts';

let defaultAccessControl: AccessControl | undefined;

/** The built-in-only access control, created once. */
export function builtinAccessControl(): AccessControl {
  defaultAccessControl ??= createAccessControl();
  return defaultAccessControl;
}

/** Decide with the built-in policies. Synchronous; never throws. */
export function authorize(actor: Actor, action: string, resource?: ResourceRef): Decision {
  return builtinAccessControl().authorize(actor, action, resource);
}
