/**
 * Kysely queries of the backups module (migration 0015). Only this file, backups.objects.store.ts
 * (the object copy, migration 0034) and backups.tables.ts hold its SQL.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

export async function listTargets(db: Db) {
  return db.selectFrom('backup_targets').selectAll().orderBy('name').execute();
}

export async function getTarget(db: Db, name: string) {
  return db.selectFrom('backup_targets').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function insertTarget(
  db: Db,
  t: { name: string; workspace_id: string; drive: string; prefix: string; copy_objects?: boolean },
) {
  const r = await db
    .insertInto('backup_targets')
    .values(t)
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('name')
    .executeTakeFirst();
  return r !== undefined;
}

export async function deleteTarget(db: Db, name: string): Promise<boolean> {
  const r = await db.deleteFrom('backup_targets').where('name', '=', name).returning('name').executeTakeFirst();
  return r !== undefined;
}

export async function insertRunning(
  db: Db,
  row: {
    id: string;
    target: string;
    trigger: 'manual' | 'scheduled' | 'pre-migration';
    createdAt: Date;
    lease: string;
    leaseUntil: Date;
  },
): Promise<void> {
  await db
    .insertInto('backups')
    .values({
      id: row.id,
      target: row.target,
      trigger: row.trigger,
      state: 'running',
      created_at: row.createdAt,
      lease_owner: row.lease,
      lease_expires_at: row.leaseUntil,
    })
    .execute();
}

export async function markComplete(db: Db, id: string, manifest: unknown, size: number, sha256: string) {
  await db
    .updateTable('backups')
    .set({
      state: 'complete',
      completed_at: new Date(),
      manifest: JSON.stringify(manifest),
      size,
      sha256,
      lease_owner: null,
      lease_expires_at: null,
    })
    .where('id', '=', id)
    .execute();
}

export async function markFailed(db: Db, id: string, error: string) {
  await db
    .updateTable('backups')
    .set({ state: 'failed', error, lease_owner: null, lease_expires_at: null })
    .where('id', '=', id)
    .where('state', '=', 'running')
    .execute();
}

/** Running backups whose process died (lease over): failed, never complete. */
export async function failExpired(db: Db, now: Date): Promise<string[]> {
  const r = await db
    .updateTable('backups')
    .set({ state: 'failed', error: 'interrupted (its process stopped before the manifest was written)' })
    .where('state', '=', 'running')
    .where('lease_expires_at', '<', now)
    .returning('id')
    .execute();
  return r.map((x) => x.id);
}

/** Running backups with their leases (the cleanup decides which holders are gone). */
export async function runningBackups(db: Db) {
  return db
    .selectFrom('backups')
    .select(['id', 'lease_owner', 'lease_expires_at'])
    .where('state', '=', 'running')
    .execute();
}

/** Fails one running backup whose process stopped (a no-op if it finished meanwhile). */
export async function failInterrupted(db: Db, id: string, owner: string | null): Promise<boolean> {
  let q = db
    .updateTable('backups')
    .set({ state: 'failed', error: 'interrupted (its process stopped before the manifest was written)' })
    .where('id', '=', id)
    .where('state', '=', 'running');
  q = owner === null ? q.where('lease_owner', 'is', null) : q.where('lease_owner', '=', owner);
  return (await q.returning('id').executeTakeFirst()) !== undefined;
}

export async function renewLease(db: Db, id: string, owner: string, until: Date): Promise<void> {
  await db
    .updateTable('backups')
    .set({ lease_expires_at: until })
    .where('id', '=', id)
    .where('state', '=', 'running')
    .where('lease_owner', '=', owner)
    .execute();
}

/** Failed backups whose objects on the target were not removed yet (`deleted_at` marks the removal). */
export async function failedNotCleaned(db: Db) {
  return db
    .selectFrom('backups')
    .select(['id', 'target'])
    .where('state', '=', 'failed')
    .where('deleted_at', 'is', null)
    .execute();
}

export async function markCleaned(db: Db, id: string): Promise<void> {
  await db.updateTable('backups').set({ deleted_at: new Date() }).where('id', '=', id).execute();
}

export async function markVerified(db: Db, id: string, ok: boolean, ms: number, error: string | null) {
  await db
    .updateTable('backups')
    .set({ verified_at: new Date(), verify_ok: ok, verify_ms: ms, verify_error: error })
    .where('id', '=', id)
    .execute();
}

export async function markDeleted(db: Db, id: string) {
  await db.updateTable('backups').set({ state: 'deleted', deleted_at: new Date() }).where('id', '=', id).execute();
}

export async function listBackups(db: Db, limit = 500) {
  return db
    .selectFrom('backups')
    .select([
      'id',
      'target',
      'trigger',
      'state',
      'created_at',
      'completed_at',
      'size',
      'sha256',
      'error',
      'verified_at',
      'verify_ok',
      'verify_ms',
      'verify_error',
      sql<unknown>`manifest -> 'objects'`.as('objects'),
    ])
    .where('state', '<>', 'deleted')
    .orderBy('created_at', 'desc')
    .limit(limit)
    .execute();
}

