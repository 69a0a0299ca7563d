/**
 * Who may grant, change or remove which roles and attributes (DESIGN §5.11: no principal can
 * grant more than it holds). Pure functions; the routes call them on every path that sets a role
 * or an attribute (create user, change roles, disable, service accounts), and the service checks
 * the last-owner rule inside the transaction that makes the change.
 *
 * The rule:
 * - Roles are ranked owner > admin > every other role. An actor may grant only roles at or below
 *   its own highest role in that workspace (below admin: only roles it holds), and may change or
 *   disable only members whose roles there are all at or below its own (owners and admins only).
 * - Only owners grant the owner role, and only owners change or disable an owner.
 * - A non-owner may give a new user only attribute values it holds itself (clearance at most its
 *   own, the same region and department): attributes open data to their holder.
 * - The last active owner of a workspace can never be demoted or disabled (checked in the store's
 *   transaction with the workspace row locked, so two owners cannot remove each other at once).
 */
import type { Role } from '../../db/tables/identity.ts';

const RANK: Record<Role, number> = { owner: 3, admin: 2, steward: 1, engineer: 1, analyst: 1, viewer: 1, auditor: 1 };

export const rankOf = (roles: readonly Role[]): number => roles.reduce((m, r) => Math.max(m, RANK[r] ?? 0), 0);

/** Why `actorRoles` may not grant `roles`, or undefined when it may. */
export function refuseGrant(actorRoles: readonly Role[], roles: readonly Role[]): string | undefined {
  if (roles.includes('owner') && !actorRoles.includes('owner')) return 'Only an owner can grant the owner role.';
  if (rankOf(roles) > rankOf(actorRoles)) return 'You can grant only roles at or below your own.';
  // Below admin, roles are not ordered (an analyst reads data, an auditor reads the trail): a
  // member allowed by a workspace policy to add people may give only roles it holds itself.
  if (rankOf(actorRoles) < RANK.admin && roles.some((r) => !actorRoles.includes(r)))
    return 'You can grant only roles you hold yourself.';
  return undefined;
}

/** Why `actorRoles` may not change or disable a member holding `targetRoles`, or undefined. */
export function refuseManage(actorRoles: readonly Role[], targetRoles: readonly Role[]): string | undefined {
  if (targetRoles.includes('owner') && !actorRoles.includes('owner'))
    return 'Only an owner can change or disable an owner.';
  if (rankOf(targetRoles) > rankOf(actorRoles))
    return 'You can change only members whose roles are at or below your own.';
  if (rankOf(actorRoles) < RANK.admin) return 'Only owners and admins manage members.';
  return undefined;
}

type Attrs = Readonly<Record<string, string | number | boolean | undefined>>;

function clearanceOf(v: unknown): number {
  const n = typeof v === 'string' && /^\d{1,6}$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** Why an actor with `actorRoles`/`actorAttrs` may not give `attrs` to someone, or undefined. */
export function refuseAttributes(actorRoles: readonly Role[], actorAttrs: Attrs, attrs: Attrs): string | undefined {
  if (actorRoles.includes('owner')) return undefined;
  if (attrs.clearance !== undefined && clearanceOf(attrs.clearance) > clearanceOf(actorAttrs.clearance)) {
    return 'You can give a clearance only up to your own; ask an owner.';
  }
  for (const k of ['region', 'department'] as const) {
    if (attrs[k] !== undefined && attrs[k] !== '' && attrs[k] !== actorAttrs[k])
      return `You can give only your own ${k}; ask an owner.`;
  }
  return undefined;
}
