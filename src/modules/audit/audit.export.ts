/**
 * The export area `<logDir>/audit/`: JSON-lines segments and checkpoint files (names and formats
 * from core/audit/segment.ts). Only this module writes there.
 *
 * Guarantees:
 * - Every file is written to a temporary name, fsynced, renamed into place and the directory
 *   fsynced: a crash leaves either the whole file or none. Files 0600, directory 0700.
 * - Existing files are never overwritten: an export is evidence against the database.
 * - A segment is written only if its events chain (hashes recomputed, links checked) and its
 *   last hash is the checkpoint's head hash, so the export never launders an edited row.
 */
import { chmod, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { SignedCheckpoint } from '../../core/audit/checkpoint.ts';
import { computeEventHash, eventLineBytes, type AuditEvent } from '../../core/audit/event.ts';
import {
  checkpointFileName,
  claimedSeq,
  ExportLine,
  parseCheckpointFileName,
  parseSegmentFileName,
  segmentFileName,
  serializeCheckpoint,
} from '../../core/audit/segment.ts';
import type { ExportItem, VerifyProblem } from '../../core/audit/verify.ts';
import { AppError } from '../../core/errors.ts';
import { checkpointsBetween, eventPages, type Executor } from './audit.store.ts';

/** Bytes per file read or write in the export area. */
const IO_CHUNK = 1 << 20;
const NEWLINE = 0x0a;

/** The export directory under a log directory. */
export function exportDir(logDir: string): string {
  return path.join(logDir, 'audit');
}

async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Segment files in the directory, ascending by first seq. */
async function listSegments(dir: string): Promise<{ name: string; first: number; last: number }[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) =>
    err.code === 'ENOENT' ? [] : Promise.reject(err),
  );
  const out: { name: string; first: number; last: number }[] = [];
  for (const name of names) {
    const r = parseSegmentFileName(name);
    if (r !== null) out.push({ name, ...r });
  }
  return out.sort((a, b) => a.first - b.first);
}

/**
 * Export lines of the events THIS process chained and committed, kept from the chainer until
 * they are exported, so the export writes what was hashed instead of reading the rows back and
 * hashing them again. Only a run contiguous in seq is kept (another instance's batch in between
 * starts a new run); anything not held — another instance's events, a restart, more than `max`
 * lines — is read from the database and re-checked as before. Holding the chainer's own bytes
 * keeps the export's guarantee (it never launders an edited row): the lines never went through
 * the database, so a row edited after chaining differs from its exported line and `verify`
 * reports it.
 */
export class ChainedLines {
  private first = 0;
  private lines: Buffer[] = [];
  private hashes: string[] = [];

  constructor(private readonly max = 200_000) {}

  /** A committed batch, in seq order. */
  add(events: readonly AuditEvent[], lines: readonly Buffer[]): void {
    const start = events[0]?.seq;
    if (start === undefined || lines.length !== events.length) return;
    if (this.lines.length === 0 || start !== this.first + this.lines.length) this.reset(start);
    if (this.lines.length + lines.length > this.max) return this.reset(0);
    for (let i = 0; i < events.length; i++) {
      this.lines.push(lines[i] as Buffer);
      this.hashes.push((events[i] as AuditEvent).hash);
    }
  }

  /** Lines `from..to` if every one is held and event `to` has hash `headHash`; else undefined. */
  range(from: number, to: number, headHash: string): Buffer[] | undefined {
    const a = from - this.first;
    const b = to - this.first;
    if (this.lines.length === 0 || a < 0 || b >= this.lines.length || b < a) return undefined;
    if (this.hashes[b] !== headHash) return undefined;
    return this.lines.slice(a, b + 1);
  }

  /** Forgets the lines up to `seq` (exported). */
  dropThrough(seq: number): void {
    const n = Math.min(this.lines.length, seq - this.first + 1);
    if (n <= 0) return;
    this.lines = this.lines.slice(n);
    this.hashes = this.hashes.slice(n);
    this.first += n;
  }

  private reset(first: number): void {
    this.first = first;
    this.lines = [];
    this.hashes = [];
  }
}

/**
 * Exports every stored checkpoint up to `cp` that this export area does not hold yet, in order,
 * each after the events it covers. With several servers on one database each one signs some of
 * the checkpoints; every server's export must still hold all of them, each linking to the one
 * before, or `verify` against it reports a missing checkpoint. Returns the names written.
 */
