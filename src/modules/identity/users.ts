/** Users, workspaces and memberships: the account model (SSO links through external_identities). */
import { sql } from 'kysely';
import { AppError } from '../../core/errors.ts';
import type { Role } from '../../db/tables/identity.ts';
import type { Executor } from './deps.ts';
import { hashPassword } from './password-hash.ts';
import { checkPassword } from './password-policy.ts';

export interface User {
  id: string;
  email: string;
  displayName: string;
  status: 'active' | 'disabled';
  attributes: Record<string, string | number | boolean>;
  mfaEnabled: boolean;
  createdAt: string;
}

export interface UserWithHash extends User {
  passwordHash: string | null;
}

export interface NewUser {
  email: string;
  displayName: string;
  password?: string;
  attributes?: Record<string, string | number | boolean>;
  memberships: { workspace: string; role: Role }[];
}

const PRIVILEGED: readonly string[] = ['owner', 'admin'];

function toUser(r: { id: string; email: string; display_name: string; status: 'active' | 'disabled'; attributes: unknown; mfa_enabled: boolean; created_at: Date; password_hash: string | null }): UserWithHash {
  return {
    id: r.id,
    email: r.email,
    displayName: r.display_name,
    status: r.status,
    attributes: (typeof r.attributes === 'string' ? JSON.parse(r.attributes) : r.attributes) as User['attributes'],
    mfaEnabled: r.mfa_enabled,
    createdAt: new Date(r.created_at).toISOString(),
    passwordHash: r.password_hash,
  };
}

export function publicUser(u: UserWithHash): User {
  const { passwordHash: _ignored, ...rest } = u;
  return rest;
}

/** A 422 that names the field and says why. */
export function passwordRefused(reason: string): AppError {
  return new AppError('VALIDATION_FAILED', { detail: reason, meta: { issues: [{ location: 'body', path: '/password', message: reason }] } });
}

export async function findUserByEmail(db: Executor, email: string): Promise<UserWithHash | undefined> {
  const r = await db.selectFrom('users').selectAll().where(sql<string>`lower(email)`, '=', email.toLowerCase()).executeTakeFirst();
  return r ? toUser(r) : undefined;
}

export async function findUser(db: Executor, id: string): Promise<UserWithHash | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const r = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toUser(r) : undefined;
}

export async function createUser(db: Executor, input: NewUser): Promise<User> {
  if (input.password !== undefined) {
    const why = checkPassword(input.password, { email: input.email, displayName: input.displayName, mfa: false });
    if (why) throw passwordRefused(why);
  }
  if (await findUserByEmail(db, input.email)) throw new AppError('CONFLICT', { detail: 'A user with this email already exists.' });
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
  const row = await db
    .insertInto('users')
    .values({ email: input.email, display_name: input.displayName, attributes: JSON.stringify(input.attributes ?? {}), password_hash: passwordHash })
    .returningAll()
    .executeTakeFirstOrThrow();
  for (const m of input.memberships) {
    const ws = await db.selectFrom('workspaces').select('id').where('id', '=', m.workspace).executeTakeFirst();
    if (!ws) throw new AppError('NOT_FOUND', { detail: `No workspace ${m.workspace}.` });
    await db.insertInto('memberships').values({ workspace_id: m.workspace, user_id: row.id, role: m.role }).execute();
  }
  return publicUser(toUser(row));
}

export async function setPasswordHash(db: Executor, userId: string, hash: string): Promise<void> {
  await db.updateTable('users').set({ password_hash: hash, updated_at: new Date() }).where('id', '=', userId).execute();
}

/** Roles of a user in one workspace; empty when not a member (or the workspace does not exist). */
export async function rolesIn(db: Executor, userId: string, workspace: string): Promise<Role[]> {
  const rows = await db.selectFrom('memberships').select('role').where('user_id', '=', userId).where('workspace_id', '=', workspace).execute();
  return rows.map((r) => r.role).sort();
}

