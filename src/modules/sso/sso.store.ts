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
