/**
 * A pass-through stream that checks the SHA-256 of everything it passed against an expected hex
 * digest when the input ends, failing with the caller's error on a mismatch (so the consumer sees
 * an error instead of a clean end).
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class Sha256Check extends Transform {
  readonly #hash = createHash('sha256');

  constructor(
    private readonly expectedHex: string,
    private readonly mismatch: () => Error,
  ) {
    super({ highWaterMark: 4 * 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    cb(this.#hash.digest('hex') === this.expectedHex ? null : this.mismatch());
  }
}
