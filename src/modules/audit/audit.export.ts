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
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import type { SignedCheckpoint } from '../../core/audit/checkpoint.ts';
import { computeEventHash, type AuditEvent } from '../../core/audit/event.ts';
import {
  checkpointFileName, parseCheckpointFileName, parseSegment, parseSegmentFileName, segmentFileName, serializeCheckpoint, serializeSegment,
} from '../../core/audit/segment.ts';
import type { VerifyProblem } from '../../core/audit/verify.ts';
import { AppError } from '../../core/errors.ts';
import { streamEvents, type Executor } from './audit.store.ts';

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
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  const out: { name: string; first: number; last: number }[] = [];
  for (const name of names) {
    const r = parseSegmentFileName(name);
    if (r !== null) out.push({ name, ...r });
  }
  return out.sort((a, b) => a.first - b.first);
}

/**
 * Exports the events after the highest exported seq up to `cp.treeSize`, then `cp` itself.
 * Returns the names of the files written.
 */
export async function exportThrough(db: Executor, logDir: string, cp: SignedCheckpoint): Promise<string[]> {
  const dir = exportDir(logDir);
  await ensureDir(dir);
  const written: string[] = [];
  const exportedHigh = (await listSegments(dir)).reduce((m, s) => Math.max(m, s.last), 0);
  if (exportedHigh < cp.treeSize) {
    const name = segmentFileName(exportedHigh + 1, cp.treeSize);
    await writeAtomically(dir, name, (fh) => writeSegment(fh, db, exportedHigh + 1, cp));
    written.push(name);
  }
  const cpName = checkpointFileName(cp.treeSize);
  const existing = await readdir(dir);
  if (!existing.includes(cpName)) {
    await writeAtomically(dir, cpName, (fh) => fh.writeFile(serializeCheckpoint(cp)));
    written.push(cpName);
  }
  return written;
}

type FileHandle = Awaited<ReturnType<typeof open>>;

async function writeSegment(fh: FileHandle, db: Executor, from: number, cp: SignedCheckpoint): Promise<void> {
  let page: AuditEvent[] = [];
  let prev: AuditEvent | undefined;
  const flush = async () => {
    if (page.length > 0) await fh.write(serializeSegment(page));
    page = [];
  };
  for await (const e of streamEvents(db, from, cp.treeSize)) {
    if (computeEventHash(e) !== e.hash || (prev !== undefined && (e.prevHash !== prev.hash || e.seq !== prev.seq + 1))) {
      throw new AppError('AUDIT_UNAVAILABLE', { detail: `audit export refused: event ${e.seq} in the database does not chain (run 'strongroom audit verify')` });
    }
    prev = e;
    page.push(e);
    if (page.length >= 5000) await flush();
  }
  await flush();
  if (prev === undefined || prev.seq !== cp.treeSize || prev.hash !== cp.headHash) {
    throw new AppError('AUDIT_UNAVAILABLE', { detail: `audit export refused: the database does not reach checkpoint ${cp.treeSize}` });
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
  segments: AsyncIterable<AuditEvent>;
  /** Problems the reader found itself (unreadable lines, files not matching their names). */
  problems: VerifyProblem[];
}

/** Reads the export area lazily: segments are streamed line by line when iterated. */
export async function readExport(logDir: string): Promise<ExportedTrail> {
  const dir = exportDir(logDir);
  const problems: VerifyProblem[] = [];
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  const checkpoints: unknown[] = [];
  for (const name of names.filter((n) => parseCheckpointFileName(n) !== null).sort()) {
    const fh = await open(path.join(dir, name), 'r');
    const text = await fh.readFile('utf8').finally(() => fh.close());
    try {
      checkpoints.push(JSON.parse(text) as unknown);
    } catch {
      problems.push({ kind: 'export-mismatch', seq: parseCheckpointFileName(name) ?? 0, detail: `exported checkpoint file ${name} is not valid JSON` });
    }
  }
  const segments = await listSegments(dir);
  return { checkpoints, segments: readSegments(dir, segments, problems), problems };
}

async function* readSegments(dir: string, files: { name: string; first: number; last: number }[], problems: VerifyProblem[]): AsyncGenerator<AuditEvent> {
  for (const f of files) {
    const lines = createInterface({ input: createReadStream(path.join(dir, f.name), 'utf8'), crlfDelay: Infinity });
    let n = 0;
    let expected = f.first;
    for await (const line of lines) {
      n++;
      let e: AuditEvent | undefined;
      try {
        e = parseSegment(line + '\n', `${f.name} line ${n}`)[0];
      } catch (err) {
        problems.push({ kind: 'export-mismatch', seq: expected, detail: `exported ${(err as Error).message}` });
      }
      expected++;
      if (e !== undefined) yield e;
    }
    if (n !== f.last - f.first + 1) {
      problems.push({ kind: 'export-mismatch', seq: f.first, detail: `exported segment ${f.name} holds ${n} lines, not the ${f.last - f.first + 1} events its name says (lines removed or added)` });
    }
  }
}
