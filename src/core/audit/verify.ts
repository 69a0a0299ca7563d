/**
 * Whole-trail verification, as a pure function over what the database and the export hold.
 *
 * The database is the suspect; the export and the signed checkpoints are the evidence. The
 * verifier recomputes the chain from the database events (one streaming pass), then holds it
 * against every checkpoint whose signature verifies and against the exported segment events.
 * It reads no files and no tables: the caller streams them in, so the same function serves
 * `strongroom audit verify` online and offline, and tests feed it arrays.
 */
import type { KeyObject } from 'node:crypto';
import { ChainVerifier, type ChainStart } from './chain.ts';
import { signedCheckpointSchema } from './checkpoint.ts';
import {
  AuditFormatError,
  computeEventHash,
  eventLineBytes,
  GENESIS_HEAD,
  looksLikeValidEvent,
  type AuditEvent,
  type ChainHead,
} from './event.ts';
import { ExportLine } from './segment.ts';
import { ProblemList, type VerifyProblem, type VerifyReport } from './report.ts';
import {
  checkLinks,
  expectations,
  highest,
  vetCheckpoints,
  type Expectation,
  type TrustedCheckpoint,
} from './verify-checkpoints.ts';

export type { VerifyProblem, VerifyProblemKind, VerifyReport } from './report.ts';

type Events = Iterable<AuditEvent> | AsyncIterable<AuditEvent>;
/** Database events may also arrive in pages (arrays), which saves one await per event. */
type DbEvents = Events | AsyncIterable<AuditEvent | readonly AuditEvent[]>;
/** An exported event: parsed, or an unparsed line (compared as bytes, parsed only on a mismatch). */
export type ExportItem = AuditEvent | ExportLine;
/** Exported events, singly or in pages. */
export type ExportEvents = Iterable<ExportItem> | AsyncIterable<ExportItem | readonly ExportItem[]>;

export interface VerifyTrailInput {
  /** Database events, ascending by seq, singly or in pages (out-of-order input is reported). */
  events: DbEvents;
  /** Signed checkpoints stored in the database. */
  checkpoints: readonly unknown[];
  /**
   * What the export directory holds: its checkpoint files and its segment events, ascending by
   * seq. Segment lines may be passed unparsed ({@link ExportLine}): each must equal the export
   * line of the database event with its seq, byte for byte, or it is parsed strictly and reported.
   */
  exported?: { checkpoints: readonly unknown[]; segments: ExportEvents };
  /** Audit signing public keys by key id. Checkpoints signed by other keys are not trusted. */
  publicKeys: ReadonlyMap<string, KeyObject>;
  /** When old events were pruned: the signed checkpoint the remaining chain continues from. */
  prunedBefore?: unknown;
  /** Cap on problems listed (default 1000); the rest are counted in `problemsOmitted`. */
  maxProblems?: number;
}

/**
 * Verifies the trail and says what is wrong and where. Never throws for bad data (bad events,
 * checkpoints or export lines are problems in the report); it rejects only if an input stream
 * itself fails. Detects, each as its own kind: edited, gap, broken-link, reordered, duplicate,
 * malformed, truncated, rolled-back, fork, bad-signature, unknown-key, checkpoint-link and
 * export-mismatch (docs/format-audit.md).
 */
export async function verifyTrail(input: VerifyTrailInput): Promise<VerifyReport> {
  const problems = new ProblemList(input.maxProblems ?? 1000);
  const report = problems.add;
  const keys = input.publicKeys;
  const fromDb = vetCheckpoints(input.checkpoints, 'database', keys, report);
  const fromExport = vetCheckpoints(input.exported?.checkpoints ?? [], 'export', keys, report);
  const retention =
    input.prunedBefore === undefined ? [] : vetCheckpoints([input.prunedBefore], 'retention', keys, report);
  checkLinks(fromDb, report);
  checkLinks(fromExport, report);
  const trusted = [...fromDb, ...fromExport, ...retention];
  const start = startOf(input.prunedBefore);
  const run = new TrailRun(start, expectations(trusted, report), report);
  if (input.exported !== undefined) run.cursor = await ExportCursor.open(input.exported.segments, start.seq, report);
  await run.consume(input.events);
  const head = await run.finish();
  await reportShortfall(head, trusted, run.cursor, report);
  return {
    ok: problems.total === 0,
    eventsChecked: run.verifier.eventsChecked,
    headSeq: head.seq,
    headHash: head.hash,
    problems: problems.sorted(),
    problemsOmitted: problems.omitted,
  };
}

