/**
 * Per-workspace keys, their rotation and crypto-shredding.
 *
 * A workspace key is 32 random bytes, stored barrier-sealed (row id = workspace id). Everything
 * of a workspace (data keys of its objects, its records) is sealed under it, so destroying it —
 * replacing the sealed key by NULL — makes all of that unreadable wherever copies live. The
 * destruction is two-step: a request returns a one-time confirmation token (stored hashed) valid
 * for 10 minutes; only the confirmation destroys.
 *
 * Rotation: a new version serves every new wrap at once (its row replaces the current one in the
 * rotation's transaction, the previous version is kept sealed in `workspace_key_versions`). Older
 * versions stay readable — an encryptor opens whatever version a ciphertext names — until the
 * rewrap has re-wrapped every data key under the current version; a superseded version that no
 * wrapped data key names any more (and superseded over an hour ago) is then deleted: that key is
 * gone. Destroying a workspace key deletes its superseded versions in the same transaction.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { AppError } from '../../core/errors.ts';
import type { Barrier } from '../../core/crypto/barrier.ts';
import { DecryptionError } from '../../core/crypto/aead.ts';
import {
  createWorkspaceKey,
  workspaceEncryptor,
  workspaceKeyVersionOf,
  type WorkspaceEncryptor,
} from '../../core/crypto/encryptor.ts';
import type { Database } from '../../db/schema.ts';
import {
  destroyWorkspaceKey,
  insertWorkspaceKey,
  lockWorkspaceKey,
  markDestroyRequested,
  olderWorkspaceKeys,
  readWorkspaceKey,
  replaceWrappedKey,
  retireUnusedWorkspaceKeys,
  staleWrappedKeys,
  supersedeWorkspaceKey,
  workspaceKeyVersionId,
  workspaceKeysOlderThan,
  workspacesWithOlderKeys,
  wrappedKeysByVersion,
} from './keys.store.ts';

const CONFIRM_WINDOW_MS = 10 * 60 * 1000;
/** A superseded version is kept at least this long (a wrap made just before the rotation may still be inserted). */
export const RETIRE_GRACE_MS = 3600 * 1000;
const ctx = (workspaceId: string) => ({ table: 'workspace_keys', column: 'sealed', rowId: workspaceId });
const versionCtx = (id: string) => ({ table: 'workspace_key_versions', column: 'sealed', rowId: id });
const hashToken = (t: string) => createHash('sha256').update(t).digest('hex');

export interface WorkspaceRewrapProgress {
  running: boolean;
  rewrapped: number;
  /** Wrapped data keys still under a superseded version (at the last count). */
  remaining?: number;
  /** Superseded versions deleted by the last run. */
  retired?: number[];
  lastError?: string;
}

export interface WorkspaceKeyStatus {
  workspaceId: string;
  keyVersion: number;
  createdAt: string;
  rotatedAt: string | null;
  destroyed: boolean;
  versions: { version: number; current: boolean; wrappedKeys: number; supersededAt?: string }[];
  rewrap: WorkspaceRewrapProgress;
}

/** Seals and wraps with `current`; opens and unwraps with whichever version the ciphertext names. */
function acrossVersions(current: WorkspaceEncryptor, older: Map<number, WorkspaceEncryptor>): WorkspaceEncryptor {
  const pick = (ciphertext: Buffer) => {
    const v = workspaceKeyVersionOf(ciphertext);
    const enc = v === current.keyVersion ? current : older.get(v);
    if (!enc) throw new DecryptionError();
    return enc;
  };
  return {
    workspaceId: current.workspaceId,
    keyVersion: current.keyVersion,
    seal: (plaintext, context) => current.seal(plaintext, context),
    open: (ciphertext, context) => pick(ciphertext).open(ciphertext, context),
    wrapDataKey: (objectId, dataKey) => current.wrapDataKey(objectId, dataKey),
    unwrapDataKey: (objectId, wrapped) => pick(wrapped).unwrapDataKey(objectId, wrapped),
  };
}