export async function exportAllThrough(
  db: Executor,
  logDir: string,
  cp: SignedCheckpoint,
  held?: ChainedLines,
): Promise<string[]> {
  const names = await readdir(exportDir(logDir)).catch((err: NodeJS.ErrnoException) =>
    err.code === 'ENOENT' ? [] : Promise.reject(err),
  );
  const exported = names.reduce((m, n) => Math.max(m, parseCheckpointFileName(n) ?? 0), 0);
  const missing = (await checkpointsBetween(db, exported, cp.treeSize)) as SignedCheckpoint[];
  if (!missing.some((c) => c.treeSize === cp.treeSize)) missing.push(cp);
  const written: string[] = [];
  for (const c of missing) written.push(...(await exportThrough(db, logDir, c, held)));
  return written;
}

/**
 * Exports the events after the highest exported seq up to `cp.treeSize`, then `cp` itself.
 * Returns the names of the files written. `held`: lines this process chained (see
 * {@link ChainedLines}); events not held there are read from the database.
 */
export async function exportThrough(
  db: Executor,
  logDir: string,
  cp: SignedCheckpoint,
  held?: ChainedLines,
): Promise<string[]> {
  const dir = exportDir(logDir);
  await ensureDir(dir);
  const written: string[] = [];
  const exportedHigh = (await listSegments(dir)).reduce((m, s) => Math.max(m, s.last), 0);
  if (exportedHigh < cp.treeSize) {
    const name = segmentFileName(exportedHigh + 1, cp.treeSize);
    const lines = held?.range(exportedHigh + 1, cp.treeSize, cp.headHash);
    await writeAtomically(dir, name, (fh) =>
      lines === undefined ? writeSegment(fh, db, exportedHigh + 1, cp) : writeLines(fh, lines),
    );
    written.push(name);
  }
  held?.dropThrough(cp.treeSize);
  const cpName = checkpointFileName(cp.treeSize);
  const existing = await readdir(dir);
  if (!existing.includes(cpName)) {
    await writeAtomically(dir, cpName, (fh) => fh.writeFile(serializeCheckpoint(cp)));
    written.push(cpName);
  }
  return written;
}

type FileHandle = Awaited<ReturnType<typeof open>>;

const NEWLINE_BYTES = Buffer.from('\n');

/** Writes held lines, each followed by a newline, in writes of about {@link IO_CHUNK}. */
async function writeLines(fh: FileHandle, lines: readonly Buffer[]): Promise<void> {
  let parts: Buffer[] = [];
  let size = 0;
  for (const l of lines) {
    parts.push(l, NEWLINE_BYTES);
    size += l.length + 1;
    if (size >= IO_CHUNK) {
      await fh.write(Buffer.concat(parts, size));
      parts = [];
      size = 0;
    }
  }
  if (size > 0) await fh.write(Buffer.concat(parts, size));
}

/**
 * Writes events `from..cp.treeSize` as segment lines (`eventLineBytes`, the bytes of
 * `serializeSegment`), refusing any event that does not hash to its stored hash or chain.
 */
async function writeSegment(fh: FileHandle, db: Executor, from: number, cp: SignedCheckpoint): Promise<void> {
  let chunks: Buffer[] = [];
  let size = 0;
  let prev: AuditEvent | undefined;
  for await (const page of eventPages(db, from, cp.treeSize)) {
    for (const e of page) {
      if (
        computeEventHash(e) !== e.hash ||
        (prev === undefined ? e.seq !== from : e.prevHash !== prev.hash || e.seq !== prev.seq + 1)
      ) {
        throw new AppError('AUDIT_UNAVAILABLE', {
          detail: `audit export refused: event ${e.seq} in the database does not chain (run 'strongroom audit verify')`,
        });
      }
      prev = e;
      const line = eventLineBytes(e);
      const out = Buffer.allocUnsafe(line.length + 1);
      line.copy(out);
      out[line.length] = NEWLINE;
      chunks.push(out);
      size += out.length;
      if (size >= IO_CHUNK) {
        await fh.write(Buffer.concat(chunks, size));
        chunks = [];
        size = 0;
      }
    }
  }
  if (size > 0) await fh.write(Buffer.concat(chunks, size));
  if (prev === undefined || prev.seq !== cp.treeSize || prev.hash !== cp.headHash) {
    throw new AppError('AUDIT_UNAVAILABLE', {
      detail: `audit export refused: the database does not reach checkpoint ${cp.treeSize}`,
    });
  }
}

