/**
 * What the member-administration routes share: a role rule's refusal (`deny(reason)`: the pipeline
 * records the route's event as `denied`, then 403 with the rule's reason — see NOTES.md "Events"), the member a route names (404 when the user
 * is not in the route's workspace), and the caller's roles as the rules take them.
 */
import { AppError } from '../../core/errors.ts';
import { ROLES, type Role } from '../../db/tables/identity.ts';
import type { ExplicitCtx, Schemas } from '../../http/route.ts';
import type { IdentityModule } from './identity.service.ts';
import { refuseManage } from './role-rules.ts';

/** The caller's roles in the route's workspace (the auth plugin resolved them for `:ws`). */
export const rolesOf = (roles: readonly string[]): Role[] =>
  roles.filter((r): r is Role => (ROLES as readonly string[]).includes(r));

/** A role rule's refusal: recorded by the pipeline as denied, answered 403 with the rule's reason; nothing when `reason` is empty. */
export function refuse(ctx: Pick<ExplicitCtx<Schemas, unknown>, 'deny'>, reason: string | undefined | false): void {
  if (reason) ctx.deny(reason);
}

/** The user `id` with their roles in `workspaceId`; 404 when they are not a member there. */
export async function memberOf(identity: IdentityModule, workspaceId: string, id: string) {
  const roles = await identity.users.rolesIn(id, workspaceId);
  const user = roles.length > 0 ? await identity.users.find(id) : undefined;
  if (!user) throw new AppError('NOT_FOUND', { detail: 'No such user in this workspace.' });
  return { user, roles };
}

/**
 * Why the caller may not change an account everywhere it exists (disable, enable): it must be
 * allowed to manage the user in every workspace the user belongs to, not only this one.
 */
export async function refuseEverywhere(
  identity: IdentityModule,
  actor: { id: string; roles: readonly string[] },
  workspaceId: string,
  userId: string,
): Promise<string | undefined> {
  for (const [other, roles] of await identity.users.membershipsOf(userId)) {
    const why = refuseManage(
      other === workspaceId ? rolesOf(actor.roles) : await identity.users.rolesIn(actor.id, other),
      roles,
    );
    if (why)
      return other === workspaceId
        ? why
        : `This user also belongs to workspace ${other}, where you cannot manage them.`;
  }
  return undefined;
}
