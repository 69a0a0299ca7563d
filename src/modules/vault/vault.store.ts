/** Kysely queries of the vault. Only this file touches the `secrets` and `secret_versions` tables. */
import { sql, type Insertable, type Kysely, type Selectable, type Transaction, type Updateable } from 'kysely';
import type { Database } from '../../db/schema.ts';

export type Db = Kysely<Database> | Transaction<Database>;
export type SecretRow = Selectable<Database['secrets']>;
export type VersionRow = Selectable<Database['secret_versions']>;
/** A version row without its ciphertext (for metadata answers). */
export type VersionInfoRow = Omit<VersionRow, 'value_sealed'>;

const VERSION_INFO = [
  'workspace_id',
  'path',
  'version',
  'seal_id',
  'cert_not_after',
  'cert_subject',
  'cert_fingerprint256',
  'created_by',
  'created_at',
  'deleted_at',
  'deleted_by',
  'destroyed_at',
  'destroyed_by',
] as const;

export function findSecret(db: Db, workspaceId: string, path: string): Promise<SecretRow | undefined> {
  return db
    .selectFrom('secrets')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('path', '=', path)
    .executeTakeFirst();
}

/** The secret row locked for this transaction (writers of one secret queue here). */
export function lockSecret(
  trx: Transaction<Database>,
  workspaceId: string,
  path: string,
): Promise<SecretRow | undefined> {
  return trx
    .selectFrom('secrets')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('path', '=', path)
    .forUpdate()
    .executeTakeFirst();
}

