/**
 * Offline operator context: the data directory opened directly (the server must be stopped for
 * the embedded database), the root key loaded through the provider, and every action audited
 * in the same transaction as when the server does it.
 */
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Kysely, Transaction } from 'kysely';
import type { Config } from '../core/config.ts';
import { createBarrier } from '../core/crypto/barrier.ts';
import type { AuditEventDraft } from '../core/audit/event.ts';
import { openDatabase, type DatabaseHandle } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import type { Database } from '../db/schema.ts';
import { createAuditModule, type AuditModule } from '../modules/audit/index.ts';
import { createKeysService, type KeysService } from '../modules/keys/index.ts';
import { databaseSpec } from '../installation/home.ts';
import { rootKeyProviderFor } from '../installation/root-key.ts';
import { recoverRootKeyRotation } from '../modules/keys/index.ts';

export interface OfflineContext {
  database: DatabaseHandle;
  keys: KeysService;
  audit: AuditModule;
  /** Record an operator event in `trx` (fail-closed) or in its own transaction. */
  record(
    spec: {
      action: string;
      resource?: AuditEventDraft['resource'];
      outcome?: AuditEventDraft['outcome'];
      details?: AuditEventDraft['details'];
    },
    trx?: Transaction<Database>,
  ): Promise<void>;
}

export async function withOffline<T>(
  config: Config,
  opts: { unseal: boolean },
  fn: (ctx: OfflineContext) => Promise<T>,
): Promise<T> {
  const database = await openDatabase(databaseSpec(config));
  const logger = pino({ level: 'silent' });
  const barrier = createBarrier();
  const audit = createAuditModule({ db: database.db, barrier, logDir: path.join(config.STRONGROOM_HOME, 'logs') });
  try {
    await migrateToLatest(database.db as Kysely<unknown>);
    const keys = createKeysService({ db: database.db, barrier, provider: rootKeyProviderFor(config), logger });
    if (opts.unseal) {
      const state = await keys.state();
      if (state === 'uninitialized') throw new Error("no keyring yet: run 'strongroom init'");
      if (!(await recoverRootKeyRotation(keys, config)) && !(await keys.autoUnseal())) {
        throw new Error(
          'this installation is unsealed with Shamir shares: start the server and run this command against it',
        );
      }
    }
    const actor = { id: `os:${os.userInfo().username}`, kind: 'operator' as const, authMethod: 'data-directory' };
    const ctx: OfflineContext = {
      database,
      keys,
      audit,
      record: async (spec, trx) => {
        const input = {
          actor,
          action: spec.action,
          resource: spec.resource ?? { type: 'keyring', id: 'root' },
          outcome: spec.outcome ?? 'success',
          details: spec.details ?? {},
        };
        if (trx) await audit.record(trx, input);
        else await database.db.transaction().execute((t) => audit.record(t, input));
      },
    };
    const result = await fn(ctx);
    await audit.chainPending();
    return result;
  } finally {
    await database.close();
  }
}
