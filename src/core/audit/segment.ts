/**
 * The export format: what the audit exporter writes to `<data>/logs/audit/` and what the
 * verifier reads back. Pure text functions; the caller does the file I/O.
 *
 * - `events-<first>-<last>.jsonl`: events first..last (seq, 12-digit zero-padded), one per line,
 *   each line the canonical JSON of the whole event (hash included), every line ending in `\n`.
 * - `checkpoint-<treeSize>.json`: one signed checkpoint, canonical JSON and a final `\n`.
 *
 * Parsing is strict: a line must be exactly the canonical form of a schema-valid event, so the
 * text itself cannot carry meaning the hash does not cover (no extra keys, no alternative
 * escapes or spacing), and lines must run first..last without a hole.
 */
import { canonicalJson } from './canonical.ts';
import { signedCheckpointSchema, type SignedCheckpoint } from './checkpoint.ts';
import { AuditFormatError, auditEventSchema, eventBody, type AuditEvent } from './event.ts';

const PAD = 12;
const MAX_PADDED = 10 ** PAD - 1;
const SEGMENT_NAME = /^events-(\d{12})-(\d{12})\.jsonl$/;
const CHECKPOINT_NAME = /^checkpoint-(\d{12})\.json$/;

function pad(n: number, what: string): string {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_PADDED)
    throw new RangeError(`${what} ${n} does not fit the file name`);
  return String(n).padStart(PAD, '0');
}

/** `events-000000000001-000000001000.jsonl` for events 1..1000. */
export function segmentFileName(first: number, last: number): string {
  if (first < 1 || last < first) throw new RangeError(`segment must cover 1 <= first <= last, got ${first}..${last}`);
  return `events-${pad(first, 'seq')}-${pad(last, 'seq')}.jsonl`;
}

/** The range a segment file name covers, or null if the name is not a segment name. */
export function parseSegmentFileName(name: string): { first: number; last: number } | null {
  const m = SEGMENT_NAME.exec(name);
  if (m === null) return null;
  const first = Number(m[1]);
  const last = Number(m[2]);
  return first >= 1 && last >= first ? { first, last } : null;
}

/** `checkpoint-000000001000.json` for a checkpoint with treeSize 1000. */
export function checkpointFileName(treeSize: number): string {
  return `checkpoint-${pad(treeSize, 'treeSize')}.json`;
}

/** The treeSize a checkpoint file name names, or null if it is not a checkpoint name. */
export function parseCheckpointFileName(name: string): number | null {
  const m = CHECKPOINT_NAME.exec(name);
  return m === null ? null : Number(m[1]);
}

/** One export line (without the newline): canonical JSON of the whole event, hash included. */
export function eventJsonLine(e: AuditEvent): string {
  return canonicalJson(eventBody(e, true));
}

/**
 * The text of a segment file for `events`, which must be non-empty and consecutive by seq
 * (so that the file name's range is the content). Throws `AuditFormatError` otherwise.
 */
export function serializeSegment(events: readonly AuditEvent[]): string {
  const first = events[0];
  if (first === undefined) throw new AuditFormatError('a segment holds at least one event');
  let out = '';
  events.forEach((e, i) => {
    if (e.seq !== first.seq + i)
      throw new AuditFormatError(`segment events must be consecutive: seq ${e.seq} at position ${i}`);
    out += eventJsonLine(e) + '\n';
  });
  return out;
}

/**
 * Events of a segment file. `data` as bytes must be valid UTF-8. With `name`, the lines must
 * cover exactly the range the name says. Throws `AuditFormatError` naming the file and line.
 * Parsing does not check hashes; the verifier does.
 */
