/**
 * The barrier: the one choke point that seals every sensitive database value.
 *
 * Guarantees:
 * - Every value is sealed with AES-256-GCM under the keyring's active term. The associated data
 *   binds the format version, the term, and the table, column and row id the value belongs to, so
 *   a ciphertext copied to another row, column or table, or with its header altered, fails.
 * - A value opens with whichever term it names, so rotation needs no downtime: new writes use the
 *   new term, old values stay readable until rewrapped (`rewrap`) and their term retired. A value
 *   under a retired term throws KEY_DESTROYED "key term N was retired"; every other failure is one
 *   `DecryptionError` without detail.
 * - While sealed (no keyring) every operation throws SEALED. `sealAndWipe()` zero-fills the key
 *   material and returns to that state (used by `operator seal`).
 *
 * The barrier owns the keyring it is given: it wipes it on `sealAndWipe()` or when replaced.
 * Storage is hostile; nothing here does I/O. Layout: docs/format-crypto.md.
 */
import { AppError } from '../errors.ts';
import {
  DecryptionError,
  NONCE_LENGTH,
  TAG_LENGTH,
  encodeAad,
  openAead,
  sealAead,
  type UnsafeNonceOption,
} from './aead.ts';
import type { Keyring } from './keyring.ts';

/** Where a sealed value lives; all three parts are bound into the ciphertext. */
export interface BarrierContext {
  table: string;
  column: string;
  rowId: string;
}

/** Options for `createBarrier`. Without `keyring` the barrier starts sealed. */
export interface BarrierOptions extends UnsafeNonceOption {
  keyring?: Keyring;
}

/** The barrier's contract; see the module comment for what each operation guarantees. */
export interface Barrier {
  /** True while no keyring is loaded; every other operation then throws SEALED. */
  readonly isSealed: boolean;
  /** The term new seals use. */
  activeTerm(): number;
  /** Seals `plaintext` for `ctx` under the active term. */
  seal(plaintext: Buffer, ctx: BarrierContext): Buffer;
  /** Opens a value sealed for exactly `ctx`; throws DecryptionError or KEY_DESTROYED otherwise. */
  open(ciphertext: Buffer, ctx: BarrierContext): Buffer;
  /** The term a ciphertext names (header only, not authenticated), to count rows per term. */
  termOf(ciphertext: Buffer): number;
  /** Opens and re-seals under the active term; returns the same buffer (verified) if current. */
  rewrap(ciphertext: Buffer, ctx: BarrierContext): Buffer;
  /** Loads a keyring into a sealed barrier. Throws CONFLICT if already unsealed. */
  unseal(keyring: Keyring): void;
  /** Swaps in a newer keyring (after rotate/retire was persisted) and wipes the old one. */
  replaceKeyring(keyring: Keyring): void;
  /** Wipes the keyring and returns to the sealed state. Idempotent. */
  sealAndWipe(): void;
}

/** Layout version byte of barrier ciphertexts. */
export const BARRIER_VERSION = 0x01;
const HEADER_LENGTH = 1 + 4;
const MIN_LENGTH = HEADER_LENGTH + NONCE_LENGTH + TAG_LENGTH;

/**
 * Creates a barrier, sealed unless `opts.keyring` is given.
 * @example
 * const barrier = createBarrier({ keyring });
 * const ct = barrier.seal(Buffer.from('s3cr3t'), { table: 'secrets', column: 'value', rowId: id });
 */
export function createBarrier(opts: BarrierOptions = {}): Barrier {
  const barrier = new KeyringBarrier(opts.unsafeNonce ? { unsafeNonce: opts.unsafeNonce } : {});
  if (opts.keyring) barrier.unseal(opts.keyring);
  return barrier;
}

/** The implementation; private fields keep the keyring out of reach of callers. */
class KeyringBarrier implements Barrier {
  #keyring: Keyring | undefined;
  readonly #nonceOpt: UnsafeNonceOption;

  constructor(nonceOpt: UnsafeNonceOption) {
    this.#nonceOpt = nonceOpt;
  }

  get isSealed(): boolean {
    return this.#keyring === undefined;
  }

  activeTerm(): number {
    return this.#loaded().activeTerm;
  }

  seal(plaintext: Buffer, ctx: BarrierContext): Buffer {
    const ring = this.#loaded();
    const term = ring.activeTerm;
    return Buffer.concat([
      encodeHeader(term),
      sealAead(ring.keyFor(term), plaintext, barrierAad(term, ctx), this.#nonceOpt),
    ]);
  }

  open(ciphertext: Buffer, ctx: BarrierContext): Buffer {
    const ring = this.#loaded();
    const term = parseTerm(ciphertext);
    if (!ring.has(term)) throw new DecryptionError();
    return openAead(ring.keyFor(term), ciphertext.subarray(HEADER_LENGTH), barrierAad(term, ctx));
  }

  termOf(ciphertext: Buffer): number {
    this.#loaded();
    return parseTerm(ciphertext);
  }

  rewrap(ciphertext: Buffer, ctx: BarrierContext): Buffer {
    const plaintext = this.open(ciphertext, ctx);
    try {
      return parseTerm(ciphertext) === this.activeTerm() ? ciphertext : this.seal(plaintext, ctx);
    } finally {
      plaintext.fill(0);
    }
  }

  unseal(keyring: Keyring): void {
    if (this.#keyring) throw new AppError('CONFLICT', { detail: 'the barrier is already unsealed' });
    this.#install(keyring);
  }

  replaceKeyring(keyring: Keyring): void {
    const current = this.#loaded();
    if (keyring === current) return;
    if (keyring.activeTerm < current.activeTerm) {
      throw new AppError('CONFLICT', { detail: 'refusing a keyring older than the one in use' });
    }
    this.#install(keyring);
    current.wipe();
  }

  sealAndWipe(): void {
    this.#keyring?.wipe();
    this.#keyring = undefined;
  }

  #install(keyring: Keyring): void {
    if (keyring.isWiped) throw new AppError('SEALED', { detail: 'the keyring was wiped' });
    this.#keyring = keyring;
  }

  #loaded(): Keyring {
    if (!this.#keyring) throw new AppError('SEALED');
    return this.#keyring;
  }
}

/** AAD = encodeAad(['strongroom/barrier', version, term, table, column, rowId]). */
function barrierAad(term: number, ctx: BarrierContext): Buffer {
  for (const part of ['table', 'column', 'rowId'] as const) {
    if (typeof ctx[part] !== 'string' || ctx[part].length === 0)
      throw new TypeError(`barrier context needs a non-empty ${part}`);
  }
  return encodeAad(['strongroom/barrier', BARRIER_VERSION, term, ctx.table, ctx.column, ctx.rowId]);
}

function encodeHeader(term: number): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  header[0] = BARRIER_VERSION;
  header.writeUInt32BE(term, 1);
  return header;
}

/** Reads the term from a barrier ciphertext; malformed input is a DecryptionError. */
function parseTerm(ciphertext: Buffer): number {
  if (!Buffer.isBuffer(ciphertext) || ciphertext.length < MIN_LENGTH || ciphertext[0] !== BARRIER_VERSION) {
    throw new DecryptionError();
  }
  return ciphertext.readUInt32BE(1);
}