/** temp file (0600, exclusive) → write → fsync → rename → fsync directory. Never replaces a file. */
async function writeAtomically(dir: string, name: string, write: (fh: FileHandle) => Promise<void>): Promise<void> {
  const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await write(fh);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  const target = path.join(dir, name);
  const names = await readdir(dir);
  if (names.includes(name)) {
    await rm(tmp, { force: true });
    return;
  }
  await rename(tmp, target);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** What the export area holds, as `verifyTrail` wants it, plus problems found while reading. */
export interface ExportedTrail {
  checkpoints: unknown[];
  /** Segment lines, unparsed, a page per read (the verifier compares bytes and parses on a mismatch). */
  segments: AsyncIterable<ExportItem[]>;
  /** Problems the reader found itself (files not matching their names, a missing final newline). */
  problems: VerifyProblem[];
}

/** Reads the export area lazily: segments are streamed a chunk at a time when iterated. */
export async function readExport(logDir: string): Promise<ExportedTrail> {
  const dir = exportDir(logDir);
  const problems: VerifyProblem[] = [];
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) =>
    err.code === 'ENOENT' ? [] : Promise.reject(err),
  );
  const checkpoints: unknown[] = [];
  for (const name of names.filter((n) => parseCheckpointFileName(n) !== null).sort()) {
    const fh = await open(path.join(dir, name), 'r');
    const text = await fh.readFile('utf8').finally(() => fh.close());
    try {
      checkpoints.push(JSON.parse(text) as unknown);
    } catch {
      problems.push({
        kind: 'export-mismatch',
        seq: parseCheckpointFileName(name) ?? 0,
        detail: `exported checkpoint file ${name} is not valid JSON`,
      });
    }
  }
  const segments = await listSegments(dir);
  return { checkpoints, segments: readSegments(dir, segments, problems), problems };
}

/**
 * The lines of each segment file as `ExportLine`s (bytes between newlines, seq as the line
 * claims it, or its position when it claims none), one page per chunk read. Memory: one chunk
 * and the page made from it.
 */
async function* readSegments(
  dir: string,
  files: { name: string; first: number; last: number }[],
  problems: VerifyProblem[],
): AsyncGenerator<ExportItem[]> {
  for (const f of files) {
    const fh = await open(path.join(dir, f.name), 'r');
    let n = 0;
    try {
      let carry: Buffer | undefined;
      for (;;) {
        const buf = Buffer.allocUnsafe(IO_CHUNK);
        const { bytesRead } = await fh.read(buf, 0, IO_CHUNK, null);
        if (bytesRead === 0) break;
        const data =
          carry === undefined ? buf.subarray(0, bytesRead) : Buffer.concat([carry, buf.subarray(0, bytesRead)]);
        const page: ExportItem[] = [];
        let start = 0;
        for (let nl = data.indexOf(NEWLINE); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
          page.push(lineAt(f, ++n, data.subarray(start, nl)));
          start = nl + 1;
        }
        carry = start < data.length ? data.subarray(start) : undefined;
        if (page.length > 0) yield page;
      }
      if (carry !== undefined) {
        problems.push({
          kind: 'export-mismatch',
          seq: f.first + n,
          detail: `exported ${f.name} line ${n + 1}: the last line has no newline (file cut short?)`,
        });
        yield [lineAt(f, ++n, carry)];
      }
    } finally {
      await fh.close();
    }
    if (n !== f.last - f.first + 1) {
      problems.push({
        kind: 'export-mismatch',
        seq: f.first,
        detail: `exported segment ${f.name} holds ${n} lines, not the ${f.last - f.first + 1} events its name says (lines removed or added)`,
      });
    }
  }
}

function lineAt(f: { name: string; first: number }, n: number, bytes: Buffer): ExportLine {
  return new ExportLine(claimedSeq(bytes) ?? f.first + n - 1, bytes, f.name, n);
}