/**
 * The database must reach every trusted checkpoint and every exported event. Behind an exported
 * checkpoint is `rolled-back` (the export left the machine, so the database cannot have
 * legitimately forgotten it); behind its own checkpoint or the exported events is `truncated`.
 */
async function reportShortfall(
  head: ChainHead,
  trusted: readonly TrustedCheckpoint[],
  cursor: ExportCursor | undefined,
  report: (p: VerifyProblem) => void,
): Promise<void> {
  const exportedHigh = highest(trusted, 'export');
  const dbHigh = highest(trusted, 'database');
  const rolledBack = exportedHigh !== undefined && exportedHigh.treeSize > head.seq;
  if (rolledBack) {
    report({
      kind: 'rolled-back',
      seq: head.seq,
      detail: `the database ends at event ${head.seq}, but the exported checkpoint covers events up to ${exportedHigh.treeSize}: the database was restored to an older state or its newest events were removed`,
    });
  }
  if (dbHigh !== undefined && dbHigh.treeSize > head.seq) {
    report({
      kind: 'truncated',
      seq: head.seq + 1,
      detail: `the database ends at event ${head.seq}, but its own checkpoint covers events up to ${dbHigh.treeSize}: events ${head.seq + 1}..${dbHigh.treeSize} were removed`,
    });
  }
  const extra = await cursor?.rest();
  if (extra !== undefined && !rolledBack) {
    report({
      kind: 'truncated',
      seq: extra.first,
      detail: `the export holds events ${extra.first}..${extra.last}, but the database ends at event ${head.seq}: its newest events were removed`,
    });
  }
}

/** Genesis, or the (well-formed) retention checkpoint the remaining chain continues from. */
function startOf(prunedBefore: unknown): ChainStart {
  const parsed = signedCheckpointSchema.safeParse(prunedBefore);
  if (!parsed.success) return { ...GENESIS_HEAD };
  const cp = parsed.data;
  return { seq: cp.treeSize, hash: cp.headHash, label: `the retention checkpoint at ${cp.treeSize}` };
}

/** One pass over the database events: chain check, checkpoint hashes, export comparison. */
class TrailRun {
  readonly verifier: ChainVerifier;
  cursor: ExportCursor | undefined;
  /** Events the chain verifier placed since the last settle, and whether each matched its hash. */
  private readonly placed: AuditEvent[] = [];
  private readonly intact: boolean[] = [];

  constructor(
    private readonly start: ChainStart,
    private readonly expected: Map<number, Expectation>,
    private readonly report: (p: VerifyProblem) => void,
  ) {
    const onEvent = (e: AuditEvent, intact: boolean): void => {
      this.checkExpected(e);
      if (this.cursor === undefined) return;
      this.placed.push(e);
      this.intact.push(intact);
    };
    this.verifier = new ChainVerifier({ start, onProblem: report, onEvent });
  }

  async consume(events: DbEvents): Promise<void> {
    if (!(Symbol.asyncIterator in events)) return this.consumeSync(events);
    for await (const item of events) {
      if (Array.isArray(item)) {
        await this.consumeSync(item);
      } else {
        const pending = this.step(item as AuditEvent);
        if (pending !== undefined) await pending;
      }
    }
  }

