/**
 * Canonical JSON: one byte string per value, so a hash or signature over it means one thing.
 *
 * Rules (the same as RFC 8785 "JCS" for the values allowed here):
 * - object keys sorted by UTF-16 code units at every depth; no whitespace anywhere; UTF-8;
 * - strings escaped exactly as `JSON.stringify` does (lone surrogates become `\uXXXX`, so the
 *   output is always valid UTF-8);
 * - numbers must be finite and print as ECMAScript `Number#toString` (`-0` prints `0`);
 * - only plain objects, arrays, strings, finite numbers, booleans and `null` are accepted.
 *   `undefined` (as a value or an array hole), `NaN`, `Infinity`, bigint, functions, symbols,
 *   class instances (Date, Map, Buffer …) and nesting deeper than {@link MAX_DEPTH} throw
 *   {@link CanonicalJsonError} instead of being dropped or coerced: silently changing a value
 *   before hashing would make the hash attest something the caller did not write.
 *
 * The writer encodes straight into a reusable byte buffer (the audit verifier canonicalizes
 * hundreds of thousands of events per second; building and re-encoding strings cost twice as much).
 */

/** Deepest nesting accepted; also stops reference cycles. */
export const MAX_DEPTH = 32;

/** Thrown when a value has no canonical JSON form. `path` says where, e.g. `$.details.n`. */
export class CanonicalJsonError extends TypeError {
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string) {
    super(`${path}: ${reason}`);
    this.name = 'CanonicalJsonError';
    this.path = path;
    this.reason = reason;
  }
}

/** Re-throws `err` with `segment` inserted after the leading `$` of its path. */
export function withPath(err: unknown, segment: string): never {
  if (err instanceof CanonicalJsonError) throw new CanonicalJsonError('$' + segment + err.path.slice(1), err.reason);
  throw err;
}

/** 1 for the printable ASCII characters that JSON.stringify copies as they are. */
const PLAIN = new Uint8Array(0x7f).map((_, c) => (c >= 0x20 && c !== 0x22 && c !== 0x5c ? 1 : 0));

/**
 * Growable byte buffer for canonical JSON. Bytes before `start` (given at construction) are
 * kept across `reset`, so a caller can keep a fixed prefix in front of what it writes.
 */
export class ByteWriter {
  buf: Buffer;
  off: number;
  private readonly start: number;

  constructor(prefix: Buffer = Buffer.alloc(0), capacity = 4096) {
    this.buf = Buffer.alloc(Math.max(capacity, prefix.length * 2));
    prefix.copy(this.buf, 0);
    this.start = this.off = prefix.length;
  }

  /** Forgets everything written after the prefix. */
  reset(): void {
    this.off = this.start;
  }

  /** Makes room for `n` more bytes, keeping what is written. */
  ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(this.off + n, this.buf.length * 2));
    this.buf.copy(bigger, 0, 0, this.off);
    this.buf = bigger;
  }

  /** Writes a string known to be ASCII without escapes (punctuation, keys, number text). */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const buf = this.buf;
    let off = this.off;
    for (let i = 0; i < n; i++) buf[off++] = s.charCodeAt(i);
    this.off = off;
  }

  /** Writes `s` as a JSON string literal, byte-identical to UTF-8 of `JSON.stringify(s)`. */
  quoted(s: string): void {
    const n = s.length;
    this.ensure(n * 6 + 2);
    const buf = this.buf;
    let off = this.off;
    buf[off++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      // Anything JSON.stringify might escape, and all non-ASCII, takes the exact slow path.
      if (c > 0x7e || PLAIN[c] === 0) return this.quotedSlow(s);
      buf[off++] = c;
    }
    buf[off++] = 0x22;
    this.off = off;
  }

  private quotedSlow(s: string): void {
    this.off += this.buf.write(JSON.stringify(s), this.off, 'utf8');
  }

  /** A copy of the bytes written after the prefix. */
  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(this.start, this.off));
  }
}

const shared = new ByteWriter();

/**
 * Serializes `value` to canonical JSON text. Two values that are equal as JSON data (whatever
 * the insertion order of their keys) give identical text; anything without a single JSON
 * meaning throws {@link CanonicalJsonError}.
 */
export function canonicalJson(value: unknown): string {
  return canonicalBytes(value).toString('utf8');
}

/** {@link canonicalJson} as UTF-8 bytes (the form that is hashed and signed). */
export function canonicalBytes(value: unknown): Buffer {
  shared.reset();
  writeValue(shared, value, 0);
  return shared.bytes();
}

/** Writes one value at nesting `depth`. The error path is assembled only while an error unwinds. */
export function writeValue(w: ByteWriter, value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
      return w.quoted(value);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError('$', `number ${String(value)} is not finite`);
      return w.ascii(String(value));
    case 'boolean':
      return w.ascii(value ? 'true' : 'false');
    case 'object':
      if (value === null) return w.ascii('null');
      if (depth >= MAX_DEPTH) throw new CanonicalJsonError('$', `nested deeper than ${MAX_DEPTH}`);
      return Array.isArray(value) ? writeArray(w, value, depth + 1) : writeObject(w, value, depth + 1);
    default:
      throw new CanonicalJsonError('$', `${typeof value} has no JSON form`);
  }
}

function writeArray(w: ByteWriter, arr: readonly unknown[], depth: number): void {
  w.ascii('[');
  for (let i = 0; i < arr.length; i++) {
    if (i > 0) w.ascii(',');
    try {
      if (!(i in arr)) throw new CanonicalJsonError('$', 'array hole (undefined)');
      writeValue(w, arr[i], depth);
    } catch (err) {
      withPath(err, `[${i}]`);
    }
  }
  w.ascii(']');
}

function writeObject(w: ByteWriter, obj: object, depth: number): void {
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) throw new CanonicalJsonError('$', 'only plain objects are allowed');
  const record = obj as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  w.ascii('{');
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const v = record[key];
    if (i > 0) w.ascii(',');
    try {
      if (v === undefined) throw new CanonicalJsonError('$', 'undefined is not allowed');
      w.quoted(key);
      w.ascii(':');
      writeValue(w, v, depth);
    } catch (err) {
      withPath(err, '.' + key);
    }
  }
  w.ascii('}');
}