/** Insert the secret if absent; returns the new row, or undefined when it already existed. */
export function insertSecretIfAbsent(trx: Transaction<Database>, row: Insertable<Database['secrets']>) {
  return trx
    .insertInto('secrets')
    .values(row)
    .onConflict((oc) => oc.columns(['workspace_id', 'path']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function versionInfos(db: Db, workspaceId: string, path: string): Promise<VersionInfoRow[]> {
  return db
    .selectFrom('secret_versions')
    .select(VERSION_INFO)
    .where('workspace_id', '=', workspaceId)
    .where('path', '=', path)
    .orderBy('version', 'asc')
    .execute();
}

export function findVersion(
  db: Db,
  workspaceId: string,
  path: string,
  version: number,
): Promise<VersionRow | undefined> {
  return db
    .selectFrom('secret_versions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('path', '=', path)
    .where('version', '=', version)
    .executeTakeFirst();
}

/** Drop versions older than the newest `maxVersions` (rows and ciphertexts removed). */
export async function pruneVersions(
  trx: Transaction<Database>,
  workspaceId: string,
  path: string,
  current: number,
  maxVersions: number,
): Promise<number[]> {
  const rows = await trx
    .deleteFrom('secret_versions')
    .where('workspace_id', '=', workspaceId)
    .where('path', '=', path)
    .where('version', '<=', current - maxVersions)
    .returning('version')
    .execute();
  return rows.map((r) => r.version).sort((a, b) => a - b);
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export function listSecrets(
  db: Db,
  workspaceId: string,
  prefix: string,
  after: string | undefined,
  limit: number,
): Promise<SecretRow[]> {
  let q = db.selectFrom('secrets').selectAll().where('workspace_id', '=', workspaceId);
  if (prefix) q = q.where(sql<boolean>`path like ${`${escapeLike(prefix)}%`}`);
  if (after !== undefined) q = q.where('path', '>', after);
  return q.orderBy('path', 'asc').limit(limit).execute();
}

/** Secrets with an expiry, a rotation period or a certificate, with their current version's facts. */
export function dueCandidates(db: Db, workspaceId: string) {
  return db
    .selectFrom('secrets as s')
    .leftJoin('secret_versions as v', (j) =>
      j
        .onRef('v.workspace_id', '=', 's.workspace_id')
        .onRef('v.path', '=', 's.path')
        .onRef('v.version', '=', 's.current_version'),
    )
    .select([
      's.path',
      's.type',
      's.owner',
      's.tags',
      's.current_version',
      's.expires_at',
      's.rotate_every_seconds',
      'v.created_at as version_created_at',
      'v.cert_not_after',
    ])
    .where('s.workspace_id', '=', workspaceId)
    .where((eb) =>
      eb.or([
        eb('s.expires_at', 'is not', null),
        eb('s.rotate_every_seconds', 'is not', null),
        eb('v.cert_not_after', 'is not', null),
      ]),
    )
    .orderBy('s.path', 'asc')
    .execute();
}

/** A secret with one version's columns (all null when that version does not exist). */
export type RevealRow = Pick<SecretRow, 'type' | 'tags' | 'current_version'> & {
  [K in 'version' | 'value_sealed' | 'created_at' | 'deleted_at' | 'destroyed_at']: VersionRow[K] | null;
} & {
  /** When the workspace's key was destroyed (crypto-shredding), else null. */
  key_destroyed_at: Date | null;
};

/** One statement for a reveal: the secret's type and tags with one version (default: current). */
export async function secretWithVersion(db: Db, workspaceId: string, path: string, version: number | undefined) {
  // A `sql` template (bound parameters only) rather than the builder: this runs on every reveal,
  // and building the query cost more CPU than running it.
  const which = version === undefined ? sql<number>`s.current_version` : sql<number>`${version}`;
  const { rows } = await sql<RevealRow>`
    select s.type, s.tags, s.current_version, v.version, v.value_sealed, v.created_at, v.deleted_at, v.destroyed_at,
      k.destroyed_at as key_destroyed_at
    from secrets s left join secret_versions v on v.workspace_id = s.workspace_id and v.path = s.path and v.version = ${which}
      left join workspace_keys k on k.workspace_id = s.workspace_id
    where s.workspace_id = ${workspaceId} and s.path = ${path}`.execute(db);
  return rows[0];
}

/**
 * When the workspace's key was destroyed (null: live or not created yet), read under a share lock
 * on the key row: a write that checks this waits for a destruction in progress and then sees it,
 * and a destruction waits for the writer's commit, then destroys what it wrote.
 */
export async function workspaceKeyDestroyedAt(trx: Db, workspaceId: string): Promise<Date | null> {
  const r = await trx
    .selectFrom('workspace_keys')
    .select('destroyed_at')
    .where('workspace_id', '=', workspaceId)
    .forShare()
    .executeTakeFirst();
  return r?.destroyed_at ?? null;
}

export function insertVersion(trx: Transaction<Database>, row: Insertable<Database['secret_versions']>) {
  return trx.insertInto('secret_versions').values(row).execute();
}

export function updateSecret(
  trx: Transaction<Database>,
  workspaceId: string,
  path: string,
  set: Updateable<Database['secrets']>,
) {
  return trx.updateTable('secrets').set(set).where('workspace_id', '=', workspaceId).where('path', '=', path).execute();
}

export function deleteSecret(trx: Transaction<Database>, workspaceId: string, path: string) {
  return trx.deleteFrom('secrets').where('workspace_id', '=', workspaceId).where('path', '=', path).execute();
}

/**
 * Which versions a state change may touch: `live` (neither deleted nor destroyed), `deleted`
 * (soft-deleted, not destroyed) or `present` (not destroyed, deleted or not).
 */
export type VersionState = 'live' | 'deleted' | 'present';

/** Sets `set` on those of `versions` in `state`; returns the versions changed, ascending. */
export async function setVersions(
  trx: Transaction<Database>,
  workspaceId: string,
  path: string,
  versions: readonly number[],
  state: VersionState,
  set: Updateable<Database['secret_versions']>,
): Promise<number[]> {
  let q = trx
    .updateTable('secret_versions')
    .set(set)
    .where('workspace_id', '=', workspaceId)
    .where('path', '=', path)
    .where('version', 'in', [...versions])
    .where('destroyed_at', 'is', null);
  if (state === 'live') q = q.where('deleted_at', 'is', null);
  if (state === 'deleted') q = q.where('deleted_at', 'is not', null);
  const rows = await q.returning('version').execute();
  return rows.map((x) => x.version).sort((a, b) => a - b);
}

export function tagsOf(db: Db, workspaceId: string, path: string) {
  return db
    .selectFrom('secrets')
    .select('tags')
    .where('workspace_id', '=', workspaceId)
    .where('path', '=', path)
    .executeTakeFirst();
}