/** Owners and admins (in any workspace) must have MFA. */
export async function isPrivileged(db: Executor, userId: string): Promise<boolean> {
  const r = await db.selectFrom('memberships').select('role').where('user_id', '=', userId).where('role', 'in', PRIVILEGED as Role[]).executeTakeFirst();
  return r !== undefined;
}

/** The workspaces a user belongs to, with their roles in each (for the console's workspace switcher). */
export async function workspacesOf(db: Executor, userId: string): Promise<{ id: string; name: string; roles: Role[] }[]> {
  const rows = await db
    .selectFrom('memberships')
    .innerJoin('workspaces', 'workspaces.id', 'memberships.workspace_id')
    .select(['workspaces.id', 'workspaces.name', 'memberships.role'])
    .where('memberships.user_id', '=', userId)
    .orderBy('workspaces.id')
    .execute();
  const byId = new Map<string, { id: string; name: string; roles: Role[] }>();
  for (const r of rows) {
    const w = byId.get(r.id) ?? { id: r.id, name: r.name, roles: [] };
    w.roles.push(r.role);
    byId.set(r.id, w);
  }
  return [...byId.values()];
}

export async function listUsers(db: Executor, workspace: string): Promise<(User & { roles: Role[] })[]> {
  const rows = await db
    .selectFrom('users')
    .innerJoin('memberships', 'memberships.user_id', 'users.id')
    .selectAll('users')
    .select('memberships.role')
    .where('memberships.workspace_id', '=', workspace)
    .orderBy('users.email')
    .execute();
  const byId = new Map<string, User & { roles: Role[] }>();
  for (const r of rows) {
    const u = byId.get(r.id) ?? { ...publicUser(toUser(r)), roles: [] };
    u.roles.push(r.role);
    byId.set(r.id, u);
  }
  return [...byId.values()];
}

export async function setStatus(db: Executor, userId: string, status: 'active' | 'disabled'): Promise<void> {
  await db.updateTable('users').set({ status, updated_at: new Date() }).where('id', '=', userId).execute();
}

export async function setRoles(db: Executor, workspace: string, userId: string, roles: Role[]): Promise<void> {
  await db.deleteFrom('memberships').where('workspace_id', '=', workspace).where('user_id', '=', userId).execute();
  for (const role of new Set(roles)) await db.insertInto('memberships').values({ workspace_id: workspace, user_id: userId, role }).execute();
}

/**
 * Refuses (CONFLICT) when `userId` is the last active owner of a workspace and would stop being
 * one: `workspaces` lists where it loses the owner role. Locks those workspace rows first, so
 * concurrent demotions or disables in one workspace are serialised and cannot both pass.
 */
export async function keepAnOwner(db: Executor, userId: string, workspaces: readonly string[]): Promise<void> {
  for (const ws of [...new Set(workspaces)].sort()) {
    await db.selectFrom('workspaces').select('id').where('id', '=', ws).forUpdate().executeTakeFirst();
    const others = await db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select('users.id')
      .where('memberships.workspace_id', '=', ws)
      .where('memberships.role', '=', 'owner')
      .where('users.status', '=', 'active')
      .where('users.id', '<>', userId)
      .limit(1)
      .executeTakeFirst();
    if (!others) throw new AppError('CONFLICT', { detail: `This is the last owner of workspace ${ws}; make someone else an owner first.` });
  }
}

/** Every workspace a user belongs to, with the roles there. */
export async function membershipsOf(db: Executor, userId: string): Promise<Map<string, Role[]>> {
  const rows = await db.selectFrom('memberships').select(['workspace_id', 'role']).where('user_id', '=', userId).execute();
  const out = new Map<string, Role[]>();
  for (const r of rows) out.set(r.workspace_id, [...(out.get(r.workspace_id) ?? []), r.role]);
  return out;
}

export async function countUsers(db: Executor): Promise<number> {
  const r = await db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}
