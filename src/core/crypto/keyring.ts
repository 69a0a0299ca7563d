/**
 * The keyring: versioned key-encryption keys ("terms") under one root key.
 *
 * Guarantees:
 * - A `Keyring` is immutable: `rotate()` and `retire()` return a new keyring with its own copies
 *   of the key bytes. The caller persists the new keyring first and only then hands it to the
 *   barrier, so a crash can never leave the barrier writing under a term that was not stored.
 * - The active term is always the newest term, and it can never be retired.
 * - Retiring a term drops its key bytes for good: the term stays listed (so reads can say "term N
 *   was retired" rather than "corrupt"), but no serialized keyring holds its key again. Count the
 *   rows still under a term (`Barrier.termOf`) and rewrap them before retiring it.
 * - `wipe()` zero-fills every key buffer this instance owns; afterwards every call throws SEALED.
 *   (JavaScript cannot promise no other copy exists, e.g. inside OpenSSL; we remove ours.)
 * - The serialized form is sealed with AES-256-GCM under the root key, AAD binding
 *   "strongroom/keyring" and the format version, so a wrong root key or any altered byte fails.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.ts';
import {
  DecryptionError,
  KEY_LENGTH,
  assertKey,
  assertU32,
  encodeAad,
  openAead,
  sealAead,
  type UnsafeNonceOption,
} from './aead.ts';

/** Public facts about one term; never the key. */
export interface KeyTermInfo {
  readonly term: number;
  readonly createdAt: Date;
  readonly retiredAt?: Date;
}

/** One term as stored: `key` is present exactly when the term is not retired. */
export interface KeyTermRecord {
  term: number;
  createdAt: Date;
  retiredAt?: Date;
  key?: Buffer;
}

const MAGIC = Buffer.from('SRKR', 'latin1');
const FORMAT_VERSION = 1;
const AAD = encodeAad(['strongroom/keyring', FORMAT_VERSION]);
const ENTRY_LENGTH = 4 + 8 + 8 + KEY_LENGTH;

/** Versioned key-encryption keys. Create with `Keyring.create()` or `openKeyring()`. */
export class Keyring {
  readonly #records: KeyTermRecord[];
  #wiped = false;

  private constructor(records: KeyTermRecord[]) {
    this.#records = records;
  }

  /** A new keyring holding term 1 with a fresh random key. */
  static create(now: Date = new Date()): Keyring {
    return new Keyring([{ term: 1, createdAt: new Date(now), key: randomBytes(KEY_LENGTH) }]);
  }

  /**
   * Builds a keyring from records, copying every key. Enforces the invariants: terms are 1..n in
   * order, live terms carry a 32-byte key, retired ones none, and the newest term is live.
   */
  static fromRecords(records: readonly KeyTermRecord[]): Keyring {
    if (records.length === 0) throw new RangeError('a keyring needs at least one term');
    const copies = records.map((r, i) => checkRecord(r, i + 1));
    if (copies.at(-1)?.retiredAt !== undefined) throw new RangeError('the newest term cannot be retired');
    return new Keyring(copies);
  }

  /** True once `wipe()` ran; a wiped keyring refuses every operation. */
  get isWiped(): boolean {
    return this.#wiped;
  }

  /** The term new seals must use: always the newest, which is never retired. */
  get activeTerm(): number {
    return this.#live().at(-1)!.term;
  }

  /** Every term with its dates, oldest first; key bytes are never included. */
  get terms(): KeyTermInfo[] {
    return this.#live().map(({ term, createdAt, retiredAt }) =>
      retiredAt
        ? { term, createdAt: new Date(createdAt), retiredAt: new Date(retiredAt) }
        : { term, createdAt: new Date(createdAt) },
    );
  }

  /** True if `term` was ever part of this keyring (live or retired). */
  has(term: number): boolean {
    return this.#live().some((r) => r.term === term);
  }

  /**
   * The key of a live term. The buffer is owned by the keyring: do not keep or modify it.
   * Throws KEY_DESTROYED for a retired term and INTERNAL for a term that never existed.
   */
  keyFor(term: number): Buffer {
    const record = this.#live().find((r) => r.term === term);
    if (!record) throw new AppError('INTERNAL', { detail: `key term ${term} is not in the keyring` });
    if (!record.key) throw new AppError('KEY_DESTROYED', { detail: `key term ${term} was retired` });
    return record.key;
  }

  /** A new keyring with term n+1 (fresh random key) as the active term. This one is unchanged. */
  rotate(now: Date = new Date()): Keyring {
    const next = this.activeTerm + 1;
    assertU32(next, 'key term', 1);
    return Keyring.fromRecords([
      ...this.#live(),
      { term: next, createdAt: new Date(now), key: randomBytes(KEY_LENGTH) },
    ]);
  }

  /** A new keyring where `term` is retired and its key dropped. Refuses the active term. */
  retire(term: number, now: Date = new Date()): Keyring {
    if (!this.has(term)) throw new AppError('INTERNAL', { detail: `key term ${term} is not in the keyring` });
    if (term === this.activeTerm) throw new AppError('CONFLICT', { detail: 'the active key term cannot be retired' });
    return Keyring.fromRecords(
      this.#live().map((r) => {
        if (r.term !== term || r.retiredAt) return r;
        return { term: r.term, createdAt: r.createdAt, retiredAt: new Date(now) };
      }),
    );
  }

  /** Zero-fills every key buffer this keyring owns. Idempotent. */
  wipe(): void {
    for (const r of this.#records) r.key?.fill(0);
    this.#wiped = true;
  }

  /** @internal Records for serialization; keys are the live buffers, not copies. */
  recordsForSealing(): readonly KeyTermRecord[] {
    return this.#live();
  }

  #live(): KeyTermRecord[] {
    if (this.#wiped) throw new AppError('SEALED', { detail: 'the keyring was wiped' });
    return this.#records;
  }
}

