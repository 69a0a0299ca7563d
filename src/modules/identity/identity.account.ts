/**
 * Account use cases beyond sign-in: your sessions and recovery codes; an admin's changes to
 * another member (enable, attributes, MFA reset); names and last sign-ins for the console; the
 * first-run question "does an owner exist?". Rules (who may touch whom) are the routes' (role
 * rules); this file does the work inside the caller's transaction.
 * - Re-enabling a user brings back neither sessions nor tokens revoked on disable: they sign in again.
 * - An admin's MFA reset removes the seed and recovery codes and ends every session of the user,
 *   so the next sign-in is by password alone and an owner or admin must enrol again at once.
 */
import type { Kysely, Transaction } from 'kysely';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import * as store from './identity.account.store.ts';
import { replaceRecoveryCodes, resetMfa } from './identity.mfa.ts';
import * as sessions from './identity.sessions.store.ts';
import * as users from './identity.users.store.ts';

type Trx = Transaction<Database>;
export type Attributes = users.User['attributes'];

export function createAccount(db: Kysely<Database>, now: () => Date) {
  /** Cached once true: owners do not disappear (the last one stays), so the answer never goes back. */
  let ownerSeen = false;
  return {
    async ownerExists(): Promise<boolean> {
      ownerSeen ||= await store.anyOwner(db);
      return ownerSeen;
    },

    sessions: (userId: string) =>
      store.liveSessions(db, userId, now()).then((list) => list.map(({ idHash: _h, ...view }) => view)),
    /** Revoke one of the user's live sessions by its public id; false when there is no such session. */
    async revokeSession(trx: Trx, userId: string, ref: string): Promise<{ idHash: string } | undefined> {
      const found = (await store.liveSessions(trx, userId, now())).find((s) => s.id === ref);
      if (!found) return undefined;
      await sessions.revokeSession(trx, found.idHash, now());
      return { idHash: found.idHash };
    },

    recoveryCodesLeft: (userId: string, ex: users.Executor = db) => store.recoveryCodesLeft(ex, userId),
    /** New recovery codes for an enrolled user (the old ones stop working). */
    async regenerateRecoveryCodes(trx: Trx, userId: string): Promise<string[]> {
      const u = await users.findUser(trx, userId);
      if (!u?.mfaEnabled)
        throw new AppError('CONFLICT', {
          detail: 'Turn on multi-factor authentication first; recovery codes come with it.',
        });
      return replaceRecoveryCodes(trx, userId);
    },

    lastSignIns: (workspaceId: string) => store.lastSignIns(db, workspaceId),
    memberNames: (workspaceId: string) => store.memberNames(db, workspaceId),
    memberIds: (workspaceId: string) => store.memberIds(db, workspaceId),

    async enable(trx: Trx, userId: string): Promise<void> {
      await users.setStatus(trx, userId, 'active');
    },
    async setAttributes(trx: Trx, userId: string, attributes: Attributes): Promise<void> {
      await store.setAttributes(trx, userId, attributes);
    },
    /** Another user's MFA removed by an admin; every session of theirs ends. Returns how many ended. */
    async resetMfaOf(trx: Trx, userId: string): Promise<number> {
      await resetMfa(trx, userId, now());
      return sessions.revokeUserSessions(trx, userId, now());
    },
  };
}
