/**
 * The key export (no lock-in exit path, C8): for every committed version of a workspace, where
 * its object lives and its UNWRAPPED data key, so the objects can be decrypted without Strongroom
 * (`strongroom decrypt`, or any implementation of docs/format-object.md). The result is as
 * sensitive as the data itself; only the operator may ask for it, and the route audits it.
 */
import type { Kysely } from 'kysely';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { WorkspaceKeys } from '../keys/index.ts';
import { committedObjects, num } from './datasets.store.ts';

/** One object of the export file; the format is documented in docs/format-object.md. */
export interface KeyExportEntry {
  dataset: string;
  version: number;
  drive: string;
  objectKey: string;
  objectId: string;
  /** The raw 32-byte data key, base64. */
  dataKey: string;
  keyTerm: number;
  size: number;
  sha256: string;
}

export interface KeyExport {
  format: 'strongroom-key-export';
  formatVersion: 1;
  workspaceId: string;
  exportedAt: string;
  objects: KeyExportEntry[];
}

/** Unwraps the data key of every committed version of `ws` (KEY_DESTROYED if the key is gone). */
export async function exportDataKeys(
  db: Kysely<Database>,
  workspaceKeys: Pick<WorkspaceKeys, 'encryptorFor'>,
  ws: string,
): Promise<KeyExport> {
  const rows = await committedObjects(db, ws);
  const enc = await workspaceKeys.encryptorFor(ws);
  const objects = rows.map((r): KeyExportEntry => {
    let key: Buffer;
    try {
      key = enc.unwrapDataKey(r.object_id, Buffer.from(r.wrapped_dek));
    } catch (err) {
      throw new AppError('DECRYPTION_FAILED', {
        detail: `The data key of ${r.dataset} version ${r.version} does not unwrap under the workspace key (term ${r.key_term}).`,
        cause: err,
      });
    }
    const dataKey = key.toString('base64');
    key.fill(0);
    return {
      dataset: r.dataset,
      version: r.version,
      drive: r.drive,
      objectKey: r.object_key,
      objectId: r.object_id,
      dataKey,
      keyTerm: r.key_term,
      size: num(r.plain_size) ?? 0,
      sha256: r.sha256 ?? '',
    };
  });
  return {
    format: 'strongroom-key-export',
    formatVersion: 1,
    workspaceId: ws,
    exportedAt: new Date().toISOString(),
    objects,
  };
}
