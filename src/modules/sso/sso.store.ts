/** Every SQL statement of the sso module (tables of migration 0014, and `external_identities`). */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { Role } from '../../db/tables/identity.ts';

export type Executor = Kysely<Database> | Transaction<Database>;
type ProviderRow = Database['sso_providers'];

export interface ProviderRecord {
  id: string;
  kind: 'oidc' | 'saml';
  displayName: string;
  issuer: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  secretSealed: Buffer | null;
  lastError: string | null;
  lastErrorAt: Date | null;
}

const json = (v: unknown): Record<string, unknown> =>
  (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown>;

function toProvider(r: {
  id: string;
  kind: 'oidc' | 'saml';
  display_name: string;
  issuer: string;
  enabled: boolean;
  settings: unknown;
  secret_sealed: Buffer | Uint8Array | null;
  last_error: string | null;
  last_error_at: Date | string | null;
}): ProviderRecord {
  return {
    id: r.id,
    kind: r.kind,
    displayName: r.display_name,
    issuer: r.issuer,
    enabled: r.enabled,
    settings: json(r.settings),
    secretSealed: r.secret_sealed ? Buffer.from(r.secret_sealed) : null,
    lastError: r.last_error,
    lastErrorAt: r.last_error_at ? new Date(r.last_error_at) : null,
  };
}

export async function listProviders(db: Executor): Promise<ProviderRecord[]> {
  return (await db.selectFrom('sso_providers').selectAll().orderBy('id').execute()).map(toProvider);
}

export async function findProvider(db: Executor, id: string): Promise<ProviderRecord | undefined> {
  const r = await db.selectFrom('sso_providers').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toProvider(r) : undefined;
}

export async function issuerTaken(db: Executor, issuer: string, exceptId?: string): Promise<boolean> {
  let q = db.selectFrom('sso_providers').select('id').where('issuer', '=', issuer);
  if (exceptId) q = q.where('id', '<>', exceptId);
  return (await q.executeTakeFirst()) !== undefined;
}

export async function insertProvider(
  trx: Executor,
  p: Omit<ProviderRecord, 'lastError' | 'lastErrorAt'>,
): Promise<boolean> {
  const r = await trx
    .insertInto('sso_providers')
    .values({
      id: p.id,
      kind: p.kind,
      display_name: p.displayName,
      issuer: p.issuer,
      enabled: p.enabled,
      settings: JSON.stringify(p.settings),
      secret_sealed: p.secretSealed,
    } satisfies Partial<{ [K in keyof ProviderRow]: unknown }>)
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function updateProvider(
  trx: Executor,
  p: Omit<ProviderRecord, 'lastError' | 'lastErrorAt' | 'kind' | 'secretSealed'> & { secretSealed?: Buffer | null },
  now: Date,
): Promise<void> {
  await trx
    .updateTable('sso_providers')
    .set({
      display_name: p.displayName,
      issuer: p.issuer,
      enabled: p.enabled,
      settings: JSON.stringify(p.settings),
      ...(p.secretSealed !== undefined ? { secret_sealed: p.secretSealed } : {}),
      updated_at: now,
    })
    .where('id', '=', p.id)
    .execute();
}

export async function deleteProvider(trx: Executor, id: string): Promise<void> {
  await trx.deleteFrom('sso_providers').where('id', '=', id).execute();
}

/** The last sign-in problem an admin should see (group overage, IdP unreachable); `undefined` clears it. */
export async function setProviderError(
  db: Executor,
  id: string,
  message: string | undefined,
  now: Date,
): Promise<void> {
  await db
    .updateTable('sso_providers')
    .set({ last_error: message ?? null, last_error_at: message ? now : null })
    .where('id', '=', id)
    .execute();
}

export interface PendingLogin {
  stateHash: string;
  providerId: string;
  nonce: string;
  verifierSealed: Buffer | null;
  requestId: string | null;
  returnTo: string;
  linkUserId: string | null;
  /** A sign-in started by the CLI: SHA-256 (base64url) of its verifier. */
  cliChallenge?: string | null;
}

export async function insertPending(db: Executor, p: PendingLogin, expiresAt: Date): Promise<void> {
  await db
    .insertInto('sso_pending_logins')
    .values({
      state_hash: p.stateHash,
      provider_id: p.providerId,
      nonce: p.nonce,
      verifier_sealed: p.verifierSealed,
      request_id: p.requestId,
      return_to: p.returnTo,
      link_user_id: p.linkUserId,
      cli_challenge: p.cliChallenge ?? null,
      expires_at: expiresAt,
    })
    .execute();
  // Expired rows go as new ones come (bounded work per start).
  await sql`delete from sso_pending_logins where state_hash in (
    select state_hash from sso_pending_logins where expires_at < now() - interval '1 hour' limit 100)`.execute(db);
}

/** Marks a pending sign-in used and returns it — once: a second call, or an expired one, gets undefined. */
export async function takePending(
  db: Executor,
  stateHash: string,
  providerId: string,
  now: Date,
): Promise<PendingLogin | undefined> {
  const r = await db
    .updateTable('sso_pending_logins')
    .set({ used_at: now })
    .where('state_hash', '=', stateHash)
    .where('provider_id', '=', providerId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
  if (!r) return undefined;
  return {
    stateHash: r.state_hash,
    providerId: r.provider_id,
    nonce: r.nonce,
    verifierSealed: r.verifier_sealed ? Buffer.from(r.verifier_sealed) : null,
    requestId: r.request_id,
    returnTo: r.return_to,
    linkUserId: r.link_user_id,
    cliChallenge: r.cli_challenge,
  };
}

/** Records a SAML assertion id; false when it was seen before (a replay). */
export async function rememberAssertion(
  trx: Executor,
  providerId: string,
  assertionId: string,
  expiresAt: Date,
  now: Date,
): Promise<boolean> {
  await trx.deleteFrom('sso_assertion_ids').where('expires_at', '<', now).execute();
  const r = await trx
    .insertInto('sso_assertion_ids')
    .values({ provider_id: providerId, assertion_id: assertionId, expires_at: expiresAt })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function findIdentity(
  db: Executor,
  issuer: string,
  subject: string,
): Promise<{ userId: string; providerId: string | null } | undefined> {
  const r = await db
    .selectFrom('external_identities')
    .select(['user_id', 'provider_id'])
    .where('issuer', '=', issuer)
    .where('subject', '=', subject)
    .executeTakeFirst();
  return r ? { userId: r.user_id, providerId: r.provider_id } : undefined;
}

export async function linkIdentity(
  trx: Executor,
  i: { issuer: string; subject: string; userId: string; providerId: string },
): Promise<void> {
  await trx
    .insertInto('external_identities')
    .values({ issuer: i.issuer, subject: i.subject, user_id: i.userId, provider_id: i.providerId })
    .execute();
}

export async function hasIdentity(db: Executor, userId: string): Promise<boolean> {
  return (
    (await db.selectFrom('external_identities').select('user_id').where('user_id', '=', userId).executeTakeFirst()) !==
    undefined
  );
}

export interface Mapping {
  workspace: string;
  provider: string;
  group: string;
  role: Role;
}

export async function mappingsOfProvider(db: Executor, providerId: string): Promise<Mapping[]> {
  const rows = await db.selectFrom('sso_role_mappings').selectAll().where('provider_id', '=', providerId).execute();
  return rows.map((r) => ({ workspace: r.workspace_id, provider: r.provider_id, group: r.group_name, role: r.role }));
}

export async function mappingsOfWorkspace(db: Executor, workspaceId: string): Promise<Mapping[]> {
  const rows = await db
    .selectFrom('sso_role_mappings')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy(['provider_id', 'group_name', 'role'])
    .execute();
  return rows.map((r) => ({ workspace: r.workspace_id, provider: r.provider_id, group: r.group_name, role: r.role }));
}

export async function replaceMappings(
  trx: Executor,
  workspaceId: string,
  providerId: string,
  list: readonly { group: string; role: Role }[],
): Promise<void> {
  await trx
    .deleteFrom('sso_role_mappings')
    .where('workspace_id', '=', workspaceId)
    .where('provider_id', '=', providerId)
    .execute();
  if (list.length === 0) return;
  await trx
    .insertInto('sso_role_mappings')
    .values(
      list.map((m) => ({ workspace_id: workspaceId, provider_id: providerId, group_name: m.group, role: m.role })),
    )
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function enforcement(db: Executor, workspaceId: string): Promise<boolean> {
  const r = await db
    .selectFrom('sso_workspace_settings')
    .select('enforce_sso')
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  return r?.enforce_sso ?? false;
}

export async function setEnforcement(trx: Executor, workspaceId: string, enforce: boolean, now: Date): Promise<void> {
  await trx
    .insertInto('sso_workspace_settings')
    .values({ workspace_id: workspaceId, enforce_sso: enforce, updated_at: now })
    .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ enforce_sso: enforce, updated_at: now }))
    .execute();
}

/**
 * For password sign-in: the memberships of a user with an SSO identity in workspaces that enforce
 * single sign-on. Empty when the user has no SSO identity or no such membership.
 */
export async function enforcingWorkspaces(db: Executor, userId: string): Promise<{ workspace: string; role: Role }[]> {
  const rows = await db
    .selectFrom('memberships as m')
    .innerJoin('sso_workspace_settings as s', 's.workspace_id', 'm.workspace_id')
    .select(['m.workspace_id', 'm.role'])
    .where('m.user_id', '=', userId)
    .where('s.enforce_sso', '=', true)
    .where((eb) =>
      eb.exists(eb.selectFrom('external_identities as e').select('e.user_id').where('e.user_id', '=', userId)),
    )
    .execute();
  return rows.map((r) => ({ workspace: r.workspace_id, role: r.role }));
}

export async function hasMembership(db: Executor, userId: string): Promise<boolean> {
  const r = await db.selectFrom('memberships').select('user_id').where('user_id', '=', userId).executeTakeFirst();
  return r !== undefined;
}

/** Every workspace id (the operator's posture run looks at each). */
export async function workspaceIds(db: Executor): Promise<string[]> {
  return (await db.selectFrom('workspaces').select('id').orderBy('id').execute()).map((w) => w.id);
}

// ---- SCIM provisioning (migration 0022) ----

export interface ScimToken {
  workspace: string;
  provider: string;
  createdBy: string;
  createdAt: Date;
}

export async function scimTokenByHash(db: Executor, hash: string): Promise<ScimToken | undefined> {
  const r = await db.selectFrom('scim_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
  return r
    ? { workspace: r.workspace_id, provider: r.provider_id, createdBy: r.created_by, createdAt: new Date(r.created_at) }
    : undefined;
}

export async function scimTokenOf(db: Executor, workspaceId: string): Promise<ScimToken | undefined> {
  const r = await db.selectFrom('scim_tokens').selectAll().where('workspace_id', '=', workspaceId).executeTakeFirst();
  return r
    ? { workspace: r.workspace_id, provider: r.provider_id, createdBy: r.created_by, createdAt: new Date(r.created_at) }
    : undefined;
}

/** Sets (or replaces: rotation) the workspace's SCIM token. */
export async function putScimToken(
  trx: Executor,
  t: { workspace: string; provider: string; hash: string; createdBy: string; at: Date },
): Promise<void> {
  const row = { provider_id: t.provider, token_hash: t.hash, created_by: t.createdBy, created_at: t.at };
  await trx
    .insertInto('scim_tokens')
    .values({ workspace_id: t.workspace, ...row })
    .onConflict((oc) => oc.column('workspace_id').doUpdateSet(row))
    .execute();
}

export async function deleteScimToken(trx: Executor, workspaceId: string): Promise<boolean> {
  const r = await trx.deleteFrom('scim_tokens').where('workspace_id', '=', workspaceId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export interface ScimUserRow {
  userId: string;
  userName: string;
  externalId: string | null;
  active: boolean;
  email: string;
  displayName: string;
  createdAt: Date;
  updatedAt: Date;
}

const scimUserQuery = (db: Executor, workspaceId: string) =>
  db
    .selectFrom('scim_users as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select([
      's.user_id',
      's.user_name',
      's.external_id',
      's.active',
      's.created_at',
      's.updated_at',
      'u.email',
      'u.display_name',
    ])
    .where('s.workspace_id', '=', workspaceId);

function toScimUser(r: {
  user_id: string;
  user_name: string;
  external_id: string | null;
  active: boolean;
  created_at: Date | string;
  updated_at: Date | string;
  email: string;
  display_name: string;
}): ScimUserRow {
  return {
    userId: r.user_id,
    userName: r.user_name,
    externalId: r.external_id,
    active: r.active,
    email: r.email,
    displayName: r.display_name,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export async function scimUser(db: Executor, workspaceId: string, userId: string): Promise<ScimUserRow | undefined> {
  const r = await scimUserQuery(db, workspaceId).where('s.user_id', '=', userId).executeTakeFirst();
  return r ? toScimUser(r) : undefined;
}

/** A page of the workspace's SCIM users (`startIndex` is 1-based), optionally filtered by one attribute. */
export async function scimUsers(
  db: Executor,
  workspaceId: string,
  opts: { filter?: { attr: 'userName' | 'externalId'; value: string }; startIndex: number; count: number },
): Promise<{ total: number; rows: ScimUserRow[] }> {
  let q = scimUserQuery(db, workspaceId);
  if (opts.filter?.attr === 'userName') q = q.where('s.user_name', '=', opts.filter.value.toLowerCase());
  if (opts.filter?.attr === 'externalId') q = q.where('s.external_id', '=', opts.filter.value);
  const total = Number(
    (
      await q
        .clearSelect()
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );
  const rows = await q
    .orderBy('s.created_at')
    .orderBy('s.user_id')
    .offset(opts.startIndex - 1)
    .limit(opts.count)
    .execute();
  return { total, rows: rows.map(toScimUser) };
}

export async function scimUserNameTaken(
  db: Executor,
  workspaceId: string,
  userName: string,
  exceptUserId?: string,
): Promise<boolean> {
  let q = db
    .selectFrom('scim_users')
    .select('user_id')
    .where('workspace_id', '=', workspaceId)
    .where('user_name', '=', userName);
  if (exceptUserId) q = q.where('user_id', '<>', exceptUserId);
  return (await q.executeTakeFirst()) !== undefined;
}

export async function insertScimUser(
  trx: Executor,
  u: { workspace: string; userId: string; userName: string; externalId: string | null; active: boolean; at: Date },
): Promise<void> {
  await trx
    .insertInto('scim_users')
    .values({
      workspace_id: u.workspace,
      user_id: u.userId,
      user_name: u.userName,
      external_id: u.externalId,
      active: u.active,
      created_at: u.at,
      updated_at: u.at,
    })
    .execute();
}

export async function updateScimUser(
  trx: Executor,
  workspaceId: string,
  userId: string,
  set: { userName?: string; externalId?: string | null; active?: boolean },
  at: Date,
): Promise<void> {
  await trx
    .updateTable('scim_users')
    .set({
      ...(set.userName !== undefined ? { user_name: set.userName } : {}),
      ...(set.externalId !== undefined ? { external_id: set.externalId } : {}),
      ...(set.active !== undefined ? { active: set.active } : {}),
      updated_at: at,
    })
    .where('workspace_id', '=', workspaceId)
    .where('user_id', '=', userId)
    .execute();
}

export async function deleteScimUser(trx: Executor, workspaceId: string, userId: string): Promise<void> {
  await trx.deleteFrom('scim_users').where('workspace_id', '=', workspaceId).where('user_id', '=', userId).execute();
  await trx
    .deleteFrom('scim_group_members')
    .where('user_id', '=', userId)
    .where('group_id', 'in', (eb) => eb.selectFrom('scim_groups').select('id').where('workspace_id', '=', workspaceId))
    .execute();
}

/** Workspaces whose SCIM client deprovisioned this user (no membership there at sign-in either). */
export async function scimInactiveWorkspaces(db: Executor, userId: string): Promise<Set<string>> {
  const rows = await db
    .selectFrom('scim_users')
    .select('workspace_id')
    .where('user_id', '=', userId)
    .where('active', '=', false)
    .execute();
  return new Set(rows.map((r) => r.workspace_id));
}

export interface ScimGroupRow {
  id: string;
  displayName: string;
  externalId: string | null;
  members: string[];
  createdAt: Date;
  updatedAt: Date;
}

async function withMembers(
  db: Executor,
  rows: {
    id: string;
    display_name: string;
    external_id: string | null;
    created_at: Date | string;
    updated_at: Date | string;
  }[],
): Promise<ScimGroupRow[]> {
  const ids = rows.map((r) => r.id);
  const members =
    ids.length === 0
      ? []
      : await db
          .selectFrom('scim_group_members')
          .select(['group_id', 'user_id'])
          .where('group_id', 'in', ids)
          .orderBy('user_id')
          .execute();
  return rows.map((r) => ({
    id: r.id,
    displayName: r.display_name,
    externalId: r.external_id,
    members: members.filter((m) => m.group_id === r.id).map((m) => m.user_id),
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  }));
}

export async function scimGroup(db: Executor, workspaceId: string, id: string): Promise<ScimGroupRow | undefined> {
  const r = await db
    .selectFrom('scim_groups')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return r ? (await withMembers(db, [r]))[0] : undefined;
}

export async function scimGroups(
  db: Executor,
  workspaceId: string,
  opts: { filter?: { attr: 'displayName' | 'externalId'; value: string }; startIndex: number; count: number },
): Promise<{ total: number; rows: ScimGroupRow[] }> {
  let q = db.selectFrom('scim_groups').where('workspace_id', '=', workspaceId);
  if (opts.filter?.attr === 'displayName') q = q.where('display_name', '=', opts.filter.value);
  if (opts.filter?.attr === 'externalId') q = q.where('external_id', '=', opts.filter.value);
  const total = Number((await q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
  const rows = await q
    .selectAll()
    .orderBy('created_at')
    .orderBy('id')
    .offset(opts.startIndex - 1)
    .limit(opts.count)
    .execute();
  return { total, rows: await withMembers(db, rows) };
}

export async function scimGroupNameTaken(
  db: Executor,
  workspaceId: string,
  name: string,
  exceptId?: string,
): Promise<boolean> {
  let q = db
    .selectFrom('scim_groups')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('display_name', '=', name);
  if (exceptId) q = q.where('id', '<>', exceptId);
  return (await q.executeTakeFirst()) !== undefined;
}

export async function insertScimGroup(
  trx: Executor,
  g: { id: string; workspace: string; displayName: string; externalId: string | null; at: Date },
): Promise<void> {
  await trx
    .insertInto('scim_groups')
    .values({
      id: g.id,
      workspace_id: g.workspace,
      display_name: g.displayName,
      external_id: g.externalId,
      created_at: g.at,
      updated_at: g.at,
    })
    .execute();
}

export async function updateScimGroup(
  trx: Executor,
  id: string,
  set: { displayName?: string; externalId?: string | null },
  at: Date,
): Promise<void> {
  await trx
    .updateTable('scim_groups')
    .set({
      ...(set.displayName !== undefined ? { display_name: set.displayName } : {}),
      ...(set.externalId !== undefined ? { external_id: set.externalId } : {}),
      updated_at: at,
    })
    .where('id', '=', id)
    .execute();
}

export async function deleteScimGroup(trx: Executor, id: string): Promise<void> {
  await trx.deleteFrom('scim_groups').where('id', '=', id).execute();
}

export async function addScimMembers(trx: Executor, groupId: string, userIds: readonly string[]): Promise<void> {
  if (userIds.length === 0) return;
  await trx
    .insertInto('scim_group_members')
    .values(userIds.map((u) => ({ group_id: groupId, user_id: u })))
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function removeScimMembers(
  trx: Executor,
  groupId: string,
  userIds: readonly string[] | 'all',
): Promise<void> {
  let q = trx.deleteFrom('scim_group_members').where('group_id', '=', groupId);
  if (userIds !== 'all') {
    if (userIds.length === 0) return;
    q = q.where('user_id', 'in', userIds);
  }
  await q.execute();
}

/** Display names of the workspace's SCIM groups the user is in. */
export async function scimGroupNamesOf(db: Executor, workspaceId: string, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('scim_group_members as m')
    .innerJoin('scim_groups as g', 'g.id', 'm.group_id')
    .select('g.display_name')
    .where('g.workspace_id', '=', workspaceId)
    .where('m.user_id', '=', userId)
    .orderBy('g.display_name')
    .execute();
  return rows.map((r) => r.display_name);
}

/** Which of these user ids the workspace's SCIM client manages. */
export async function scimManaged(db: Executor, workspaceId: string, userIds: readonly string[]): Promise<string[]> {
  if (userIds.length === 0) return [];
  const rows = await db
    .selectFrom('scim_users')
    .select('user_id')
    .where('workspace_id', '=', workspaceId)
    .where('user_id', 'in', userIds)
    .execute();
  return rows.map((r) => r.user_id);
}

/** Revokes the user's API tokens bound to a workspace (deprovisioning). */
export async function revokeWorkspaceTokensOf(trx: Executor, workspaceId: string, userId: string, at: Date) {
  await trx
    .updateTable('api_tokens')
    .set({ revoked_at: at })
    .where('workspace_id', '=', workspaceId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
}

// ---- CLI sign-in handoff (migration 0022) ----

export async function insertHandoff(
  db: Executor,
  h: { codeHash: string; challenge: string; sessionSealed: Buffer; userId: string; strength: string; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto('sso_cli_handoffs')
    .values({
      code_hash: h.codeHash,
      challenge: h.challenge,
      session_sealed: h.sessionSealed,
      user_id: h.userId,
      strength: h.strength,
      expires_at: h.expiresAt,
    })
    .execute();
  await db
    .deleteFrom('sso_cli_handoffs')
    .where('expires_at', '<', new Date(Date.now() - 3600_000))
    .execute();
}

/** Marks a handoff used and returns it — once, before it expires. */
export async function takeHandoff(
  db: Executor,
  codeHash: string,
  now: Date,
): Promise<{ challenge: string; sessionSealed: Buffer; userId: string; strength: string } | undefined> {
  const r = await db
    .updateTable('sso_cli_handoffs')
    .set({ used_at: now })
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['challenge', 'session_sealed', 'user_id', 'strength'])
    .executeTakeFirst();
  return r
    ? { challenge: r.challenge, sessionSealed: Buffer.from(r.session_sealed), userId: r.user_id, strength: r.strength }
    : undefined;
}

// ---- Break-glass (posture control `sso.break-glass`) ----

/**
 * Owners of a workspace who can break glass when single sign-on is enforced: active, with a
 * password and TOTP enrolled (the sign-in lets exactly these through, marked `breakGlass`).
 */
export async function breakGlassOwners(db: Executor, workspaceId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select('u.email')
    .where('m.workspace_id', '=', workspaceId)
    .where('m.role', '=', 'owner')
    .where('u.status', '=', 'active')
    .where('u.mfa_enabled', '=', true)
    .where('u.password_hash', 'is not', null)
    .orderBy('u.email')
    .execute();
  return rows.map((r) => r.email);
}

/**
 * Chained password sign-ins marked `breakGlass` since `since`, by accounts that are members of
 * the workspace: the audit seq (where the use is recorded), its time and the account's email.
 */
export async function breakGlassSignIns(
  db: Executor,
  workspaceId: string,
  since: Date,
): Promise<{ seq: string | number; time: Date; email: string }[]> {
  return db
    .selectFrom('audit_events as e')
    .innerJoin('users as u', (j) => j.on(sql<boolean>`u.id::text = e.resource_id`))
    .select(['e.seq as seq', 'e.time as time', 'u.email as email'])
    .where('e.action', '=', 'identity.session.create')
    .where('e.outcome', '=', 'success')
    .where(sql<string>`e.details->>'breakGlass'`, '=', 'true')
    .where('e.time', '>=', since)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('memberships as m')
          .select('m.user_id')
          .where(sql<boolean>`m.user_id::text = e.resource_id`)
          .where('m.workspace_id', '=', workspaceId),
      ),
    )
    .orderBy('e.seq', 'desc')
    .limit(1000)
    .execute();
}