  /** Awaits only when the export cursor must read on asynchronously. */
  private async consumeSync(events: Iterable<AuditEvent>): Promise<void> {
    for (const e of events) {
      const pending = this.step(e);
      if (pending !== undefined) await pending;
    }
  }

  async finish(): Promise<ChainHead> {
    const head = this.verifier.finish();
    await this.settle(0);
    return head;
  }

  private step(e: AuditEvent): Promise<void> | undefined {
    const seq: unknown = typeof e === 'object' && e !== null ? e.seq : undefined;
    if (typeof seq === 'number' && seq <= this.start.seq && seq >= 1) return this.checkExpected(e);
    this.verifier.push(e);
    return this.placed.length === 0 ? undefined : this.settle(0);
  }

  /** Holds each newly placed event against the export. */
  private settle(from: number): Promise<void> | undefined {
    const placed = this.placed;
    for (let i = from; i < placed.length; i++) {
      const e = placed[i] as AuditEvent;
      const pending = this.cursor?.catchUp(e, this.intact[i] === true);
      if (pending !== undefined) return pending.then(() => this.settle(i + 1));
    }
    placed.length = 0;
    this.intact.length = 0;
    return undefined;
  }

  private checkExpected(e: AuditEvent): undefined {
    if (this.expected.size === 0) return undefined;
    const want = this.expected.get(e.seq);
    if (want !== undefined && want.headHash !== e.hash) {
      this.report({
        kind: 'fork',
        seq: e.seq,
        detail: `event ${e.seq} in the database has hash ${String(e.hash).slice(0, 16)}…, but the ${want.label} signed ${want.headHash.slice(0, 16)}…: the database holds a different history than the one signed`,
      });
    }
    return undefined;
  }
}

/** Walks the exported events in step with the database events (a merge by seq; O(1) memory). */
class ExportCursor {
  current: ExportItem | undefined;
  private lastSeq = 0;
  private page: readonly ExportItem[] = [];
  private pageAt = 0;

  private constructor(
    private readonly it: Iterator<ExportItem> | AsyncIterator<ExportItem | readonly ExportItem[]>,
    private readonly floor: number,
    private readonly report: (p: VerifyProblem) => void,
  ) {}

  static open(
    src: ExportEvents,
    floor: number,
    report: (p: VerifyProblem) => void,
  ): Promise<ExportCursor> | ExportCursor {
    const it = Symbol.asyncIterator in src ? src[Symbol.asyncIterator]() : src[Symbol.iterator]();
    const cursor = new ExportCursor(it, floor, report);
    const pending = cursor.advance();
    return pending === undefined ? cursor : pending.then(() => cursor);
  }

  /** Compares every exported event up to `e.seq` with the database; `e` is the next database event. */
  catchUp(e: AuditEvent, intact: boolean): Promise<void> | undefined {
    for (let x = this.current; x !== undefined && x.seq <= e.seq; x = this.current) {
      if (x.seq === e.seq) this.compare(x, e, intact);
      else this.notInDb(x);
      const pending = this.advance();
      if (pending !== undefined) return pending.then(() => this.catchUp(e, intact));
    }
    return undefined;
  }

  /**
   * Drains what is left (events beyond the database head); returns their range, if any. Lines
   * that do not even parse are reported as well.
   */
  async rest(): Promise<{ first: number; last: number } | undefined> {
    const first = this.current?.seq;
    let last = first;
    while (this.current !== undefined) {
      last = this.current.seq;
      if (this.current instanceof ExportLine) this.unreadable(this.current);
      await this.advance();
    }
    return first === undefined || last === undefined ? undefined : { first, last };
  }

  /** An exported event with no database event of its seq (pruned ones are only read). */
  private notInDb(x: ExportItem): void {
    if (x instanceof ExportLine && this.unreadable(x)) return;
    if (x.seq > this.floor)
      this.report({
        kind: 'export-mismatch',
        seq: x.seq,
        detail: `event ${x.seq} is in the export but not in the database`,
      });
  }

