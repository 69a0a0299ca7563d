/**
 * Object format, I/O helper: gathers the per-segment buffers node:crypto returns into output
 * buffers of about `size` bytes (`outputChunkSize`, e.g. 1 MiB), so a stream pushes one buffer
 * per MiB instead of one (or two) per 64 KiB segment. A Node stream pays a fixed cost per chunk
 * (DESIGN §8), and every chunk a decrypt stream pushes also crosses the transforms and the
 * socket after it. The price is a copy and a fresh buffer for every byte: more external memory,
 * hence more mark-compact GCs in a process with a large heap — so it is opt-in (see
 * CodecOutputOptions in object-format-codec.ts).
 *
 * Guarantees:
 * - Bytes are copied in the order they are added; a piece added with `add` is never split
 *   across two output buffers, so a decoder that adds whole verified segments only ever
 *   releases whole verified segments.
 * - Only the filled part of an output buffer is released (a `subarray`); the buffer is never
 *   written again once released, so a consumer may hold it as long as it likes.
 * - `wipe` zero-fills what is held and not yet released (for failures and aborted streams).
 * - `size` 0 disables gathering: every piece is released as it is, without a copy.
 */

/** Output buffer size to gather into: MiB-sized chunks are what Node streams move fastest. */
export const OUTPUT_CHUNK_SIZE = 1024 * 1024;

export class OutputGather {
  #buf: Buffer | undefined;
  #len = 0;

  /** `size`: bytes per output buffer (0: no gathering, pieces pass through uncopied). */
  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new RangeError('output chunk size must be a non-negative integer');
  }

  /**
   * Appends copies of `pieces` (kept together in one output buffer) and moves every full buffer
   * to `out`. `remaining` is how many bytes, these included, are still to come when the caller
   * knows it (a range, a declared size): the last buffer is then no bigger than needed.
   * Returns the bytes moved to `out`.
   */
  add(pieces: readonly Buffer[], out: Buffer[], remaining = Infinity): number {
    let n = 0;
    for (const p of pieces) n += p.length;
    if (this.size === 0) {
      for (const p of pieces) if (p.length > 0) out.push(p);
      return n;
    }
    if (n === 0) return 0;
    let released = 0;
    if (this.#buf && this.#buf.length - this.#len < n) released += this.flush(out);
    if (!this.#buf) this.#buf = Buffer.allocUnsafe(Math.max(n, Math.min(this.size, remaining)));
    for (const p of pieces) this.#len += p.copy(this.#buf, this.#len);
    if (this.#len === this.#buf.length) released += this.flush(out);
    return released;
  }

  /** Moves what is held to `out` (its filled part only); returns the bytes moved. */
  flush(out: Buffer[]): number {
    const buf = this.#buf;
    const n = this.#len;
    this.#buf = undefined;
    this.#len = 0;
    if (buf && n > 0) out.push(n === buf.length ? buf : buf.subarray(0, n));
    return n;
  }

  /** Zero-fills and drops what is held and not yet released. */
  wipe(): void {
    this.#buf?.fill(0, 0, this.#len);
    this.#buf = undefined;
    this.#len = 0;
  }
}
