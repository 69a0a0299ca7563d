/**
 * Resumable uploads for the CLI (large files): the file goes up as numbered parts through an
 * upload session (`POST …/uploads`, `PUT …/parts/:n`, `POST …/complete`), several parts at a time,
 * each retried on network errors and 5xx answers with backoff.
 *
 * If the command is interrupted (Ctrl-C, a dropped network, a server restart), running the same
 * command again resumes: the session id is kept in a small state file under the CLI's config
 * directory, keyed by server, workspace, dataset and the file's path, size and mtime, and only the
 * parts the server does not have are sent. A file that changed since (other size or mtime, or a
 * part whose bytes differ — the server refuses those) starts a new session instead of mixing.
 *
 * Memory: at most `parallel` parts (8 MiB each by default) are in memory at once.
 */
import { createHash } from 'node:crypto';
import { open, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { paths, type Api } from '../client/api.ts';
import type { UploadSession } from '../contracts/index.ts';
import { ApiError } from '../client/http-client.ts';
import { credentialsPath, sessionApi, streamCall, type Credentials } from './credentials.ts';
import { hashFile, mediaTypeOf, type UploadOptions, type VersionOut } from './dataset-transfer.ts';
import { startProgress } from './progress.ts';

/** Files at least this large go through a resumable session (or any file with --resumable). */
export const RESUMABLE_THRESHOLD = 64 * 1024 * 1024;

interface SavedState {
  id: string;
  sha256: string;
  size: number;
  mtimeMs: number;
}

export interface ResumableOptions extends UploadOptions {
  parallel?: number;
  /** Plaintext bytes per part (a multiple of 64 KiB); default: the server's. */
  partSize?: number;
  /** Attempts per part before giving up (default 5). */
  attempts?: number;
}

const stateDir = () => path.join(path.dirname(credentialsPath()), 'uploads');
const stateFile = (c: Credentials, workspaceId: string, name: string, file: string) =>
  path.join(
    stateDir(),
    `${createHash('sha256')
      .update(JSON.stringify([c.baseUrl, workspaceId, name, path.resolve(file)]))
      .digest('hex')
      .slice(0, 32)}.json`,
  );

const retriable = (err: unknown) => !(err instanceof ApiError) || err.status >= 500 || err.status === 429;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readBody(res: { body: NodeJS.ReadableStream }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** One dataset's upload sessions, through the typed API. */
interface Uploads {
  api: Api;
  ws: string;
  name: string;
}

/** The open session this same upload left behind, if it still matches the file and the server has it. */
async function resumable(
  u: Uploads,
  saved: string,
  st: { size: number; mtimeMs: number },
): Promise<{ session: UploadSession; sha256: string } | undefined> {
  let state: SavedState;
  try {
    state = JSON.parse(await readFile(saved, 'utf8')) as SavedState;
  } catch {
    return undefined;
  }
  if (!/^up_[0-9a-f]{32}$/.test(state.id)) return undefined;
  if (state.size !== st.size || state.mtimeMs !== st.mtimeMs) {
    // The file changed: its old session would block the dataset until it expires.
    await cancel(u, state.id, saved);
    return undefined;
  }
  try {
    return { session: await u.api.uploads.status(u.ws, u.name, state.id), sha256: state.sha256 };
  } catch {
    return undefined;
  }
}

/** Cancels a session (best effort) and forgets it. */
async function cancel(u: Uploads, id: string, saved: string): Promise<void> {
  await u.api.uploads.cancel(u.ws, u.name, id).catch(() => undefined);
  await rm(saved, { force: true });
}

/** Uploads `file` as the next version of `name` through a resumable session; returns the version. */
export async function uploadResumable(
  c: Credentials,
  name: string,
  file: string,
  o: ResumableOptions,
): Promise<VersionOut> {
  const u: Uploads = { api: sessionApi(c), ws: o.workspace, name };
  const st = await stat(file);
  const saved = stateFile(c, o.workspace, name, file);
  let found = await resumable(u, saved, st);
  let sha256: string;
  let session: UploadSession;
  if (found) {
    ({ session, sha256 } = found);
    if (!o.quiet)
      process.stderr.write(
        `resuming upload ${session.id}: ${session.received.length} of ${session.partCount} parts already stored\n`,
      );
  } else {
    ({ sha256 } = await hashFile(file));
    session = await u.api.uploads.create(o.workspace, name, {
      size: st.size,
      sha256,
      filename: path.basename(file),
      mediaType: mediaTypeOf(file),
      ...(o.partSize ? { partSize: o.partSize } : {}),
      ...(o.drive ? { drive: o.drive } : {}),
      ...(o.description !== undefined ? { description: o.description } : {}),
      ...(o.tag?.length ? { tags: o.tag } : {}),
    });
    await mkdir(stateDir(), { recursive: true, mode: 0o700 });
    // Written whole or not at all (temp file, then rename): a kill mid-write must not leave a torn
    // state that forgets the session, which would then hold the dataset until it expires.
    const tmp = `${saved}.${process.pid}.tmp`;
    await writeFile(
      tmp,
      JSON.stringify({ id: session.id, sha256, size: st.size, mtimeMs: st.mtimeMs } satisfies SavedState),
      { mode: 0o600 },
    );
    await rename(tmp, saved);
  }
  found = undefined;

  const have = new Set(session.received);
  const partBytes = (n: number) =>
    n < session.partCount ? session.partSize : session.size - (n - 1) * session.partSize;
  const todo = Array.from({ length: session.partCount }, (_, i) => i + 1).filter((n) => !have.has(n));
  const initial = [...have].reduce((sum, n) => sum + partBytes(n), 0);
  const progress = startProgress(`upload ${name}`, session.size, { quiet: o.quiet, initial });
  const fh = await open(file, 'r');
  const attempts = o.attempts ?? 5;

  async function sendPart(n: number): Promise<void> {
    const length = partBytes(n);
    const buf = Buffer.allocUnsafe(length);
    const { bytesRead } = await fh.read(buf, 0, length, (n - 1) * session.partSize);
    if (bytesRead !== length) throw new Error(`${file} changed while it was being uploaded (it is shorter now)`);
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await streamCall(c, 'PUT', paths.uploadPart(o.workspace, name, session.id, n), {
          upload: Readable.from([buf]),
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
        });
        await readBody(res);
        progress.advance(length);
        return;
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) {
          await cancel(u, session.id, saved);
          throw new Error(
            `${file} changed while it was being uploaded (part ${n} differs from what was sent before); the upload was cancelled: run the command again to start over`,
          );
        }
        if (attempt >= attempts || !retriable(err)) throw err;
        await sleep(Math.min(16_000, 500 * 2 ** attempt));
      }
    }
  }

  try {
    const queue = [...todo];
    const workers = Array.from({ length: Math.max(1, Math.min(o.parallel ?? 3, 8)) }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) await sendPart(n);
    });
    await Promise.all(workers);
  } catch (err) {
    progress.done(false);
    await fh.close();
    if (!o.quiet)
      process.stderr.write(`upload interrupted; run the same command again to resume (upload ${session.id})\n`);
    throw err;
  }
  await fh.close();
  progress.done(true);
  if (!o.quiet) process.stderr.write('all parts stored; the server is joining and verifying them…\n');
  try {
    const done = await u.api.uploads.complete(o.workspace, name, session.id);
    await rm(saved, { force: true });
    return done.version;
  } catch (err) {
    // Bytes that do not match the file's SHA-256 can never complete: start over next time.
    if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 409)
      await cancel(u, session.id, saved);
    throw err;
  }
}
