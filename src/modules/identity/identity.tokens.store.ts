/** SQL of API tokens (only the SHA-256 of a token is stored) and service accounts. */
import type { Role } from '../../db/tables/identity.ts';
import type { Executor } from './identity.users.store.ts';

export interface TokenInfo {
  id: string;
  name: string;
  workspace: string;
  scopes: string[];
  userId: string | null;
  serviceAccountId: string | null;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface ServiceAccount {
  id: string;
  workspace: string;
  name: string;
  role: Role;
  createdBy: string;
  createdAt: string;
  disabledAt: string | null;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const isUuid = (id: string) => /^[0-9a-f-]{36}$/i.test(id);

type TokenRow = {
  id: string;
  name: string;
  workspace_id: string;
  scopes: unknown;
  user_id: string | null;
  service_account_id: string | null;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  last_used_at: Date | null;
};

function toInfo(r: TokenRow): TokenInfo {
  return {
    id: r.id,
    name: r.name,
    workspace: r.workspace_id,
    scopes: (typeof r.scopes === 'string' ? JSON.parse(r.scopes) : r.scopes) as string[],
    userId: r.user_id,
    serviceAccountId: r.service_account_id,
    createdAt: iso(r.created_at)!,
    expiresAt: iso(r.expires_at)!,
    revokedAt: iso(r.revoked_at),
    lastUsedAt: iso(r.last_used_at),
  };
}

export async function insertToken(
  db: Executor,
  t: {
    id: string;
    hash: string;
    name: string;
    workspaceId: string;
    scopes: string[];
    owner: { userId: string } | { serviceAccountId: string };
    now: Date;
    expiresAt: Date;
  },
): Promise<TokenInfo> {
  const row = await db
    .insertInto('api_tokens')
    .values({
      id: t.id,
      hash: t.hash,
      name: t.name,
      user_id: 'userId' in t.owner ? t.owner.userId : null,
      service_account_id: 'serviceAccountId' in t.owner ? t.owner.serviceAccountId : null,
      workspace_id: t.workspaceId,
      scopes: JSON.stringify(t.scopes),
      created_at: t.now,
      expires_at: t.expiresAt,
      revoked_at: null,
      last_used_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toInfo(row);
}

/** The token row with its hash, and whether its owner (user or service account) is still active. */
export async function findTokenForUse(
  db: Executor,
  id: string,
): Promise<{ info: TokenInfo; hash: string; ownerActive: boolean } | undefined> {
  const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  let ownerActive: boolean;
  if (row.user_id) {
    const u = await db.selectFrom('users').select('status').where('id', '=', row.user_id).executeTakeFirst();
    ownerActive = u?.status === 'active';
  } else {
    const sa = await db
      .selectFrom('service_accounts')
      .select('disabled_at')
      .where('id', '=', row.service_account_id!)
      .executeTakeFirst();
    ownerActive = sa !== undefined && sa.disabled_at === null;
  }
  return { info: toInfo(row), hash: row.hash, ownerActive };
}

export async function touchToken(db: Executor, id: string, now: Date): Promise<void> {
  await db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', id).execute();
}

export async function listTokens(
  db: Executor,
  filter: { userId: string } | { workspace: string },
): Promise<TokenInfo[]> {
  let q = db.selectFrom('api_tokens').selectAll().orderBy('created_at');
  q = 'userId' in filter ? q.where('user_id', '=', filter.userId) : q.where('workspace_id', '=', filter.workspace);
  return (await q.execute()).map(toInfo);
}

export async function findToken(db: Executor, id: string): Promise<TokenInfo | undefined> {
  const r = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toInfo(r) : undefined;
}

export async function revokeToken(db: Executor, id: string, now: Date): Promise<void> {
  await db
    .updateTable('api_tokens')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .execute();
}

type SaRow = {
  id: string;
  workspace_id: string;
  name: string;
  role: Role;
  created_by: string;
  created_at: Date;
  disabled_at: Date | null;
};

const toSa = (r: SaRow): ServiceAccount => ({
  id: r.id,
  workspace: r.workspace_id,
  name: r.name,
  role: r.role,
  createdBy: r.created_by,
  createdAt: iso(r.created_at)!,
  disabledAt: iso(r.disabled_at),
});

/** Inserts a service account; undefined when the name is taken in the workspace. */
export async function insertServiceAccount(
  db: Executor,
  workspaceId: string,
  name: string,
  role: Role,
  createdBy: string,
): Promise<ServiceAccount | undefined> {
  const exists = await db
    .selectFrom('service_accounts')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .executeTakeFirst();
  if (exists) return undefined;
  return toSa(
    await db
      .insertInto('service_accounts')
      .values({ workspace_id: workspaceId, name, role, created_by: createdBy })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
}

/** A service account by id; with `workspaceId`, only when it belongs there. */
export async function findServiceAccount(
  db: Executor,
  id: string,
  workspaceId?: string,
): Promise<ServiceAccount | undefined> {
  if (!isUuid(id)) return undefined;
  let q = db.selectFrom('service_accounts').selectAll().where('id', '=', id);
  if (workspaceId !== undefined) q = q.where('workspace_id', '=', workspaceId);
  const r = await q.executeTakeFirst();
  return r ? toSa(r) : undefined;
}

export async function listServiceAccounts(db: Executor, workspaceId: string): Promise<ServiceAccount[]> {
  return (
    await db
      .selectFrom('service_accounts')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .orderBy('name')
      .execute()
  ).map(toSa);
}

export async function disableServiceAccount(db: Executor, id: string, now: Date): Promise<void> {
  await db
    .updateTable('service_accounts')
    .set({ disabled_at: now })
    .where('id', '=', id)
    .where('disabled_at', 'is', null)
    .execute();
}
