/**
 * Building and checking the hash chain.
 *
 * `appendEvents` is the only way events get their `seq`, `prevHash` and `hash`; `ChainVerifier`
 * re-derives them in one streaming pass and names every place the stored chain disagrees.
 */
import { CanonicalJsonError } from './canonical.ts';
import {
  AuditFormatError,
  auditEventDraftSchema,
  computeEventHash,
  eventLineBytes,
  HEX64_PATTERN,
  looksLikeValidDraft,
  type AuditEvent,
  type AuditEventDraft,
  type ChainHead,
  GENESIS_HEAD,
} from './event.ts';

/**
 * Chains `drafts` after `head`, in order: seq head.seq+1, +2, …; each prevHash is the hash of the
 * event before. Every draft is validated first and nothing is returned unless all are valid, so
 * a caller writing the result in one transaction records all of them or none (fail-closed).
 * Throws `AuditFormatError` naming the draft index and the field.
 */
export function appendEvents(
  head: ChainHead,
  drafts: readonly AuditEventDraft[],
  /** When given, receives each event's export line (a copy of `eventLineBytes`), in order. */
  lines?: Buffer[],
): AuditEvent[] {
  if (!Number.isSafeInteger(head.seq) || head.seq < 0 || !HEX64_PATTERN.test(head.hash)) {
    throw new AuditFormatError('chain head must have a non-negative integer seq and a 64-hex hash');
  }
  const valid = drafts.map((draft, i) => {
    if (passesQuickCheck(draft)) return draft;
    const parsed = auditEventDraftSchema.safeParse(draft);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.join('.') ?? '';
      throw new AuditFormatError(`audit draft ${i}: ${where} ${issue?.message ?? 'is invalid'}`.trim());
    }
    return parsed.data;
  });
  const out: AuditEvent[] = [];
  let { seq, hash: prevHash } = head;
  for (const draft of valid) {
    seq += 1;
    const event = { ...draft, seq, prevHash, hash: '' };
    const hash = computeEventHash(event);
    event.hash = hash;
    // Right after computeEventHash the line is already encoded: this is a copy, not a re-encoding.
    if (lines !== undefined) lines.push(Buffer.from(eventLineBytes(event)));
    out.push(event);
    prevHash = hash;
  }
  return out;
}

/**
 * The writer's quick draft check (`looksLikeValidDraft`: true only where the schema accepts the
 * draft unchanged), so the chainer does not run the schema on every pending draft; anything it
 * is unsure of goes to the schema, which also words the refusal.
 */
function passesQuickCheck(draft: unknown): draft is AuditEventDraft {
  if (typeof draft !== 'object' || draft === null || Array.isArray(draft)) return false;
  let json: string;
  try {
    json = JSON.stringify(draft);
  } catch {
    return false;
  }
  return looksLikeValidDraft(draft as Record<string, unknown>, Buffer.byteLength(json));
}

export type ChainProblemKind = 'edited' | 'gap' | 'reordered' | 'duplicate' | 'broken-link' | 'malformed';

/** One disagreement between the stored chain and the recomputed one. */
export interface ChainProblem {
  kind: ChainProblemKind;
  seq: number;
  detail: string;
}

/** Where verification starts: the genesis head, or a signed checkpoint that pruned events before it. */
export interface ChainStart extends ChainHead {
  /** How to name the start in messages, e.g. "the retention checkpoint at 1000". */
  label?: string;
}

export interface ChainVerifierOptions {
  start?: ChainStart;
  /** Receives each problem as found. Default: collected in `problems`. */
  onProblem?: (p: ChainProblem) => void;
  /**
   * Receives every event that took its place in the chain, in seq order (not duplicates), and
   * whether its content matched its stored hash.
   */
  onEvent?: (e: AuditEvent, intact: boolean) => void;
  /** How many early events to hold while waiting for a missing one before calling it a gap. */
  reorderWindow?: number;
}

/**
 * Streaming chain check. Feed events with `push` (normally in seq order), then call `finish`.
 *
 * Guarantees, for every event pushed:
 * - its hash is recomputed; a mismatch is `edited` (the content is not what was hashed);
 * - in seq order, its prevHash must equal the stored hash of the event before (or of the start);
 *   otherwise `broken-link` (an event was replaced, or the chain was re-hashed after an edit);
 * - missing seqs are one `gap` per run; an event arriving after a later one is `reordered`;
 *   a seq seen twice is `duplicate`; an event whose fields cannot be read is `malformed`.
 * The normal case (next seq, nothing held back) allocates nothing but the hash itself.
 */
export class ChainVerifier {
  readonly problems: ChainProblem[] = [];
  private next: number;
  private lastHash: string;
  private readonly startSeq: number;
  private readonly startLabel: string;
  private readonly window: number;
  private readonly report: (p: ChainProblem) => void;
  private readonly onEvent: ((e: AuditEvent, intact: boolean) => void) | undefined;
  /** Seqs whose content did not match their hash (only ever filled when something is wrong). */
  private readonly suspect = new Set<number>();
  private held: Map<number, AuditEvent> | null = null;
  private afterGap = false;
  private readonly gaps: Array<[number, number]> = [];
  private count = 0;

