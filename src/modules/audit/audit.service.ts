/**
 * The audit module: fail-closed recording, the background chainer, signed checkpoints with
 * export, HMAC fingerprints, verification and search. See NOTES.md for the invariants.
 */
import type { Kysely } from 'kysely';
import { hmacValue, auditEventDraftSchema, looksLikeValidDraft, type AuditEventInput } from '../../core/audit/event.ts';
import type { SignedCheckpoint } from '../../core/audit/checkpoint.ts';
import type { VerifyReport } from '../../core/audit/verify.ts';
import type { Barrier } from '../../core/crypto/barrier.ts';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import { chainAll, DEFAULT_BATCH_SIZE } from './audit.chainer.ts';
import { createCheckpoint } from './audit.checkpoint.ts';
import { ChainedLines } from './audit.export.ts';
import { ensureKeys, type AuditKeys } from './audit.keys.ts';
import { createLoop } from './audit.loop.ts';
import { searchEvents, type SearchPage, type SearchQuery, type SearchScope } from './audit.search.ts';
import { createGroupWriter } from './audit.group.ts';
import { insertPending, insertPendingMany, lastEvents, type Executor } from './audit.store.ts';
import { verifyAuditTrail } from './audit.verify.ts';
import type { AuditEvent } from '../../core/audit/event.ts';

export interface AuditModuleDeps {
  db: Kysely<Database>;
  /** Seals the audit keys. Optional for read-only use (verify, search: e.g. the offline CLI). */
  barrier?: Barrier;
  /** `<STRONGROOM_HOME>/logs`; the export goes to `<logDir>/audit/`. */
  logDir: string;
  clock?: () => Date;
  /** Checkpoint after this many new events (default 1000). */
  checkpointEvery?: number;
  /** …or after this long with new events (default 10 000 ms). */
  checkpointIntervalMs?: number;
  /** …but not sooner than this after the last one (default 1000 ms; see audit.loop.ts). */
  checkpointMinIntervalMs?: number;
  /** Background chaining period (default 50 ms). */
  chainIntervalMs?: number;
  batchSize?: number;
  /** Where background failures are reported (the loop keeps running). */
  onError?: (err: unknown, what: string) => void;
}

export interface AuditModule {
  /**
   * Records `input` inside `executor` (the caller's transaction). Validation happens before any
   * write (VALIDATION_FAILED); a failed insert throws AUDIT_UNAVAILABLE and, in a transaction,
   * rolls the caller's work back: no event, no action.
   */
  record(executor: Executor, input: AuditEventInput): Promise<void>;
  /**
   * Records `input` on its own, outside any caller transaction: validated first (VALIDATION_FAILED
   * for this draft alone), then written by group commit (see audit.group.ts) — resolves only once
   * the event is committed; AUDIT_UNAVAILABLE if it could not be.
   */
  recordCommitted(input: AuditEventInput): Promise<void>;
  /** Chains every pending draft now; returns how many events were added. */
  chainPending(): Promise<number>;
  /** Wakes the background loop to chain as soon as possible. */
  requestChain(): void;
  /** Chains, signs a checkpoint of the head (if it moved) and exports; returns the newest checkpoint. */
  checkpointNow(): Promise<SignedCheckpoint | undefined>;
  /** Loads (creating on first use) the audit keys. Needs the barrier. */
  ensureKeys(): Promise<AuditKeys>;
  /** Drops the cached signing and HMAC keys (on `operator seal`); the HMAC key bytes are zeroed. */
  forgetKeys(): Promise<void>;
  /** `hmac-sha256:<hex>` of `value` under the audit HMAC key: names a value without storing it. */
  hmac(value: string): Promise<string>;
  verify(): Promise<VerifyReport>;
  /** One page of the trail; without `executor`, every draft committed before the call is chained first. */
  search(query: SearchQuery, executor?: Executor, scope?: SearchScope): Promise<SearchPage>;
  /** The last `n` chained events, ascending. */
  tail(n: number): Promise<AuditEvent[]>;
  /** Starts the background chain/checkpoint loop. */
  start(): void;
  /** Stops the loop after a final chain and checkpoint (best effort). */
  stop(): Promise<void>;
}

