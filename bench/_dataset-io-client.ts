/**
 * The HTTPS client of the dataset-io API part, run as a child process (forked by
 * bench/dataset-io.ts) so the server keeps the parent's event loop and the parent's RSS is the
 * server's alone.
 *
 * One keep-alive connection (`maxSockets: 1`) to the bench server; each IPC message is one
 * transfer, timed here from request start to the last byte:
 * - `up`:   PUT `url` with `file` streamed as the body (2 MiB reads, `content-length` set);
 * - `down`: GET `url`, the body written to `out` (4 MiB write buffer) — the parent checks its
 *           SHA-256 afterwards, untimed.
 * Replies `{ id, seconds, status, body? }` (body: the response text of an upload or of a failure).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';

export interface ClientJob {
  id: number;
  op: 'up' | 'down' | 'ping';
  url: string;
  headers?: Record<string, string>;
  /** `up`: the file to send. */
  file?: string;
  /** `down`: where the body goes. */
  out?: string;
}

export interface ClientReply {
  id: number;
  seconds: number;
  status: number;
  body?: string;
  error?: string;
  /** The client's own peak RSS so far, bytes. */
  maxRssBytes: number;
}

const MiB = 1024 * 1024;
const ca = process.env.BENCH_CA ?? '';
const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca, servername: 'localhost' });

async function text(res: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const c of res) s += String(c);
  return s;
}

async function transfer(job: ClientJob): Promise<Omit<ClientReply, 'id' | 'maxRssBytes'>> {
  const t0 = performance.now();
  const headers: Record<string, string> = { ...job.headers };
  if (job.op === 'up') {
    headers['content-type'] = 'application/octet-stream';
    headers['content-length'] = String((await stat(job.file!)).size);
  }
  const method = job.op === 'up' ? 'PUT' : 'GET';
  const req = https.request(job.url, { method, agent, headers, servername: 'localhost' });
  const response = new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  if (job.op === 'up') await pipeline(createReadStream(job.file!, { highWaterMark: 2 * MiB }), req);
  else req.end();
  const res = await response;
  const status = res.statusCode ?? 0;
  if (job.op === 'down' && status === 200) {
    await pipeline(res, createWriteStream(job.out!, { highWaterMark: 4 * MiB }));
    return { seconds: (performance.now() - t0) / 1000, status };
  }
  const body = await text(res);
  return { seconds: (performance.now() - t0) / 1000, status, body };
}

process.on('message', (job: ClientJob) => {
  transfer(job).then(
    (r) =>
      process.send!({ id: job.id, ...r, maxRssBytes: process.resourceUsage().maxRSS * 1024 } satisfies ClientReply),
    (err: Error) =>
      process.send!({
        id: job.id,
        seconds: 0,
        status: 0,
        error: err.message,
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
      } satisfies ClientReply),
  );
});
process.on('disconnect', () => {
  agent.destroy();
  process.exit(0);
});