function checkRecord(r: KeyTermRecord, expectedTerm: number): KeyTermRecord {
  if (r.term !== expectedTerm) throw new RangeError(`key terms must be 1..n in order; expected ${expectedTerm}`);
  checkDate(r.createdAt, 0);
  if (r.retiredAt !== undefined) {
    checkDate(r.retiredAt, 1);
    if (r.key !== undefined) throw new RangeError(`retired term ${r.term} must not carry a key`);
    return { term: r.term, createdAt: new Date(r.createdAt), retiredAt: new Date(r.retiredAt) };
  }
  if (r.key === undefined) throw new RangeError(`live term ${r.term} needs a key`);
  assertKey(r.key, `key of term ${r.term}`);
  return { term: r.term, createdAt: new Date(r.createdAt), key: Buffer.from(r.key) };
}

/** Dates are stored as uint64 milliseconds; a retiredAt of 0 means "not retired", so it must be > 0. */
function checkDate(d: Date, minMs: number): void {
  const ms = d instanceof Date ? d.getTime() : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < minMs) throw new RangeError('key term dates must be valid and after 1970');
}

/**
 * Serializes `keyring` and seals it under the 32-byte `rootKey`.
 * Layout: "SRKR" ‖ 0x01 ‖ nonce(12) ‖ AES-256-GCM(payload) ‖ tag(16); see docs/format-crypto.md.
 */
export function sealKeyring(keyring: Keyring, rootKey: Buffer, opts: UnsafeNonceOption = {}): Buffer {
  assertKey(rootKey, 'root key');
  const payload = encodePayload(keyring.recordsForSealing());
  try {
    return Buffer.concat([MAGIC, Buffer.of(FORMAT_VERSION), sealAead(rootKey, payload, AAD, opts)]);
  } finally {
    payload.fill(0);
  }
}

/**
 * Opens a blob from `sealKeyring`. A wrong root key, an altered or truncated blob, or an unknown
 * format all throw `DecryptionError`; no partial keyring is ever returned.
 */
export function openKeyring(blob: Buffer, rootKey: Buffer): Keyring {
  assertKey(rootKey, 'root key');
  const head = MAGIC.length + 1;
  if (
    !Buffer.isBuffer(blob) ||
    blob.length < head ||
    !blob.subarray(0, MAGIC.length).equals(MAGIC) ||
    blob[MAGIC.length] !== FORMAT_VERSION
  ) {
    throw new DecryptionError();
  }
  const payload = openAead(rootKey, blob.subarray(head), AAD);
  try {
    return Keyring.fromRecords(decodePayload(payload));
  } finally {
    payload.fill(0);
  }
}

/**
 * Root-key rotation: opens `blob` with `oldRootKey` and seals the same keyring under
 * `newRootKey`. Terms and keys are unchanged, so no data is re-encrypted.
 */
export function resealKeyring(
  blob: Buffer,
  oldRootKey: Buffer,
  newRootKey: Buffer,
  opts: UnsafeNonceOption = {},
): Buffer {
  const keyring = openKeyring(blob, oldRootKey);
  try {
    return sealKeyring(keyring, newRootKey, opts);
  } finally {
    keyring.wipe();
  }
}

function encodePayload(records: readonly KeyTermRecord[]): Buffer {
  const out = Buffer.alloc(4 + records.length * ENTRY_LENGTH);
  out.writeUInt32BE(records.length, 0);
  records.forEach((r, i) => {
    const at = 4 + i * ENTRY_LENGTH;
    out.writeUInt32BE(r.term, at);
    out.writeBigUInt64BE(BigInt(r.createdAt.getTime()), at + 4);
    out.writeBigUInt64BE(BigInt(r.retiredAt?.getTime() ?? 0), at + 12);
    r.key?.copy(out, at + 20);
  });
  return out;
}

function decodePayload(payload: Buffer): KeyTermRecord[] {
  const count = payload.length >= 4 ? payload.readUInt32BE(0) : -1;
  if (count < 1 || payload.length !== 4 + count * ENTRY_LENGTH) throw new DecryptionError();
  const records: KeyTermRecord[] = [];
  for (let i = 0; i < count; i++) {
    const at = 4 + i * ENTRY_LENGTH;
    const retiredMs = Number(payload.readBigUInt64BE(at + 12));
    const record: KeyTermRecord = {
      term: payload.readUInt32BE(at),
      createdAt: new Date(Number(payload.readBigUInt64BE(at + 4))),
    };
    if (retiredMs === 0) record.key = payload.subarray(at + 20, at + ENTRY_LENGTH);
    else record.retiredAt = new Date(retiredMs);
    records.push(record);
  }
  return records;
}