/** A JSON `\uD800`–`\uDFFF` escape not itself preceded by an escaped backslash (JSON.stringify emits only lone ones). */
const LONE_SURROGATE_ESCAPE = /(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;

/** Creates the audit module. Nothing runs in the background until `start()`. */
export function createAuditModule(deps: AuditModuleDeps): AuditModule {
  const clock = deps.clock ?? (() => new Date());
  const batchSize = deps.batchSize ?? DEFAULT_BATCH_SIZE;
  let keys: Promise<AuditKeys> | undefined;
  let chaining: Promise<number> = Promise.resolve(0);
  let checkpointing: Promise<SignedCheckpoint | undefined> = Promise.resolve(undefined);
  // What this process chained, kept for the export (audit.export.ts, ChainedLines).
  const held = new ChainedLines();
  const onChained = (events: readonly AuditEvent[], lines: readonly Buffer[]) => held.add(events, lines);

  const loadKeys = (): Promise<AuditKeys> => {
    keys ??= ensureKeys(deps.db, deps.barrier).catch((err: unknown) => {
      keys = undefined;
      throw err;
    });
    return keys;
  };
  // One chain run at a time in this process (the head lock orders processes).
  const chainPending = (): Promise<number> => {
    chaining = chaining.catch(() => 0).then(() => chainAll(deps.db, batchSize, clock, onChained));
    return chaining;
  };
  const checkpointNow = (): Promise<SignedCheckpoint | undefined> => {
    checkpointing = checkpointing
      .catch(() => undefined)
      .then(async () => {
        await chainPending();
        // Sealed: events keep being chained; signing waits until the keys can be opened again.
        if (deps.barrier?.isSealed) return undefined;
        return createCheckpoint(deps.db, deps.logDir, await loadKeys(), clock, held);
      });
    return checkpointing;
  };
  const loop = createLoop({
    chain: chainPending,
    checkpoint: checkpointNow,
    checkpointEvery: deps.checkpointEvery ?? 1000,
    checkpointIntervalMs: deps.checkpointIntervalMs ?? 10_000,
    checkpointMinIntervalMs: deps.checkpointMinIntervalMs ?? 1000,
    chainIntervalMs: deps.chainIntervalMs ?? 50,
    onError: deps.onError ?? (() => undefined),
  });

  /**
   * Validated and serialized once: the NUL check and the insert use the same text. The common
   * draft passes a quick hand-written check (`looksLikeValidDraft`: true only where the schema
   * would accept the same JSON); anything it is unsure of goes through the schema, as before.
   */
  const serialize = (input: AuditEventInput): string => {
    const draft = { ...input, time: input.time ?? clock().toISOString(), details: input.details ?? {} };
    let json = JSON.stringify(draft);
    if (!looksLikeValidDraft(draft, Buffer.byteLength(json))) {
      const parsed = auditEventDraftSchema.safeParse(draft);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        throw new AppError('VALIDATION_FAILED', { detail: 'the audit event is not valid', meta: { issues } });
      }
      json = JSON.stringify(parsed.data);
    }
    // Both checks below look for a `\u` escape, which JSON.stringify writes only for control
    // characters and lone surrogates: most drafts have none and skip the scans.
    if (!json.includes('\\u')) return json;
    if (json.includes('\\u0000')) {
      throw new AppError('VALIDATION_FAILED', {
        detail: 'the audit event contains a NUL character, which the database cannot store',
      });
    }
    // JSON.stringify writes a lone surrogate as a `\udXXX` escape, which PostgreSQL's json input
    // refuses. Refused here, for this draft alone: inside a group commit the database would
    // refuse the whole statement, failing other callers' events with it.
    if (LONE_SURROGATE_ESCAPE.test(json)) {
      throw new AppError('VALIDATION_FAILED', {
        detail: 'the audit event contains an unpaired UTF-16 surrogate, which the database cannot store',
      });
    }
    return json;
  };
  const group = createGroupWriter((jsons) => insertPendingMany(deps.db, jsons));

  return {
    async record(executor, input) {
      const json = serialize(input);
      try {
        await insertPending(executor, json);
      } catch (err) {
        throw new AppError('AUDIT_UNAVAILABLE', { cause: err });
      }
    },
    async recordCommitted(input) {
      const json = serialize(input);
      try {
        await group.write(json);
      } catch (err) {
        throw new AppError('AUDIT_UNAVAILABLE', { cause: err });
      }
    },
    chainPending,
    requestChain: () => loop.wake(),
    checkpointNow,
    ensureKeys: loadKeys,
    async forgetKeys() {
      const cached = keys;
      keys = undefined;
      const k = await cached?.catch(() => undefined);
      k?.hmacKey.fill(0); // the Ed25519 KeyObject lives in OpenSSL memory: dropped, not wipeable
    },
    async hmac(value) {
      return hmacValue((await loadKeys()).hmacKey, value);
    },
    verify: () => verifyAuditTrail(deps.db, deps.logDir),
    async search(query, executor, scope) {
      // Read-your-writes: what was recorded before the search began is chained first, so a
      // search never misses an event its caller just caused (the loop may not have run yet).
      if (executor === undefined) await chainPending();
      return searchEvents(executor ?? deps.db, query, scope);
    },
    tail: (n) => lastEvents(deps.db, Math.max(1, Math.min(n, 10_000))),
    start: () => loop.start(),
    stop: () => loop.stop(),
  };
}