export function parseSegment(data: string | Uint8Array, name = 'segment'): AuditEvent[] {
  const text = decodeUtf8(data, name);
  if (text.length === 0) throw new AuditFormatError(`${name}: empty`);
  if (!text.endsWith('\n')) throw new AuditFormatError(`${name}: the last line has no newline (file cut short?)`);
  const lines = text.slice(0, -1).split('\n');
  const events = lines.map((line, i) => parseEventLine(line, `${name} line ${i + 1}`));
  const first = (events[0] as AuditEvent).seq;
  events.forEach((e, i) => {
    if (e.seq !== first + i)
      throw new AuditFormatError(`${name} line ${i + 1}: seq ${e.seq} breaks the run from ${first}`);
  });
  const range = parseSegmentFileName(name);
  const last = first + events.length - 1;
  if (range !== null && (range.first !== first || range.last !== last)) {
    throw new AuditFormatError(`${name}: holds events ${first}..${last}, not what its name says`);
  }
  return events;
}

/**
 * One export line read strictly: valid JSON, schema-valid, exactly canonical. `where` names the
 * file and line in the `AuditFormatError` it throws.
 */
export function parseEventLine(line: string, where: string): AuditEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new AuditFormatError(`${where}: not valid JSON`);
  }
  const parsed = auditEventSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AuditFormatError(`${where}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`.trim());
  }
  if (eventJsonLine(parsed.data) !== line) throw new AuditFormatError(`${where}: not in canonical form`);
  return parsed.data;
}

/**
 * A line of an exported segment, unparsed: the verifier compares its bytes with the database
 * event's export line and parses it only when they differ. `seq` is the seq the line claims
 * (see {@link claimedSeq}).
 */
export class ExportLine {
  constructor(
    readonly seq: number,
    readonly bytes: Buffer,
    /** File name, and 1-based line number in it. */
    readonly file: string,
    readonly line: number,
  ) {}

  get where(): string {
    return `${this.file} line ${this.line}`;
  }

  /** The line read strictly ({@link parseEventLine}); throws `AuditFormatError`. */
  parse(): AuditEvent {
    return parseEventLine(decodeUtf8(this.bytes, this.where), this.where);
  }
}

const SEQ_KEY = Buffer.from('"seq":');

/**
 * The seq a canonical export line holds, found without parsing: the last `"seq":` in the line
 * (inside a JSON string a quote is always escaped, and only string members follow `seq` in
 * canonical key order). Undefined when there is none. Only a hint for ordering: the line is
 * still compared byte for byte, or parsed.
 */
export function claimedSeq(bytes: Buffer): number | undefined {
  const at = bytes.lastIndexOf(SEQ_KEY);
  if (at < 0) return undefined;
  let n = 0;
  let i = at + SEQ_KEY.length;
  const start = i;
  for (let c = bytes[i]; c !== undefined && c >= 0x30 && c <= 0x39 && i - start < 16; c = bytes[++i])
    n = n * 10 + c - 0x30;
  return i === start || !Number.isSafeInteger(n) ? undefined : n;
}

/** The text of a checkpoint file. */
export function serializeCheckpoint(cp: SignedCheckpoint): string {
  return canonicalJson(signedCheckpointSchema.parse(cp)) + '\n';
}

/**
 * A checkpoint file's content, schema-checked (the signature is not verified here). With
 * `name`, the treeSize must match the file name. Throws `AuditFormatError`.
 */
export function parseCheckpointFile(data: string | Uint8Array, name = 'checkpoint'): SignedCheckpoint {
  const text = decodeUtf8(data, name);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new AuditFormatError(`${name}: not valid JSON`);
  }
  const parsed = signedCheckpointSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AuditFormatError(`${name}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`.trim());
  }
  if (canonicalJson(parsed.data) + '\n' !== text) throw new AuditFormatError(`${name}: not in canonical form`);
  const named = parseCheckpointFileName(name);
  if (named !== null && named !== parsed.data.treeSize) {
    throw new AuditFormatError(`${name}: holds treeSize ${parsed.data.treeSize}, not what its name says`);
  }
  return parsed.data;
}

function decodeUtf8(data: string | Uint8Array, name: string): string {
  if (typeof data === 'string') return data;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(data);
  } catch {
    throw new AuditFormatError(`${name}: not valid UTF-8`);
  }
}
