/**
 * The workspace's default data policy for `pii.*` columns (issue 18: "a workspace setting can
 * apply a default policy to new pii.* tags, e.g. keyed_hash for analysts").
 *
 * The setting (`pii_policy_defaults`) is a mask kind and the readers it applies to. It is never
 * enforced by itself: when a dataset's `pii.*` column tags change (detection suggests one, a
 * steward confirms or rejects one), `apply` writes a regular data policy for that dataset —
 * `pii-default-<12 hex of SHA-256(dataset)>`, target the dataset, one mask per `pii.*` column
 * (not rejected) — through `save`, so it is versioned, conflict-checked and enforced like any
 * other policy. A column another policy already masks for the same readers is left to that
 * policy (skipped, named in the answer); no pii column left removes the default policy. A
 * policy written by hand under that name is overwritten at the next change (the name says
 * whose it is). Without a setting nothing is written. Changing the setting applies from the
 * next tag change of each dataset (it does not rewrite existing default policies).
 */
import { createHash } from 'node:crypto';
import type { Transaction } from 'kysely';
import { isAppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import { policyBody, type PiiDefault } from '../../contracts/policies.ts';
import type { Db } from './policies.store.ts';

export const PII_TAG = /^pii\./;
export const piiPolicyName = (dataset: string) =>
  `pii-default-${createHash('sha256').update(dataset).digest('hex').slice(0, 12)}`;

export async function readPiiDefault(db: Db, workspaceId: string) {
  const r = await db
    .selectFrom('pii_policy_defaults')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  if (!r) return undefined;
  const setting = (typeof r.setting === 'string' ? JSON.parse(r.setting) : r.setting) as PiiDefault;
  return { setting, updatedBy: r.updated_by, updatedAt: new Date(r.updated_at).toISOString() };
}

export async function writePiiDefault(db: Db, workspaceId: string, setting: PiiDefault | null, by: string) {
  if (setting === null) {
    await db.deleteFrom('pii_policy_defaults').where('workspace_id', '=', workspaceId).execute();
    return;
  }
  const row = { setting: JSON.stringify(setting), updated_by: by, updated_at: new Date().toISOString() };
  await db
    .insertInto('pii_policy_defaults')
    .values({ workspace_id: workspaceId, ...row })
    .onConflict((oc) => oc.column('workspace_id').doUpdateSet(row))
    .execute();
}

export interface PiiApplied {
  policy: string;
  /** The policy's version now (0: removed or never written). */
  version: number;
  changed: boolean;
  columns: string[];
  /** Columns another policy already masks for the same readers. */
  skipped: string[];
}

interface Saver {
  save: (
    input: { ws: string; name: string; body: ReturnType<typeof policyBody.parse>; dryRun: boolean; actor: string },
    transact: <T>(work: (trx: Transaction<Database>) => Promise<T>) => Promise<T>,
  ) => Promise<{ after: { version: number }; changed: boolean }>;
  remove: (
    input: { ws: string; name: string; actor: string },
    transact: <T>(work: (trx: Transaction<Database>) => Promise<T>) => Promise<T>,
  ) => Promise<unknown>;
  exists: (trx: Transaction<Database>, ws: string, name: string) => Promise<boolean>;
}

/** Writes (or removes) `dataset`'s default pii policy for `columns`, in `trx`; undefined without a setting. */
export async function applyPiiDefault(
  saver: Saver,
  trx: Transaction<Database>,
  workspaceId: string,
  dataset: string,
  columns: string[],
  actor: string,
): Promise<PiiApplied | undefined> {
  const found = await readPiiDefault(trx, workspaceId);
  if (!found) return undefined;
  const name = piiPolicyName(dataset);
  const inTrx = <T>(work: (t: Transaction<Database>) => Promise<T>) => work(trx);
  let kept = [...new Set(columns)].sort();
  const skipped: string[] = [];
  for (;;) {
    if (kept.length === 0) {
      const had = await saver.exists(trx, workspaceId, name);
      if (had) await saver.remove({ ws: workspaceId, name, actor }, inTrx);
      return { policy: name, version: 0, changed: had, columns: [], skipped };
    }
    const body = policyBody.parse({
      description: `Default masks of the pii.* columns of dataset ${dataset} (workspace setting).`,
      target: { dataset },
      ...(found.setting.when ? { when: found.setting.when } : {}),
      ...(found.setting.unless ? { unless: found.setting.unless } : {}),
      masks: kept.map((column) => ({ column, kind: found.setting.mask })),
    });
    try {
      const r = await saver.save({ ws: workspaceId, name, body, dryRun: false, actor }, inTrx);
      return { policy: name, version: r.after.version, changed: r.changed, columns: kept, skipped };
    } catch (err) {
      const column = isAppError(err) && err.code === 'CONFLICT' ? err.meta?.column : undefined;
      if (typeof column !== 'string' || !kept.includes(column)) throw err;
      kept = kept.filter((c) => c !== column);
      skipped.push(column);
    }
  }
}
