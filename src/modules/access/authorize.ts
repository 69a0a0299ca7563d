/**
 * Authorization decisions. Default deny: an action is allowed only by an explicit rule.
 *
 * Interim policy until the identity issue brings users, roles and Cedar: the only credential is
 * the operator token, and it may do the operator actions (keys, audit, seal). Every other actor
 * and action is denied. The function's shape is the one Cedar will fill.
 */
import type { Actor } from '../../core/actor.ts';

export interface Decision {
  allowed: boolean;
  reason: string;
}

const OPERATOR_ACTION = /^(keys|audit|operator)\.[a-z-]+\.[a-z-]+$/;

export function authorize(actor: Actor, action: string, _resource: { type: string; id?: string } = { type: 'system' }): Decision {
  if (actor.kind === 'operator' && OPERATOR_ACTION.test(action)) return { allowed: true, reason: 'operator action' };
  if (actor.kind === 'anonymous') return { allowed: false, reason: 'not authenticated' };
  return { allowed: false, reason: 'no policy allows this action' };
}
