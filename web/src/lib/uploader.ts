/**
 * Dataset uploads from the browser with real progress (bytes sent, rate, ETA) and cancel.
 *
 * When the server offers resumable upload sessions (`POST …/datasets/:name/uploads`), the file
 * goes in parts; the session id is remembered in localStorage under the file's name, size and
 * modification time, so picking the same file again (after a reload or a dropped connection)
 * sends only the parts the server does not have. Otherwise the file is one streamed
 * `PUT …/versions`. Either way the server encrypts, hashes and commits; a cancelled or failed
 * upload leaves no version.
 */
import type { DatasetVersion, UploadSession } from '../../../src/contracts/index.ts';
import { paths, problemError } from '../../../src/client/api.ts';
import { ApiError, api, csrfHeader, reportUnauthenticated } from './api.ts';

export interface UploadProgress {
  sent: number;
  total: number;
  /** Bytes per second since the start (of this attempt). */
  rate: number;
  /** Seconds left at that rate. */
  eta: number;
  /** All bytes are sent; the server is encrypting, verifying and committing. */
  finishing: boolean;
  resumed: boolean;
  /** Parts of a resumable upload session (undefined: one request). */
  parts?: number;
}

export interface UploadOptions {
  workspace: string;
  dataset: string;
  file: File;
  drive?: string;
  tags?: string[];
  description?: string;
  /** The file's SHA-256 when the browser computed it: the server refuses bytes that do not match. */
  sha256?: string;
  onProgress(p: UploadProgress): void;
}

export interface RunningUpload {
  done: Promise<DatasetVersion>;
  cancel(): void;
}

export class UploadCancelled extends Error {
  constructor() {
    super('The upload was cancelled; no version was created.');
  }
}

const resumeKey = (o: UploadOptions) =>
  `strongroom.upload.${o.workspace}.${o.dataset}.${o.file.name}.${o.file.size}.${o.file.lastModified}`;

/** One XHR request with upload progress; resolves with the parsed JSON answer. */
function xhrSend(
  method: string,
  url: string,
  body: Blob,
  onSent: (loaded: number) => void,
  signal: AbortSignal,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('accept', 'application/json');
    for (const [k, v] of Object.entries(csrfHeader())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onSent(e.loaded);
    xhr.onload = () => {
      let parsed: unknown;
      try {
        parsed = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
      } catch {
        parsed = undefined;
      }
      if (xhr.status >= 400) {
        const err = problemError(xhr.status, parsed);
        reportUnauthenticated(url, err);
        reject(err);
      } else resolve(parsed);
    };
    xhr.onerror = () =>
      reject(new ApiError(0, 'NETWORK', 'The connection was lost', 'Pick the same file again to resume the upload.'));
    xhr.onabort = () => reject(new UploadCancelled());
    signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

function meter(
  total: number,
  already: number,
  onProgress: (p: UploadProgress) => void,
  resumed: boolean,
  parts?: number,
) {
  const t0 = performance.now();
  return (sent: number, finishing = false) => {
    const secs = Math.max((performance.now() - t0) / 1000, 0.001);
    const rate = Math.max(sent - already, 0) / secs;
    onProgress({
      sent,
      total,
      rate,
      eta: rate > 0 ? (total - sent) / rate : Infinity,
      finishing,
      resumed,
      ...(parts ? { parts } : {}),
    });
  };
}

/** Parts in flight at once (the server accepts a bounded number per process and answers 429 beyond). */
const PARALLEL = 3;
const RETRIES = 4;
const retriable = (err: unknown) =>
  err instanceof ApiError && (err.status === 0 || err.status === 429 || err.status === 503);
const pause = (ms: number) => new Promise((r) => window.setTimeout(r, ms));

async function resumable(
  o: UploadOptions,
  signal: AbortSignal,
  session: UploadSession,
  resumed: boolean,
): Promise<DatasetVersion> {
  const have = new Set(session.received);
  const partBytes = (n: number) => Math.min(session.partSize, session.size - (n - 1) * session.partSize);
  let stored = [...have].reduce((a, n) => a + partBytes(n), 0);
  const inFlight = new Map<number, number>();
  const report = meter(session.size, stored, o.onProgress, resumed, session.partCount);
  const update = () => report(stored + [...inFlight.values()].reduce((a, b) => a + b, 0));
  update();
  const todo = Array.from({ length: session.partCount }, (_, i) => i + 1).filter((n) => !have.has(n));
  const sendPart = async (n: number) => {
    const start = (n - 1) * session.partSize;
    const blob = o.file.slice(start, start + partBytes(n));
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) throw new UploadCancelled();
      try {
        await xhrSend(
          'PUT',
          paths.uploadPart(o.workspace, o.dataset, session.id, n),
          blob,
          (loaded) => (inFlight.set(n, loaded), update()),
          signal,
        );
        break;
      } catch (err) {
        inFlight.delete(n);
        if (!retriable(err) || attempt >= RETRIES) throw err;
        await pause(500 * 2 ** attempt); // the same bytes may be sent again: the server keeps one copy
      }
    }
    inFlight.delete(n);
    stored += blob.size;
    update();
  };
  const workers = Array.from({ length: Math.min(PARALLEL, todo.length) }, async () => {
    for (let n = todo.shift(); n !== undefined; n = todo.shift()) await sendPart(n);
  });
  await Promise.all(workers);
  report(session.size, true);
  const out = await api.uploads.complete(o.workspace, o.dataset, session.id);
  return out.version;
}

