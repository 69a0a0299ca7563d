/**
 * API tokens and service accounts. A token is `srt_<12 hex id>_<43 base64url secret>`: the
 * prefix makes it recognisable to secret scanners, the id finds the row, and only the SHA-256 of
 * the whole token is stored (compared in constant time). It is bound to one workspace and a list
 * of allowed actions (`identity.self.read`, or a prefix `vault.*`), expires, can be revoked, and
 * records when it was last used. A token never grants more than its owner's roles: the actor it
 * yields still goes through `authorize`.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../../core/errors.ts';
import type { Role } from '../../db/tables/identity.ts';
import type { Executor } from './deps.ts';
import { randomToken, safeEqual, sha256Hex } from './tokens-crypto.ts';

export const API_TOKEN_PREFIX = 'srt_';
const TOKEN_PATTERN = /^srt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

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

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function toInfo(r: { id: string; name: string; workspace_id: string; scopes: unknown; user_id: string | null; service_account_id: string | null; created_at: Date; expires_at: Date; revoked_at: Date | null; last_used_at: Date | null }): TokenInfo {
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

/** Whether a token's scopes allow an action: exact name, `prefix.*`, or `*`. */
export function scopeAllows(scopes: readonly string[], action: string): boolean {
  return scopes.some((s) => s === '*' || s === action || (s.endsWith('.*') && action.startsWith(s.slice(0, -1))));
}

export interface NewToken {
  name: string;
  workspace: string;
  scopes: string[];
  expiresInDays: number;
  owner: { userId: string } | { serviceAccountId: string };
}

export async function createToken(db: Executor, input: NewToken, now: Date): Promise<{ token: string; info: TokenInfo }> {
  const id = randomBytes(6).toString('hex');
  const token = `${API_TOKEN_PREFIX}${id}_${randomToken(32)}`;
  const row = await db
    .insertInto('api_tokens')
    .values({
      id,
      hash: sha256Hex(token),
      name: input.name,
      user_id: 'userId' in input.owner ? input.owner.userId : null,
      service_account_id: 'serviceAccountId' in input.owner ? input.owner.serviceAccountId : null,
      workspace_id: input.workspace,
      scopes: JSON.stringify(input.scopes),
      created_at: now,
      expires_at: new Date(now.getTime() + input.expiresInDays * 86_400_000),
      revoked_at: null,
      last_used_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { token, info: toInfo(row) };
}

/** The live token for a presented value (last use recorded); undefined if unknown, expired, revoked or its owner disabled. */
export async function useToken(db: Executor, presented: string, now: Date): Promise<TokenInfo | undefined> {
  const m = TOKEN_PATTERN.exec(presented);
  if (!m) return undefined;
  const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', m[1]!).executeTakeFirst();
  if (!row || !safeEqual(row.hash, sha256Hex(presented))) return undefined;
  if (row.revoked_at !== null || new Date(row.expires_at) <= now) return undefined;
  if (row.user_id) {
    const u = await db.selectFrom('users').select('status').where('id', '=', row.user_id).executeTakeFirst();
    if (u?.status !== 'active') return undefined;
  } else {
    const sa = await db.selectFrom('service_accounts').select('disabled_at').where('id', '=', row.service_account_id!).executeTakeFirst();
    if (!sa || sa.disabled_at !== null) return undefined;
  }
  await db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
  return toInfo({ ...row, last_used_at: now });
}

export async function listTokens(db: Executor, filter: { userId: string } | { workspace: string }): Promise<TokenInfo[]> {
  let q = db.selectFrom('api_tokens').selectAll().orderBy('created_at');
  q = 'userId' in filter ? q.where('user_id', '=', filter.userId) : q.where('workspace_id', '=', filter.workspace);
  return (await q.execute()).map(toInfo);
}

export async function findToken(db: Executor, id: string): Promise<TokenInfo | undefined> {
  const r = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toInfo(r) : undefined;
}

export async function revokeToken(db: Executor, id: string, now: Date): Promise<void> {
  await db.updateTable('api_tokens').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).execute();
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

const toSa = (r: { id: string; workspace_id: string; name: string; role: Role; created_by: string; created_at: Date; disabled_at: Date | null }): ServiceAccount => ({
  id: r.id,
  workspace: r.workspace_id,
  name: r.name,
  role: r.role,
  createdBy: r.created_by,
  createdAt: iso(r.created_at)!,
  disabledAt: iso(r.disabled_at),
});

export async function createServiceAccount(db: Executor, workspace: string, name: string, role: Role, createdBy: string): Promise<ServiceAccount> {
  const exists = await db.selectFrom('service_accounts').select('id').where('workspace_id', '=', workspace).where('name', '=', name).executeTakeFirst();
  if (exists) throw new AppError('CONFLICT', { detail: 'A service account with this name already exists.' });
  return toSa(await db.insertInto('service_accounts').values({ workspace_id: workspace, name, role, created_by: createdBy }).returningAll().executeTakeFirstOrThrow());
}

export async function findServiceAccount(db: Executor, workspace: string, id: string): Promise<ServiceAccount | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const r = await db.selectFrom('service_accounts').selectAll().where('id', '=', id).where('workspace_id', '=', workspace).executeTakeFirst();
  return r ? toSa(r) : undefined;
}

export async function listServiceAccounts(db: Executor, workspace: string): Promise<ServiceAccount[]> {
  return (await db.selectFrom('service_accounts').selectAll().where('workspace_id', '=', workspace).orderBy('name').execute()).map(toSa);
}

export async function disableServiceAccount(db: Executor, id: string, now: Date): Promise<void> {
  await db.updateTable('service_accounts').set({ disabled_at: now }).where('id', '=', id).where('disabled_at', 'is', null).execute();
}