  constructor(options: ChainVerifierOptions = {}) {
    const start = options.start ?? GENESIS_HEAD;
    this.next = start.seq + 1;
    this.lastHash = start.hash;
    this.startSeq = start.seq;
    this.startLabel = options.start?.label ?? (start.seq === 0 ? 'the start of the chain' : `seq ${start.seq}`);
    this.window = Math.max(1, options.reorderWindow ?? 1024);
    this.report = options.onProblem ?? ((p) => this.problems.push(p));
    this.onEvent = options.onEvent;
  }

  /** Events whose hash was recomputed (every event pushed with a readable seq). */
  get eventsChecked(): number {
    return this.count;
  }

  /** The last event placed in the chain (the start if none). Held events are not included until `finish`. */
  get head(): ChainHead {
    return { seq: this.next - 1, hash: this.lastHash };
  }

  /** Checks one event. Never throws for bad event data: it is reported instead. */
  push(e: AuditEvent): void {
    const seq: unknown = typeof e === 'object' && e !== null ? e.seq : undefined;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      this.report({ kind: 'malformed', seq: 0, detail: `an event has no valid seq (got ${String(seq)})` });
      return;
    }
    this.count++;
    this.checkHash(e);
    if (seq === this.next && this.held === null) return this.place(e);
    if (seq === this.next) {
      this.report({
        kind: 'reordered',
        seq,
        detail: `event ${seq} came after event ${this.maxHeld()}; the order of events was changed`,
      });
      this.place(e);
      return this.drain();
    }
    if (seq > this.next) return this.hold(e);
    this.late(e);
  }

  /** Reports what is still missing and returns the head. Call once, after the last event. */
  finish(): ChainHead {
    while (this.held !== null) this.flushGap();
    return this.head;
  }

  private checkHash(e: AuditEvent): void {
    let computed: string;
    try {
      computed = computeEventHash(e);
    } catch (err) {
      if (!(err instanceof CanonicalJsonError || err instanceof AuditFormatError || err instanceof TypeError))
        throw err;
      this.suspect.add(e.seq);
      this.report({ kind: 'malformed', seq: e.seq, detail: `event ${e.seq} cannot be read: ${err.message}` });
      return;
    }
    if (computed !== e.hash) {
      this.suspect.add(e.seq);
      this.report({
        kind: 'edited',
        seq: e.seq,
        detail: `event ${e.seq} was changed after it was recorded: its content hashes to ${short(computed)}, not to its stored hash ${short(e.hash)}`,
      });
    }
  }

  private place(e: AuditEvent): void {
    if (e.prevHash !== this.lastHash && !this.afterGap) {
      const before = this.describe(this.next - 1);
      this.report({
        kind: 'broken-link',
        seq: e.seq,
        detail: `event ${e.seq} does not follow ${before}: its prevHash is ${short(e.prevHash)} but ${before} has hash ${short(this.lastHash)}`,
      });
    }
    this.afterGap = false;
    this.lastHash = e.hash;
    this.next = e.seq + 1;
    if (this.onEvent !== undefined) this.onEvent(e, this.suspect.size === 0 || !this.suspect.has(e.seq));
  }

  private hold(e: AuditEvent): void {
    this.held ??= new Map();
    if (this.held.has(e.seq)) {
      this.report({ kind: 'duplicate', seq: e.seq, detail: `event ${e.seq} appears more than once` });
      return;
    }
    this.held.set(e.seq, e);
    if (this.held.size > this.window) this.flushGap();
  }

  private late(e: AuditEvent): void {
    const inGap = this.gaps.some(([a, b]) => e.seq >= a && e.seq <= b);
    if (inGap) {
      this.report({
        kind: 'reordered',
        seq: e.seq,
        detail: `event ${e.seq} came long after event ${this.next - 1}; the order of events was changed`,
      });
    } else {
      const same =
        e.seq === this.next - 1 && e.hash === this.lastHash ? 'an identical copy' : 'a second, different event';
      this.report({ kind: 'duplicate', seq: e.seq, detail: `event ${e.seq} appears more than once (${same})` });
    }
  }

  /** Declares the seqs before the lowest held event missing, then continues from it. */
  private flushGap(): void {
    const first = this.next;
    const upTo = this.minHeld() - 1;
    const range = first === upTo ? `event ${first} is` : `events ${first}..${upTo} are`;
    const after = this.describe(first - 1);
    this.report({
      kind: 'gap',
      seq: first,
      detail: `${range} missing (deleted?): the chain jumps from ${after} to event ${upTo + 1}`,
    });
    if (this.gaps.length < 1024) this.gaps.push([first, upTo]);
    this.next = upTo + 1;
    this.afterGap = true;
    this.drain();
  }

  private drain(): void {
    const held = this.held;
    if (held === null) return;
    for (let e = held.get(this.next); e !== undefined; e = held.get(this.next)) {
      held.delete(e.seq);
      this.place(e);
    }
    if (held.size === 0) this.held = null;
  }

  private describe(seq: number): string {
    return seq === this.startSeq ? this.startLabel : `event ${seq}`;
  }

  private minHeld(): number {
    let min = Infinity;
    for (const s of this.held?.keys() ?? []) if (s < min) min = s;
    return min;
  }

  private maxHeld(): number {
    let max = 0;
    for (const s of this.held?.keys() ?? []) if (s > max) max = s;
    return max;
  }
}

/** First 16 hex digits: enough for an operator to match hashes by eye. */
function short(hash: unknown): string {
  return typeof hash === 'string' ? (hash.length > 16 ? hash.slice(0, 16) + '…' : hash || '(empty)') : String(hash);
}
