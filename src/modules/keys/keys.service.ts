/**
 * The keys module: the only place outside core/crypto that handles key material.
 *
 * Guarantees:
 * - The root key never reaches the database; the keyring is stored sealed under it.
 * - While unsealed, the root key and the keyring live only in this process's memory; `seal()`
 *   zero-fills them and every barrier operation then answers SEALED.
 * - Rotation adds a term used for all new writes at once; older terms stay readable until the
 *   rewrap job has moved every sealed value and the term is retired. Nothing blocks meanwhile.
 * - A term can be retired only when no sealed value uses it any more.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import { AppError } from '../../core/errors.ts';
import type { Barrier } from '../../core/crypto/barrier.ts';
import { Keyring, openKeyring, resealKeyring, sealKeyring } from '../../core/crypto/keyring.ts';
import type { RootKeyProvider } from '../../adapters/keys/index.ts';
import { ShamirRootKeyProvider, type Unsealer, type UnsealProgress } from '../../adapters/keys/index.ts';
import type { Database } from '../../db/schema.ts';
import type { Transact } from '../../db/transact.ts';
import { SEALED_COLUMNS } from './sealed-columns.ts';
import { resealKeyringBlob, unwrapBackupKey, wrapBackupKey } from './backup-keys.ts';
import * as store from './keys.store.ts';

export type KeysState = 'uninitialized' | 'sealed' | 'unsealed';

export interface TermStatus {
  term: number;
  createdAt: string;
  retiredAt?: string;
  active: boolean;
  sealedValues: number;
}

export interface KeysStatus {
  state: KeysState;
  provider: string;
  activeTerm?: number;
  terms: TermStatus[];
  rewrap: RewrapProgress;
}

export interface RewrapProgress {
  running: boolean;
  rewrapped: number;
  remaining?: number;
  lastError?: string;
}

/** Work that must commit or fail together with a key change (the audit event). */
export type InTransaction = (trx: Transaction<Database>) => Promise<void>;
/**
 * How a key change joins its caller's evidence: a hook run inside the change's own transaction
 * (the offline CLI), or the caller's transaction runner (`{ transact }`: an API route, whose event
 * the pipeline records in that transaction). In-memory key state changes only after the commit.
 */
export type KeyChangeTx = InTransaction | { transact: Transact };

export interface KeysDeps {
  db: Kysely<Database>;
  barrier: Barrier;
  provider: RootKeyProvider;
  logger: Logger;
}

