/**
 * Per-workspace keys and crypto-shredding.
 *
 * A workspace key is 32 random bytes, stored barrier-sealed (row id = workspace id). Everything
 * of a workspace (data keys of its objects, its records) is sealed under it, so destroying it —
 * replacing the sealed key by NULL — makes all of that unreadable wherever copies live. The
 * destruction is two-step: a request returns a one-time confirmation token (stored hashed) valid
 * for 10 minutes; only the confirmation destroys.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { AppError } from '../../core/errors.ts';
import type { Barrier } from '../../core/crypto/barrier.ts';
import { createWorkspaceKey, workspaceEncryptor, type WorkspaceEncryptor } from '../../core/crypto/encryptor.ts';
import type { Database } from '../../db/schema.ts';
import { destroyWorkspaceKey, insertWorkspaceKey, markDestroyRequested, readWorkspaceKey } from './keys.store.ts';

const CONFIRM_WINDOW_MS = 10 * 60 * 1000;
const ctx = (workspaceId: string) => ({ table: 'workspace_keys', column: 'sealed', rowId: workspaceId });
const hashToken = (t: string) => createHash('sha256').update(t).digest('hex');

export function createWorkspaceKeys(db: Kysely<Database>, barrier: Barrier) {
  return {
    /** The workspace's encryptor; the key is created on first use. Destroyed → KEY_DESTROYED. */
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
      return workspaceEncryptor(workspaceId, { version: row.key_version, key });
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

    /** Step two: destroys the key for good. The token must match and be fresh. `trx` as above. */
    async confirmDestroy(
      workspaceId: string,
      token: string,
      trx: Kysely<Database> | Transaction<Database> = db,
    ): Promise<void> {
      const row = await readWorkspaceKey(trx, workspaceId);
      const fresh =
        row?.destroy_requested_at && Date.now() - new Date(row.destroy_requested_at).getTime() < CONFIRM_WINDOW_MS;
      const a = Buffer.from(row?.destroy_token_hash ?? '0'.repeat(64), 'hex');
      const b = Buffer.from(hashToken(token), 'hex');
      if (!row || !fresh || a.length !== b.length || !timingSafeEqual(a, b)) {
        throw new AppError('CONFLICT', { detail: 'No matching, unexpired destruction request; request it again.' });
      }
      await destroyWorkspaceKey(trx, workspaceId);
    },
  };
}

export type WorkspaceKeys = ReturnType<typeof createWorkspaceKeys>;