  private compare(x: ExportItem, e: AuditEvent, intact: boolean): void {
    if (x instanceof ExportLine) return this.compareLine(x, e, intact);
    if (x.hash === e.hash && intact && hashOf(x) === x.hash) return;
    this.differs(x.seq, x.hash, e.hash);
  }

  /**
   * Fast path: the line equals, byte for byte, the export line of an intact database event that
   * the quick schema check passes — then it is canonical, schema-valid and hashes to the
   * database's hash, exactly what parsing would establish. Anything else is parsed strictly, so
   * every problem is reported as precisely as before.
   */
  private compareLine(x: ExportLine, e: AuditEvent, intact: boolean): void {
    const dbLine = intact ? lineOf(e) : undefined;
    if (dbLine !== undefined && x.bytes.equals(dbLine)) {
      if (!looksLikeValidEvent(e, dbLine)) this.parsed(x);
      return;
    }
    const parsed = this.parsed(x);
    if (parsed !== undefined) this.differs(x.seq, parsed.hash, e.hash);
  }

  /** Reports and returns true if the line is not a valid canonical event line. */
  private unreadable(x: ExportLine): boolean {
    return this.parsed(x) === undefined;
  }

  /** The line parsed strictly, or undefined after reporting why it cannot be. */
  private parsed(x: ExportLine): AuditEvent | undefined {
    try {
      return x.parse();
    } catch (err) {
      if (!(err instanceof AuditFormatError)) throw err;
      this.report({ kind: 'export-mismatch', seq: x.seq, detail: `exported ${err.message}` });
      return undefined;
    }
  }

  private differs(seq: number, exportHash: unknown, dbHash: unknown): void {
    this.report({
      kind: 'export-mismatch',
      seq,
      detail: `event ${seq} in the export differs from event ${seq} in the database (export hash ${String(exportHash).slice(0, 16)}…, database hash ${String(dbHash).slice(0, 16)}…)`,
    });
  }

  /** Moves to the next exported event in ascending order, reporting and skipping any that is not. */
  private advance(): Promise<void> | undefined {
    for (;;) {
      if (this.pageAt < this.page.length) {
        if (this.accept(this.page[this.pageAt++] as ExportItem)) return undefined;
        continue;
      }
      const r = this.it.next();
      if (r instanceof Promise)
        return r.then((res: IteratorResult<ExportItem | readonly ExportItem[]>) =>
          this.take(res) ? undefined : this.advance(),
        );
      if (this.take(r)) return undefined;
    }
  }

  /** Takes an iterator result (an item or a page); false means "read on". */
  private take(r: IteratorResult<ExportItem | readonly ExportItem[]>): boolean {
    if (r.done === true) {
      this.current = undefined;
      return true;
    }
    if (!Array.isArray(r.value)) return this.accept(r.value as ExportItem);
    this.page = r.value as readonly ExportItem[];
    this.pageAt = 0;
    return false;
  }

  /** Takes `x` as current if usable; false means "skip it and read on". */
  private accept(x: ExportItem): boolean {
    const seq: unknown = typeof x === 'object' && x !== null ? x.seq : undefined;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= this.lastSeq) {
      const what =
        typeof seq === 'number' ? `event ${seq} follows event ${this.lastSeq}` : 'an event without a valid seq';
      const where = x instanceof ExportLine ? ` (${x.where})` : '';
      this.report({
        kind: 'export-mismatch',
        seq: typeof seq === 'number' ? seq : 0,
        detail: `the export is out of order or damaged: ${what}${where}; it was skipped`,
      });
      return false;
    }
    this.lastSeq = seq;
    this.current = x;
    return true;
  }
}

function hashOf(e: AuditEvent): string | undefined {
  try {
    return computeEventHash(e);
  } catch {
    return undefined;
  }
}

function lineOf(e: AuditEvent): Buffer | undefined {
  try {
    return eventLineBytes(e);
  } catch {
    return undefined;
  }
}