export function createKeysService(deps: KeysDeps) {
  const { db, barrier, provider, logger } = deps;
  let rootKey: Buffer | undefined;
  let unsealer: Unsealer | undefined;
  let initialized: boolean | undefined;
  const rewrapState: RewrapProgress = { running: false, rewrapped: 0 };
  const sealListeners: (() => void | Promise<void>)[] = [];

  const rootKeyId = () => `${provider.kind}`;

  /** The transaction a key change runs in: the caller's runner, or our own with the caller's hook. */
  function transactionFor(tx: KeyChangeTx | undefined): Transact {
    if (tx !== undefined && typeof tx !== 'function') return tx.transact;
    return (work) =>
      db.transaction().execute(async (trx) => {
        const result = await work(trx);
        await tx?.(trx);
        return result;
      });
  }

  async function isInitialized(): Promise<boolean> {
    initialized ??= (await store.readKeyringRow(db)) !== undefined;
    return initialized;
  }

  function requireUnsealed(): Buffer {
    if (barrier.isSealed || !rootKey) throw new AppError('SEALED', { detail: 'Unseal Strongroom first.' });
    return rootKey;
  }

  /** Open the stored keyring with `key` and hand it to the barrier. Wrong key → SEALED, nothing kept. */
  async function unsealWithRootKey(key: Buffer): Promise<void> {
    const row = await store.readKeyringRow(db);
    if (!row) throw new AppError('SEALED', { detail: "No keyring yet: run 'strongroom init'." });
    let keyring: Keyring;
    try {
      keyring = openKeyring(Buffer.from(row.blob), key);
    } catch (cause) {
      throw new AppError('SEALED', { detail: 'The root key does not open the keyring.', cause });
    }
    if (barrier.isSealed) barrier.unseal(keyring);
    else barrier.replaceKeyring(keyring);
    rootKey = Buffer.from(key);
    logger.info({ activeTerm: keyring.activeTerm, provider: provider.kind }, 'unsealed');
  }

  return {
    provider,

    async state(): Promise<KeysState> {
      if (!(await isInitialized())) return 'uninitialized';
      return barrier.isSealed ? 'sealed' : 'unsealed';
    },

    /** `init`: create the root key (through the provider) and the first keyring term. */
    async initialize(): Promise<{ shares?: string[] }> {
      if (await isInitialized()) throw new AppError('CONFLICT', { detail: 'The keyring already exists.' });
      const { rootKey: key, shares } = await provider.initialize();
      const keyring = Keyring.create();
      try {
        await store.insertKeyringRow(db, sealKeyring(keyring, key), rootKeyId(), keyring.activeTerm);
        initialized = true;
      } finally {
        keyring.wipe();
      }
      if (provider.kind !== 'shamir') await unsealWithRootKey(key);
      key.fill(0);
      return shares ? { shares } : {};
    },

    /** Start-up: auto-unseal when the provider can (file, pkcs11); Shamir stays sealed. */
    async autoUnseal(): Promise<boolean> {
      if (!(await isInitialized())) return false;
      const key = await provider.load();
      if (!key) return false;
      try {
        await unsealWithRootKey(key);
      } finally {
        key.fill(0);
      }
      return true;
    },

    /** Unseal with a root key obtained elsewhere (recovery of an interrupted root rotation). */
    async unsealWith(key: Buffer): Promise<void> {
      await unsealWithRootKey(key);
    },

    /** Operator unseal with one Shamir share at a time. */
    async submitShare(share: string): Promise<UnsealProgress & { sealed: boolean }> {
      if (!(provider instanceof ShamirRootKeyProvider)) {
        throw new AppError('CONFLICT', {
          detail: `This installation unseals automatically (${provider.kind}); shares are not used.`,
        });
      }
      if (!barrier.isSealed) throw new AppError('CONFLICT', { detail: 'Already unsealed.' });
      unsealer ??= await provider.unsealer();
      const progress = await unsealer.submit(share);
      if (progress.unsealed && progress.rootKey) {
        try {
          await unsealWithRootKey(progress.rootKey);
        } finally {
          progress.rootKey.fill(0);
          unsealer = undefined;
        }
      }
      const { rootKey: _omit, ...safe } = progress;
      return { ...safe, sealed: barrier.isSealed };
    },

    /** A backup's data key wrapped under the root key (backup-keys.ts); SEALED while sealed. */
    wrapBackupKey(backupId: string, dek: Buffer): Buffer {
      return wrapBackupKey(requireUnsealed(), 'root', backupId, dek);
    },

    /** Unwraps a backup data key wrapped under this installation's root key (a drill). */
    unwrapBackupKey(backupId: string, wrapped: Buffer): Buffer {
      return unwrapBackupKey(requireUnsealed(), 'root', backupId, wrapped);
    },

    /** A keyring blob of this installation re-sealed under `recoveryKey` (carried by each backup). */
    keyringForRecovery(blob: Buffer, recoveryKey: Buffer): Buffer {
      return resealKeyringBlob(blob, requireUnsealed(), recoveryKey);
    },

    /** Called on `seal()`: modules holding keys opened through the barrier drop them. */
    onSeal(listener: () => void | Promise<void>): void {
      sealListeners.push(listener);
    },

    /** Wipe the root key and keyring from memory; every sensitive operation answers SEALED. */
    seal(): void {
      for (const l of sealListeners)
        void Promise.resolve(l()).catch((err: unknown) => logger.error({ err }, 'seal listener failed'));
      barrier.sealAndWipe();
      rootKey?.fill(0);
      rootKey = undefined;
      unsealer?.reset();
      unsealer = undefined;
      logger.warn('sealed: key material wiped from memory');
    },

    async status(): Promise<KeysStatus> {
      const state = await this.state();
      const counts = new Map<number, number>();
      for (const col of SEALED_COLUMNS) {
        if (!(await store.tableExists(db, col.table))) continue;
        for (const [term, n] of await store.countByTerm(db, col)) counts.set(term, (counts.get(term) ?? 0) + n);
      }
      const row = await store.readKeyringRow(db);
      let terms: TermStatus[] = [];
      if (state === 'unsealed') {
        const kr = openKeyring(Buffer.from(row!.blob), requireUnsealed());
        terms = kr.terms.map((t) => ({
          term: t.term,
          createdAt: t.createdAt.toISOString(),
          ...(t.retiredAt ? { retiredAt: t.retiredAt.toISOString() } : {}),
          active: t.term === kr.activeTerm,
          sealedValues: counts.get(t.term) ?? 0,
        }));
        kr.wipe();
      } else {
        terms = [...counts].map(([term, n]) => ({
          term,
          createdAt: '',
          active: term === row?.active_term,
          sealedValues: n,
        }));
      }
      return {
        state,
        provider: provider.kind,
        ...(row ? { activeTerm: row.active_term } : {}),
        terms,
        rewrap: { ...rewrapState },
      };
    },

    /**
     * Add a term; all new writes use it at once. Old terms stay readable. The change commits with
     * the caller's evidence (`tx`, the audit event): if that fails, nothing changes. The barrier
     * switches only after the commit, so it never seals under a term the database does not have.
     */
    async rotate(tx?: KeyChangeTx): Promise<number> {
      const key = requireUnsealed();
      const next = await transactionFor(tx)(async (trx) => {
        const row = await store.readKeyringRow(trx, true);
        const kr = openKeyring(Buffer.from(row!.blob), key).rotate();
        await store.updateKeyringRow(trx, sealKeyring(kr, key), kr.activeTerm);
        return kr;
      });
      barrier.replaceKeyring(next);
      logger.info({ activeTerm: next.activeTerm }, 'keyring rotated');
      return next.activeTerm;
    },

    /** Move every sealed value to the active term, in small batches; resumable and concurrent-safe. */
    async rewrap(opts: { batch?: number; onProgress?: (p: RewrapProgress) => void } = {}): Promise<RewrapProgress> {
      requireUnsealed();
      if (rewrapState.running) throw new AppError('CONFLICT', { detail: 'A rewrap is already running.' });
      Object.assign(rewrapState, { running: true, rewrapped: 0, lastError: undefined });
      try {
        const active = barrier.activeTerm();
        for (const col of SEALED_COLUMNS) {
          if (!(await store.tableExists(db, col.table))) continue;
          for (;;) {
            const rows = await store.staleRows(db, col, active, opts.batch ?? 200);
            if (rows.length === 0) break;
            for (const r of rows) {
              const ctx = { table: col.table, column: col.column, rowId: r.id };
              if (await store.replaceSealed(db, col, r.id, r.value, barrier.rewrap(r.value, ctx)))
                rewrapState.rewrapped++;
            }
            opts.onProgress?.({ ...rewrapState });
          }
        }
        return { ...rewrapState };
      } catch (err) {
        rewrapState.lastError = err instanceof AppError ? err.code : 'INTERNAL';
        throw err;
      } finally {
        rewrapState.running = false;
      }
    },

    /** Retire a term whose values have all been rewrapped; its key is destroyed. */
    async retire(term: number, tx?: KeyChangeTx): Promise<void> {
      const key = requireUnsealed();
      const status = await this.status();
      const t = status.terms.find((x) => x.term === term);
      if (!t) throw new AppError('NOT_FOUND', { detail: `No key term ${term}.` });
      if (t.sealedValues > 0)
        throw new AppError('CONFLICT', {
          detail: `Term ${term} still protects ${t.sealedValues} value(s); run 'strongroom keys rewrap' first.`,
        });
      const next = await transactionFor(tx)(async (trx) => {
        const row = await store.readKeyringRow(trx, true);
        const kr = openKeyring(Buffer.from(row!.blob), key).retire(term);
        await store.updateKeyringRow(trx, sealKeyring(kr, key), kr.activeTerm);
        return kr;
      });
      barrier.replaceKeyring(next);
      logger.info({ term }, 'key term retired');
    },

    /**
     * Re-seal the keyring under a new root key. `persistNewKey` stores the new key with the
     * provider before the database changes; only the keyring row is rewritten.
     */
    async rotateRoot(
      newKey: Buffer,
      persistNewKey: () => Promise<void>,
      commitNewKey: () => Promise<void>,
      tx?: KeyChangeTx,
    ): Promise<void> {
      const key = requireUnsealed();
      await persistNewKey();
      await transactionFor(tx)(async (trx) => {
        const row = await store.readKeyringRow(trx, true);
        await store.updateKeyringRow(
          trx,
          resealKeyring(Buffer.from(row!.blob), key, newKey),
          row!.active_term,
          `${rootKeyId()}:${randomUUID()}`,
        );
      });
      await commitNewKey();
      rootKey!.fill(0);
      rootKey = Buffer.from(newKey);
      logger.info('root key rotated; keyring re-sealed');
    },
  };
}

export type KeysService = ReturnType<typeof createKeysService>;
