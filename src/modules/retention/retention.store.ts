/**
 * Every SQL statement of the retention module. The person's-data statements read and write the
 * identity tables directly (users, sessions, tokens, memberships…): an export must see all of
 * them and an erasure must clear all of them in ONE transaction with its audit event.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { RETENTION_DEFAULTS, type RetentionClass } from './retention.classes.ts';

export type Db = Kysely<Database> | Transaction<Database>;

export async function readClasses(db: Db): Promise<Record<RetentionClass, number>> {
  const rows = await db.selectFrom('retention_classes').select(['class', 'days']).execute();
  const out: Record<string, number> = { ...RETENTION_DEFAULTS };
  for (const r of rows) if (r.class in out) out[r.class] = r.days;
  return out as Record<RetentionClass, number>;
}

export async function writeClass(db: Db, cls: RetentionClass, days: number): Promise<void> {
  await db
    .insertInto('retention_classes')
    .values({ class: cls, days })
    .onConflict((oc) => oc.column('class').doUpdateSet({ days, updated_at: new Date() }))
    .execute();
}

export async function backupMaxAgeDays(db: Db): Promise<number> {
  const r = await db.selectFrom('backup_settings').select('max_age_days').where('id', '=', 1).executeTakeFirst();
  return r?.max_age_days ?? 365;
}

export interface HoldInput {
  id: string;
  scope: 'workspace' | 'dataset' | 'user';
  workspace_id: string | null;
  target: string;
  reason: string;
  created_by: string;
  created_at: Date;
}

export async function insertHold(db: Db, h: HoldInput): Promise<void> {
  await db.insertInto('legal_holds').values(h).execute();
}

export async function listHolds(db: Db, includeReleased = false) {
  let q = db.selectFrom('legal_holds').selectAll().orderBy('created_at');
  if (!includeReleased) q = q.where('released_at', 'is', null);
  return q.execute();
}

/** Releases a hold in force; false when there is none with that id. */
export async function releaseHold(db: Db, id: string, by: string, at: Date): Promise<boolean> {
  const r = await db
    .updateTable('legal_holds')
    .set({ released_at: at, released_by: by })
    .where('id', '=', id)
    .where('released_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Holds in force on a workspace (itself, or held by scope workspace). */
export async function holdsOnWorkspace(db: Db, workspaceId: string) {
  return db
    .selectFrom('legal_holds')
    .select(['id', 'reason'])
    .where('released_at', 'is', null)
    .where('scope', '=', 'workspace')
    .where('target', '=', workspaceId)
    .execute();
}

/** Holds in force on a user, or on a workspace the user is a member of. */
export async function holdsOnUser(db: Db, userId: string) {
  return db
    .selectFrom('legal_holds')
    .select(['id', 'scope', 'target', 'reason'])
    .where('released_at', 'is', null)
    .where((eb) =>
      eb.or([
        eb.and([eb('scope', '=', 'user'), eb('target', '=', userId)]),
        eb.and([
          eb('scope', '=', 'workspace'),
          eb('target', 'in', eb.selectFrom('memberships').select('workspace_id').where('user_id', '=', userId)),
        ]),
      ]),
    )
    .execute();
}

/** The smallest audit seq a hold in force covers (events of a held workspace, dataset or user). */
export async function firstHeldAuditSeq(db: Db): Promise<number | undefined> {
  const r = await sql<{ seq: unknown }>`
    select min(e.seq) as seq from audit_events e
    where exists (select 1 from legal_holds h where h.released_at is null and (
      (h.scope = 'workspace' and e.workspace = h.target)
      or (h.scope = 'user' and (e.actor_id = h.target or e.resource_id = h.target))
      or (h.scope = 'dataset' and e.workspace = h.workspace_id and e.resource_type = 'dataset' and e.resource_id = h.target)))`.execute(
    db,
  );
  const s = r.rows[0]?.seq;
  return s === null || s === undefined ? undefined : Number(s);
}

export async function workspaceExists(db: Db, workspaceId: string): Promise<boolean> {
  return (
    (await db.selectFrom('workspaces').select('id').where('id', '=', workspaceId).executeTakeFirst()) !== undefined
  );
}

export async function readTermination(db: Db, workspaceId: string) {
  return db.selectFrom('workspace_terminations').selectAll().where('workspace_id', '=', workspaceId).executeTakeFirst();
}

export async function upsertTermination(
  db: Db,
  workspaceId: string,
  by: string,
  at: Date,
  purgeAfter: Date,
): Promise<void> {
  const row = { requested_by: by, requested_at: at, purge_after: purgeAfter, state: 'pending' as const };
  await db
    .insertInto('workspace_terminations')
    .values({ workspace_id: workspaceId, ...row })
    .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ ...row, finished_at: null, evidence: null }))
    .execute();
}

export async function finishTermination(
  db: Db,
  workspaceId: string,
  state: 'cancelled' | 'purged',
  at: Date,
  evidence?: unknown,
): Promise<boolean> {
  const r = await db
    .updateTable('workspace_terminations')
    .set({ state, finished_at: at, evidence: evidence === undefined ? null : JSON.stringify(evidence) })
    .where('workspace_id', '=', workspaceId)
    .where('state', '=', 'pending')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function listTerminations(db: Db) {
  return db.selectFrom('workspace_terminations').selectAll().orderBy('purge_after').execute();
}

/** Pending terminations whose grace period ended, locked so only one instance purges each. */
export async function claimDueTermination(trx: Transaction<Database>, now: Date) {
  return trx
    .selectFrom('workspace_terminations')
    .selectAll()
    .where('state', '=', 'pending')
    .where('purge_after', '<=', now)
    .orderBy('purge_after')
    .forUpdate()
    .skipLocked()
    .execute();
}

/** Removes a purged workspace's memberships, service accounts and tokens; returns the counts. */
export async function deleteWorkspaceAccess(db: Db, workspaceId: string): Promise<Record<string, number>> {
  const n = (r: { numDeletedRows: bigint }) => Number(r.numDeletedRows);
  return {
    apiTokens: n(await db.deleteFrom('api_tokens').where('workspace_id', '=', workspaceId).executeTakeFirst()),
    serviceAccounts: n(
      await db.deleteFrom('service_accounts').where('workspace_id', '=', workspaceId).executeTakeFirst(),
    ),
    memberships: n(await db.deleteFrom('memberships').where('workspace_id', '=', workspaceId).executeTakeFirst()),
  };
}