export async function getBackup(db: Db, id: string) {
  return db.selectFrom('backups').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function readSettings(db: Db) {
  return db.selectFrom('backup_settings').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
}

export async function updateSettings(
  db: Db,
  set: Partial<{
    schedule_hour_utc: number;
    keep_daily: number;
    keep_weekly: number;
    keep_monthly: number;
    max_age_days: number;
    objective_hours: number;
    recovery_key_sealed: Buffer;
    recovery_key_exported_at: Date;
    ledger_key_sealed: Buffer;
  }>,
) {
  await db.updateTable('backup_settings').set(set).where('id', '=', 1).execute();
}

/** This installation's id (`system_info`), the one its manifests name. */
export async function installationId(db: Db): Promise<string> {
  const r = await db.selectFrom('system_info').select('instance_id').executeTakeFirst();
  return r?.instance_id ?? 'unknown';
}

export async function ledgerEntries(db: Db) {
  return db.selectFrom('shred_ledger').selectAll().orderBy('destroyed_at').execute();
}

export async function insertLedgerEntry(
  db: Db,
  e: { workspace_id: string; key_version: number; destroyed_at: Date; mac: string },
): Promise<void> {
  await db
    .insertInto('shred_ledger')
    .values(e)
    .onConflict((oc) => oc.column('workspace_id').doNothing())
    .execute();
}

/** Destroyed workspace keys not yet in the ledger. */
export async function destroyedKeysMissingFromLedger(db: Db) {
  return db
    .selectFrom('workspace_keys as k')
    .select(['k.workspace_id', 'k.key_version', 'k.destroyed_at'])
    .where('k.destroyed_at', 'is not', null)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('shred_ledger as l').select('l.workspace_id').whereRef('l.workspace_id', '=', 'k.workspace_id'),
        ),
      ),
    )
    .execute();
}

/**
 * Crypto-shredding re-applied by a restore: the key row loses its sealed key for good, and the
 * superseded versions of that key (workspace key rotation) and the workspace's data-policy
 * keyed-hash key are destroyed with it.
 */
export async function applyShred(db: Db, workspaceId: string, destroyedAt: Date): Promise<boolean> {
  await db.deleteFrom('workspace_key_versions').where('workspace_id', '=', workspaceId).execute();
  // The data-policy keyed-hash key goes with it (a tombstone: see keys.store destroyPolicyHashKey).
  await db
    .insertInto('data_policy_keys')
    .values({ workspace_id: workspaceId, sealed: null, destroyed_at: destroyedAt })
    .onConflict((oc) =>
      oc
        .column('workspace_id')
        .doUpdateSet({ sealed: null, destroyed_at: destroyedAt })
        .where('data_policy_keys.sealed', 'is not', null),
    )
    .execute();
  const r = await db
    .updateTable('workspace_keys')
    .set({ sealed: null, destroyed_at: destroyedAt, destroy_token_hash: null })
    .where('workspace_id', '=', workspaceId)
    .where('sealed', 'is not', null)
    .returning('workspace_id')
    .executeTakeFirst();
  return r !== undefined;
}

/**
 * The vault's values are barrier-sealed, not under the workspace key, so destroying that key does
 * not make them unreadable: a restore destroys every secret version of a shredded workspace
 * (value gone, `destroyed_by` names the restore), so none comes back with the backup.
 */
export async function destroyWorkspaceSecrets(db: Db, workspaceId: string, at: Date): Promise<number> {
  const r = await db
    .updateTable('secret_versions')
    .set({ value_sealed: null, destroyed_at: at, destroyed_by: 'system:restore-shred' })
    .where('workspace_id', '=', workspaceId)
    .where('value_sealed', 'is not', null)
    .returning('version')
    .execute();
  return r.length;
}

/** Adds a job unless one of the same kind is already planned at that time. */
export async function planJob(db: Db, id: string, kind: string, runAt: Date): Promise<void> {
  await db
    .insertInto('maintenance_jobs')
    .values({ id, kind, run_at: runAt, state: 'pending' })
    .onConflict((oc) => oc.columns(['kind', 'run_at']).doNothing())
    .execute();
}

/**
 * Claims one due job (pending, or running with an expired lease) with FOR UPDATE SKIP LOCKED, so
 * any number of instances may poll and each job runs once at a time.
 */
export async function claimJob(db: Kysely<Database>, owner: string, now: Date, leaseMs: number) {
  return db.transaction().execute(async (trx) => {
    const job = await trx
      .selectFrom('maintenance_jobs')
      .select(['id', 'kind', 'run_at', 'attempts'])
      .where('run_at', '<=', now)
      .where('kind', 'in', ['backup', 'drill'])
      .where((eb) =>
        eb.or([eb('state', '=', 'pending'), eb.and([eb('state', '=', 'running'), eb('lease_expires_at', '<', now)])]),
      )
      .orderBy('run_at')
      .limit(1)
      .forUpdate()
      .skipLocked()
      .executeTakeFirst();
    if (!job) return undefined;
    await trx
      .updateTable('maintenance_jobs')
      .set({
        state: 'running',
        lease_owner: owner,
        lease_expires_at: new Date(now.getTime() + leaseMs),
        attempts: sql<number>`attempts + 1` as never,
      })
      .where('id', '=', job.id)
      .execute();
    return job;
  });
}

export async function finishJob(db: Db, id: string, ok: boolean, result: unknown): Promise<void> {
  await db
    .updateTable('maintenance_jobs')
    .set({ state: ok ? 'done' : 'failed', finished_at: new Date(), result: JSON.stringify(result), lease_owner: null })
    .where('id', '=', id)
    .execute();
}
