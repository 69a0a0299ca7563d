/**
 * SQL of accounts: users, workspaces, memberships and the one-time setup token. Rows become
 * camelCase objects here; no rule is decided here except the locked last-owner check, which must
 * run under its row locks.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { Role } from '../../db/tables/identity.ts';

export type Executor = Kysely<Database> | Transaction<Database>;

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

type UserRow = {
  id: string;
  email: string;
  display_name: string;
  status: 'active' | 'disabled';
  attributes: unknown;
  mfa_enabled: boolean;
  created_at: Date;
  password_hash: string | null;
};

function toUser(r: UserRow): UserWithHash {
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

const isUuid = (id: string) => /^[0-9a-f-]{36}$/i.test(id);

export async function findUserByEmail(db: Executor, email: string): Promise<UserWithHash | undefined> {
  const r = await db
    .selectFrom('users')
    .selectAll()
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
  return r ? toUser(r) : undefined;
}

export async function findUser(db: Executor, id: string): Promise<UserWithHash | undefined> {
  if (!isUuid(id)) return undefined;
  const r = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toUser(r) : undefined;
}

/** Inserts a user and its memberships (NOT_FOUND when a workspace does not exist). */
export async function insertUser(
  db: Executor,
  input: {
    email: string;
    displayName: string;
    attributes: User['attributes'];
    passwordHash: string | null;
    memberships: readonly { workspace: string; role: Role }[];
  },
): Promise<User> {
  const row = await db
    .insertInto('users')
    .values({
      email: input.email,
      display_name: input.displayName,
      attributes: JSON.stringify(input.attributes),
      password_hash: input.passwordHash,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  for (const m of input.memberships) {
    const found = await db.selectFrom('workspaces').select('id').where('id', '=', m.workspace).executeTakeFirst();
    if (!found) throw new AppError('NOT_FOUND', { detail: `No workspace ${m.workspace}.` });
    await db.insertInto('memberships').values({ workspace_id: m.workspace, user_id: row.id, role: m.role }).execute();
  }
  return publicUser(toUser(row));
}

export async function setPasswordHash(db: Executor, userId: string, hash: string): Promise<void> {
  await db.updateTable('users').set({ password_hash: hash, updated_at: new Date() }).where('id', '=', userId).execute();
}

export async function setStatus(db: Executor, userId: string, status: 'active' | 'disabled'): Promise<void> {
  await db.updateTable('users').set({ status, updated_at: new Date() }).where('id', '=', userId).execute();
}

export async function countUsers(db: Executor): Promise<number> {
  const r = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Roles of a user in one workspace; empty when not a member (or the workspace does not exist). */
export async function rolesIn(db: Executor, userId: string, workspaceId: string): Promise<Role[]> {
  const rows = await db
    .selectFrom('memberships')
    .select('role')
    .where('user_id', '=', userId)
    .where('workspace_id', '=', workspaceId)
    .execute();
  return rows.map((r) => r.role).sort();
}

/** Whether the user is an owner or admin anywhere (MFA is then required). */
export async function isPrivileged(db: Executor, userId: string): Promise<boolean> {
  const r = await db
    .selectFrom('memberships')
    .select('role')
    .where('user_id', '=', userId)
    .where('role', 'in', ['owner', 'admin'])
    .executeTakeFirst();
  return r !== undefined;
}

/** Every workspace a user belongs to, with the roles there. */
export async function membershipsOf(db: Executor, userId: string): Promise<Map<string, Role[]>> {
  const rows = await db
    .selectFrom('memberships')
    .select(['workspace_id', 'role'])
    .where('user_id', '=', userId)
    .execute();
  const out = new Map<string, Role[]>();
  for (const r of rows) out.set(r.workspace_id, [...(out.get(r.workspace_id) ?? []), r.role]);
  return out;
}

/** The workspaces a user belongs to, with names and roles (the console's workspace switcher). */
export async function workspacesOf(
  db: Executor,
  userId: string,
): Promise<{ id: string; name: string; roles: Role[] }[]> {
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

export async function listUsers(db: Executor, workspaceId: string): Promise<(User & { roles: Role[] })[]> {
  const rows = await db
    .selectFrom('users')
    .innerJoin('memberships', 'memberships.user_id', 'users.id')
    .selectAll('users')
    .select('memberships.role')
    .where('memberships.workspace_id', '=', workspaceId)
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

export async function setRoles(
  db: Executor,
  workspaceId: string,
  userId: string,
  roles: readonly Role[],
): Promise<void> {
  await db.deleteFrom('memberships').where('workspace_id', '=', workspaceId).where('user_id', '=', userId).execute();
  for (const role of new Set(roles))
    await db.insertInto('memberships').values({ workspace_id: workspaceId, user_id: userId, role }).execute();
}

/**
 * Refuses (CONFLICT) when `userId` is the last active owner of a workspace and would stop being
 * one: `workspaceIds` lists where it loses the owner role. Locks those workspace rows first, so
 * concurrent demotions or disables in one workspace are serialised and cannot both pass.
 */
export async function keepAnOwner(db: Executor, userId: string, workspaceIds: readonly string[]): Promise<void> {
  for (const workspaceId of [...new Set(workspaceIds)].sort()) {
    await db.selectFrom('workspaces').select('id').where('id', '=', workspaceId).forUpdate().executeTakeFirst();
    const others = await db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select('users.id')
      .where('memberships.workspace_id', '=', workspaceId)
      .where('memberships.role', '=', 'owner')
      .where('users.status', '=', 'active')
      .where('users.id', '<>', userId)
      .limit(1)
      .executeTakeFirst();
    if (!others)
      throw new AppError('CONFLICT', {
        detail: `This is the last owner of workspace ${workspaceId}; make someone else an owner first.`,
      });
  }
}

/** Inserts a workspace (and its first owner); false when the id is taken. */
export async function insertWorkspace(
  db: Executor,
  workspaceId: string,
  name: string,
  ownerId: string | undefined,
): Promise<boolean> {
  const created = await db
    .insertInto('workspaces')
    .values({ id: workspaceId, name })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!created) return false;
  if (ownerId)
    await db.insertInto('memberships').values({ workspace_id: workspaceId, user_id: ownerId, role: 'owner' }).execute();
  return true;
}

/** The one setup token row (id 1). */
export async function saveSetupToken(db: Executor, tokenHash: string, expiresAt: Date): Promise<void> {
  const row = { token_hash: tokenHash, expires_at: expiresAt, used_at: null };
  await db
    .insertInto('setup_tokens')
    .values({ id: 1, ...row })
    .onConflict((oc) => oc.column('id').doUpdateSet(row))
    .execute();
}

/** The setup token row, locked until the transaction ends (so it is redeemed once). */
export async function lockSetupToken(
  trx: Transaction<Database>,
): Promise<{ tokenHash: string; usedAt: Date | null; expiresAt: Date } | undefined> {
  const r = await trx.selectFrom('setup_tokens').selectAll().where('id', '=', 1).forUpdate().executeTakeFirst();
  return r && { tokenHash: r.token_hash, usedAt: r.used_at, expiresAt: new Date(r.expires_at) };
}

export async function markSetupTokenUsed(trx: Transaction<Database>, now: Date): Promise<void> {
  await trx.updateTable('setup_tokens').set({ used_at: now }).where('id', '=', 1).execute();
}
