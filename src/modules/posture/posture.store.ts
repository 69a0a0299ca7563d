/**
 * Every SQL statement of the posture module: its own results table, and read-only counts over
 * other modules' tables that no module's public face offers yet (identity facts for the MFA,
 * inactivity and token controls; dataset versions for encryption at rest). It never writes
 * outside `posture_results`.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { ControlStatus, Evidence } from './posture.registry.ts';

type Db = Kysely<Database>;

export interface StoredResult {
  runId: string;
  scope: string;
  controlId: string;
  status: ControlStatus;
  summary: string;
  evidence: Evidence;
  checkedAt: string;
}

export async function insertResults(db: Db, rows: StoredResult[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('posture_results')
    .values(
      rows.map((r) => ({
        run_id: r.runId,
        scope: r.scope,
        control_id: r.controlId,
        status: r.status,
        summary: r.summary.slice(0, 2000),
        evidence: JSON.stringify(r.evidence),
        checked_at: r.checkedAt,
      })),
    )
    .execute();
}

const toResult = (r: {
  run_id: string;
  scope: string;
  control_id: string;
  status: ControlStatus;
  summary: string;
  evidence: unknown;
  checked_at: Date;
}): StoredResult => ({
  runId: r.run_id,
  scope: r.scope,
  controlId: r.control_id,
  status: r.status,
  summary: r.summary,
  evidence: (typeof r.evidence === 'string' ? JSON.parse(r.evidence) : r.evidence) as Evidence,
  checkedAt: new Date(r.checked_at).toISOString(),
});

/** The newest result of each control in a scope. */
export async function latestResults(db: Db, scope: string): Promise<StoredResult[]> {
  const rows = await db
    .selectFrom('posture_results')
    .selectAll()
    .distinctOn('control_id')
    .where('scope', '=', scope)
    .orderBy('control_id')
    .orderBy('checked_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
  return rows.map(toResult);
}

/** Results of one control (or all), newest first. */
export async function history(
  db: Db,
  scope: string,
  controlId: string | undefined,
  limit: number,
): Promise<StoredResult[]> {
  let q = db.selectFrom('posture_results').selectAll().where('scope', '=', scope);
  if (controlId) q = q.where('control_id', '=', controlId);
  const rows = await q.orderBy('checked_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map(toResult);
}

// ---- read-only facts of other modules ----

/** Owners and admins (of one workspace, or all) and whether they have MFA. */
export async function privilegedUsers(
  db: Db,
  workspaceId: string | undefined,
): Promise<{ userId: string; email: string; role: string; workspace: string; mfa: boolean }[]> {
  let q = db
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select([
      'u.id as userId',
      'u.email as email',
      'm.role as role',
      'm.workspace_id as workspace',
      'u.mfa_enabled as mfa',
    ])
    .where('m.role', 'in', ['owner', 'admin'])
    .where('u.status', '=', 'active');
  if (workspaceId) q = q.where('m.workspace_id', '=', workspaceId);
  return q.orderBy('u.email').execute();
}

/** Active users (of one workspace, or all) created before `before` with no session seen since. */
export async function inactiveUsers(
  db: Db,
  workspaceId: string | undefined,
  before: Date,
): Promise<{ userId: string; email: string }[]> {
  let q = db
    .selectFrom('users as u')
    .select(['u.id as userId', 'u.email as email'])
    .where('u.status', '=', 'active')
    .where('u.created_at', '<', before)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('sessions as s')
            .select(sql`1`.as('one'))
            .whereRef('s.user_id', '=', 'u.id')
            .where('s.last_seen_at', '>=', before),
        ),
      ),
    );
  if (workspaceId)
    q = q.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('memberships as m')
          .select(sql`1`.as('one'))
          .whereRef('m.user_id', '=', 'u.id')
          .where('m.workspace_id', '=', workspaceId),
      ),
    );
  return q.orderBy('u.email').limit(1000).execute();
}

/** Live API tokens (not revoked, not expired) that expire later than `after`. */
export async function longLivedTokens(
  db: Db,
  workspaceId: string | undefined,
  now: Date,
  after: Date,
): Promise<{ id: string; expiresAt: Date }[]> {
  let q = db
    .selectFrom('api_tokens')
    .select(['id', 'expires_at as expiresAt'])
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .where('expires_at', '>', after);
  if (workspaceId) q = q.where('workspace_id', '=', workspaceId);
  return q.orderBy('expires_at', 'desc').limit(1000).execute();
}

/** Setup tokens: how many exist, how many were used, how many are unused and unexpired. */
export async function setupTokenFacts(
  db: Db,
  now: Date,
): Promise<{ issued: number; used: number; open: number; users: number }> {
  const tokens = await db.selectFrom('setup_tokens').select(['used_at', 'expires_at']).execute();
  const users = await db.selectFrom('users').select(db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return {
    issued: tokens.length,
    used: tokens.filter((t) => t.used_at !== null).length,
    open: tokens.filter((t) => t.used_at === null && new Date(t.expires_at) > now).length,
    users: Number(users.n),
  };
}

/** Drives (of one workspace, or all) by health status. */
export async function driveHealth(
  db: Db,
  workspaceId: string | undefined,
): Promise<
  { workspace: string; name: string; kind: string; status: string; code: string | null; checkedAt: Date | null }[]
> {
  let q = db
    .selectFrom('drives')
    .select([
      'workspace_id as workspace',
      'name',
      'kind',
      'status',
      'status_code as code',
      'status_checked_at as checkedAt',
    ]);
  if (workspaceId) q = q.where('workspace_id', '=', workspaceId);
  return q.orderBy('workspace_id').orderBy('name').execute();
}

/** Committed dataset versions: how many, how many lack a wrapped data key or header, and a random sample. */
export async function datasetVersionFacts(
  db: Db,
  workspaceId: string | undefined,
  sample: number,
): Promise<{
  committed: number;
  unwrapped: number;
  samples: { workspace: string; drive: string; objectKey: string }[];
}> {
  let base = db.selectFrom('dataset_versions').where('state', '=', 'committed');
  if (workspaceId) base = base.where('workspace_id', '=', workspaceId);
  const counts = await base
    .select([
      db.fn.countAll<string>().as('n'),
      sql<string>`count(*) filter (where wrapped_dek is null or length(wrapped_dek) = 0 or header is null)`.as('bad'),
    ])
    .executeTakeFirstOrThrow();
  const samples = await base
    .select(['workspace_id as workspace', 'drive', 'object_key as objectKey'])
    .orderBy(sql`random()`)
    .limit(sample)
    .execute();
  return { committed: Number(counts.n), unwrapped: Number(counts.bad), samples };
}

/** The database server's version number (`server_version_num`, e.g. 150004). */
export async function serverVersionNum(db: Db): Promise<number> {
  const r = await sql<{ v: string }>`select current_setting('server_version_num') as v`.execute(db);
  return Number(r.rows[0]?.v ?? 0);
}
