/**
 * Signing a checkpoint of the chain head and exporting it. The checkpoint is made under the
 * head lock, so checkpoints are linear (each names the previous one's hash) across instances.
 */
import type { Kysely } from 'kysely';
import { canonicalJson } from '../../core/audit/canonical.ts';
import { makeCheckpoint, type SignedCheckpoint } from '../../core/audit/checkpoint.ts';
import type { Database } from '../../db/schema.ts';
import { exportAllThrough, type ChainedLines } from './audit.export.ts';
import type { AuditKeys } from './audit.keys.ts';
import { insertCheckpoint, latestCheckpoint, lockHead } from './audit.store.ts';

/**
 * Signs and stores a checkpoint of the head if the head moved past the newest checkpoint, then
 * exports up to the newest checkpoint. Returns it (undefined while the chain is empty).
 */
export async function createCheckpoint(
  db: Kysely<Database>,
  logDir: string,
  keys: AuditKeys,
  clock: () => Date,
  held?: ChainedLines,
): Promise<SignedCheckpoint | undefined> {
  const cp = await db.transaction().execute(async (trx) => {
    const head = await lockHead(trx);
    const latest = await latestCheckpoint(trx);
    if (head.seq === 0 || (latest !== undefined && latest.treeSize >= head.seq)) return latest;
    const made = makeCheckpoint(head, keys.privateKey, keys.keyId, clock().toISOString(), latest);
    const { signature: _signature, ...body } = made;
    await insertCheckpoint(trx, made, canonicalJson(body));
    return made;
  });
  if (cp !== undefined) await exportAllThrough(db, logDir, cp, held);
  return cp;
}