export function createWorkspaceKeys(db: Kysely<Database>, barrier: Barrier) {
  const rewraps = new Map<string, WorkspaceRewrapProgress>();
  return {
    /**
     * The workspace's encryptor (current version; opens superseded versions still kept); the key
     * is created on first use. Destroyed → KEY_DESTROYED.
     */
    async encryptorFor(workspaceId: string): Promise<WorkspaceEncryptor> {
      let row = await readWorkspaceKey(db, workspaceId);
      if (!row) {
        const k = createWorkspaceKey(1);
        await insertWorkspaceKey(db, workspaceId, k.version, barrier.seal(k.key, ctx(workspaceId)));
        k.key.fill(0);
        row = await readWorkspaceKey(db, workspaceId);
      }
      if (!row?.sealed || row.destroyed_at) {
        throw new AppError('KEY_DESTROYED', {
          detail: `The key of workspace ${workspaceId} was destroyed; its data cannot be decrypted by anyone.`,
        });
      }
      const key = barrier.open(Buffer.from(row.sealed), ctx(workspaceId));
      const current = workspaceEncryptor(workspaceId, { version: row.key_version, key });
      const older = new Map<number, WorkspaceEncryptor>();
      for (const o of await olderWorkspaceKeys(db, workspaceId)) {
        const k = barrier.open(Buffer.from(o.sealed), versionCtx(o.id));
        older.set(o.key_version, workspaceEncryptor(workspaceId, { version: o.key_version, key: k }));
      }
      return older.size === 0 ? current : acrossVersions(current, older);
    },

    /**
     * Adds the next version of a workspace key in `trx` (the caller's, with its audit event): every
     * wrap after the commit uses it; the previous version is kept for reading until rewrapped.
     */
    async rotate(
      workspaceId: string,
      trx: Kysely<Database> | Transaction<Database>,
      opts: { olderThan?: Date } = {},
    ): Promise<{ previousVersion: number; keyVersion: number; skipped?: boolean }> {
      const row = await lockWorkspaceKey(trx, workspaceId);
      if (!row) throw new AppError('NOT_FOUND', { detail: `Workspace ${workspaceId} has no key yet.` });
      if (!row.sealed || row.destroyed_at)
        throw new AppError('KEY_DESTROYED', { detail: `The key of workspace ${workspaceId} was destroyed.` });
      // The schedule: another instance may have rotated while this one waited for the lock.
      const since = new Date(row.rotated_at ?? row.created_at);
      if (opts.olderThan && since.getTime() >= opts.olderThan.getTime())
        return { previousVersion: row.key_version, keyVersion: row.key_version, skipped: true };
      const old = barrier.open(Buffer.from(row.sealed), ctx(workspaceId));
      const next = createWorkspaceKey(row.key_version + 1);
      try {
        await supersedeWorkspaceKey(trx, {
          workspaceId,
          oldVersion: row.key_version,
          oldSealed: barrier.seal(old, versionCtx(workspaceKeyVersionId(workspaceId, row.key_version))),
          newVersion: next.version,
          newSealed: barrier.seal(next.key, ctx(workspaceId)),
        });
      } finally {
        old.fill(0);
        next.key.fill(0);
      }
      return { previousVersion: row.key_version, keyVersion: next.version };
    },

    /**
     * Re-wraps every data key of the workspace under the current version, in batches (each row
     * replaced only if unchanged since read), then deletes superseded versions nothing names.
     * One run per workspace at a time (CONFLICT otherwise).
     */
    async rewrap(
      workspaceId: string,
      opts: { batch?: number; now?: () => Date; onProgress?: (p: WorkspaceRewrapProgress) => void } = {},
    ): Promise<WorkspaceRewrapProgress> {
      if (rewraps.get(workspaceId)?.running)
        throw new AppError('CONFLICT', { detail: 'A rewrap of this workspace key is already running.' });
      const state: WorkspaceRewrapProgress = { running: true, rewrapped: 0 };
      rewraps.set(workspaceId, state);
      try {
        const enc = await this.encryptorFor(workspaceId);
        const current = enc.keyVersion;
        for (;;) {
          const rows = await staleWrappedKeys(db, workspaceId, current, opts.batch ?? 200);
          if (rows.length === 0) break;
          let moved = 0;
          for (const r of rows) {
            const old = Buffer.from(r.wrapped_dek);
            const dek = enc.unwrapDataKey(r.object_id, old);
            const next = enc.wrapDataKey(r.object_id, dek);
            dek.fill(0);
            const args = { workspaceId, dataset: r.dataset, version: r.version, old, next };
            if (await replaceWrappedKey(db, args)) moved++;
          }
          state.rewrapped += moved;
          const counts = await wrappedKeysByVersion(db, workspaceId);
          state.remaining = [...counts].filter(([v]) => v !== current).reduce((n, [, c]) => n + c, 0);
          opts.onProgress?.({ ...state });
          if (moved === 0) break; // someone else is moving the same rows; their run finishes the job
        }
        const now = opts.now?.() ?? new Date();
        state.retired = await retireUnusedWorkspaceKeys(db, workspaceId, new Date(now.getTime() - RETIRE_GRACE_MS));
        const counts = await wrappedKeysByVersion(db, workspaceId);
        state.remaining = [...counts].filter(([v]) => v !== current).reduce((n, [, c]) => n + c, 0);
        return { ...state, running: false };
      } catch (err) {
        state.lastError = err instanceof AppError ? err.code : 'INTERNAL';
        throw err;
      } finally {
        state.running = false;
      }
    },

    /** Workspaces whose current key version is older than `before`, and those with superseded versions left. */
    async dueForRotation(before: Date): Promise<{ due: string[]; pending: string[] }> {
      return { due: await workspaceKeysOlderThan(db, before), pending: await workspacesWithOlderKeys(db) };
    },

    /** The key's versions, how many wrapped data keys each protects, and the rewrap's progress. */
    async status(workspaceId: string): Promise<WorkspaceKeyStatus> {
      const row = await readWorkspaceKey(db, workspaceId);
      if (!row) throw new AppError('NOT_FOUND', { detail: `Workspace ${workspaceId} has no key yet.` });
      const counts = await wrappedKeysByVersion(db, workspaceId);
      const older = await olderWorkspaceKeys(db, workspaceId);
      const destroyed = !row.sealed || row.destroyed_at !== null;
      return {
        workspaceId,
        keyVersion: row.key_version,
        createdAt: new Date(row.created_at).toISOString(),
        rotatedAt: row.rotated_at ? new Date(row.rotated_at).toISOString() : null,
        destroyed,
        versions: [
          ...older.map((o) => ({
            version: o.key_version,
            current: false,
            wrappedKeys: counts.get(o.key_version) ?? 0,
            supersededAt: new Date(o.superseded_at).toISOString(),
          })),
          ...(destroyed
            ? []
            : [{ version: row.key_version, current: true, wrappedKeys: counts.get(row.key_version) ?? 0 }]),
        ],
        rewrap: { ...(rewraps.get(workspaceId) ?? { running: false, rewrapped: 0 }) },
      };
    },

    /**
     * Step one: returns a confirmation token to pass to `confirmDestroy` within 10 minutes.
     * `trx`: the caller's transaction (its audit event commits with the request, or neither).
     */
    async requestDestroy(
      workspaceId: string,
      trx: Kysely<Database> | Transaction<Database> = db,
    ): Promise<{ token: string; expiresAt: string }> {
      const row = await readWorkspaceKey(trx, workspaceId);
      if (!row) throw new AppError('NOT_FOUND', { detail: `Workspace ${workspaceId} has no key.` });
      if (row.destroyed_at)
        throw new AppError('KEY_DESTROYED', { detail: `The key of workspace ${workspaceId} is already destroyed.` });
      const token = `destroy-${randomBytes(16).toString('hex')}`;
      const now = new Date();
      await markDestroyRequested(trx, workspaceId, now, hashToken(token));
      return { token, expiresAt: new Date(now.getTime() + CONFIRM_WINDOW_MS).toISOString() };
    },

    /**
     * Step two: destroys the key for good, and with it every vault value of the workspace (they
     * are barrier-sealed, so clearing the key alone would not hide them). The token must match
     * and be fresh. `trx` as above.
     */
    async confirmDestroy(
      workspaceId: string,
      token: string,
      trx: Kysely<Database> | Transaction<Database> = db,
    ): Promise<{ secretsDestroyed: number }> {
      const row = await readWorkspaceKey(trx, workspaceId);
      const fresh =
        row?.destroy_requested_at && Date.now() - new Date(row.destroy_requested_at).getTime() < CONFIRM_WINDOW_MS;
      const a = Buffer.from(row?.destroy_token_hash ?? '0'.repeat(64), 'hex');
      const b = Buffer.from(hashToken(token), 'hex');
      if (!row || !fresh || a.length !== b.length || !timingSafeEqual(a, b)) {
        throw new AppError('CONFLICT', { detail: 'No matching, unexpired destruction request; request it again.' });
      }
      return destroyWorkspaceKey(trx, workspaceId);
    },
  };
}

export type WorkspaceKeys = ReturnType<typeof createWorkspaceKeys>;