async function single(o: UploadOptions, signal: AbortSignal): Promise<DatasetVersion> {
  const q = new URLSearchParams({ size: String(o.file.size), filename: o.file.name });
  if (o.file.type) q.set('mediaType', o.file.type);
  if (o.drive) q.set('drive', o.drive);
  if (o.description) q.set('description', o.description);
  if (o.sha256) q.set('sha256', o.sha256);
  for (const t of o.tags ?? []) q.append('tag', t);
  const report = meter(o.file.size, 0, o.onProgress, false);
  report(0);
  const out = (await xhrSend(
    'PUT',
    `${paths.datasetVersions(o.workspace, o.dataset)}?${q}`,
    o.file,
    (loaded) => report(loaded, loaded >= o.file.size),
    signal,
  )) as { version: DatasetVersion };
  return out.version;
}

const noSuchRoute = (err: unknown) => err instanceof ApiError && err.status === 404 && err.detail === 'No such route.';
/** Smaller files go in one request: a session costs three extra round trips. */
const RESUMABLE_FROM = 8 * 1024 * 1024;

/** Files up to this size are hashed in the browser (WebCrypto digests a whole buffer, not a stream). */
export const HASH_IN_BROWSER_UP_TO = 64 * 1024 * 1024;

/** The file's SHA-256 (hex), or undefined when it is too large to hash cheaply here. */
export async function sha256Of(file: File): Promise<string | undefined> {
  if (file.size > HASH_IN_BROWSER_UP_TO || !crypto.subtle) return undefined;
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function startUpload(o: UploadOptions): RunningUpload {
  const ctl = new AbortController();
  let sessionId: string | undefined;
  const run = async (): Promise<DatasetVersion> => {
    if (o.file.size < RESUMABLE_FROM) return single(o, ctl.signal);
    const key = resumeKey(o);
    const remembered = window.localStorage.getItem(key);
    let session: UploadSession | undefined;
    let resumed = false;
    if (remembered) {
      session = await api.uploads.status(o.workspace, o.dataset, remembered).catch(() => undefined);
      resumed = session !== undefined;
    }
    if (!session) {
      try {
        session = await api.uploads.create(o.workspace, o.dataset, {
          size: o.file.size,
          filename: o.file.name,
          ...(o.file.type ? { mediaType: o.file.type } : {}),
          ...(o.drive ? { drive: o.drive } : {}),
          ...(o.description ? { description: o.description } : {}),
          ...(o.tags?.length ? { tags: o.tags } : {}),
          ...(o.sha256 ? { sha256: o.sha256 } : {}),
        });
      } catch (err) {
        if (noSuchRoute(err)) return single(o, ctl.signal); // a server without upload sessions
        throw err;
      }
      window.localStorage.setItem(key, session.id);
    }
    sessionId = session.id;
    const version = await resumable(o, ctl.signal, session, resumed);
    window.localStorage.removeItem(key);
    return version;
  };
  const done = run().catch(async (err: unknown) => {
    if (err instanceof UploadCancelled && sessionId) {
      window.localStorage.removeItem(resumeKey(o));
      await api.uploads.cancel(o.workspace, o.dataset, sessionId).catch(() => undefined);
    }
    throw err;
  });
  return { done, cancel: () => ctl.abort() };
}
