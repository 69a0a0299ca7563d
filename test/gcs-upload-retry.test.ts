/**
 * GCS uploads survive one transient failure (reliability drive-faults: "gcs · one SlowDown/503 on
 * upload", "gcs · one 500 on upload"). The GCS driver talks to the project's GCS peer through the
 * fault proxy of the reliability suite; every body is a stream that can be read only once, as a
 * caller's upload is. Each case checks that the fault was applied, that the upload succeeded, and
 * that the object reads back with the same SHA-256; a failure that persists leaves no object.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { isBlobError } from '../src/adapters/blob/driver.ts';
import { GcsDriver } from '../src/adapters/blob/gcs.ts';
import { startFaultProxy, type Fault, type FaultProxy } from '../reliability/lib/fault-proxy.ts';
import { type GcsPeer, startGcsPeer } from './peers/gcs/gcs-peer.ts';
import { bearerAuthClient } from './peers/gcs/sdk.ts';

const BUCKET = 'retry';
const CHUNK = 256 * 1024;
let peer: GcsPeer;
let proxy: FaultProxy;
let driver: GcsDriver;

before(async () => {
  peer = await startGcsPeer({ buckets: [BUCKET] });
  proxy = await startFaultProxy(peer.url, { json: true });
  driver = new GcsDriver({
    bucket: BUCKET,
    prefix: 'r/',
    apiEndpoint: proxy.url,
    authClient: bearerAuthClient(peer.adminToken),
    minPartSize: 1024,
    uploadChunkSize: CHUNK,
  });
});
after(async () => {
  await proxy?.stop();
  await peer?.stop();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A stream of `data` in uneven pieces, readable once. */
function once(data: Buffer): Readable {
  const pieces: Buffer[] = [];
  for (let at = 0, step = 1000; at < data.length; at += step, step = (step * 7) % 70_000 || 1000)
    pieces.push(data.subarray(at, at + step));
  return Readable.from(pieces);
}

async function stored(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of (await driver.get(key)).body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Uploads `size` random bytes as a stream under `fault`; returns what the proxy saw. */
async function putUnder(fault: Fault, key: string, size: number) {
  const data = randomBytes(size);
  proxy.set(fault);
  const info = await driver.put(key, once(data));
  const seen = proxy.seen();
  assert.equal(seen.faulted, 1, `the fault was applied once (requests: ${seen.methods.join(',')})`);
  assert.equal(info.size, size);
  assert.equal(sha(await stored(key)), sha(data), 'the object reads back with the same bytes');
  return seen;
}

test('one 503 on a streamed upload within one chunk is retried (one media request resent)', async () => {
  const seen = await putUnder({ kind: 'slowdown', methods: ['POST'], times: 1 }, 'small', 100_000);
  assert.deepEqual(seen.methods, ['POST', 'POST']);
});

test('one 500 on a chunk of a resumable upload is retried from the chunk held', async () => {
  const seen = await putUnder({ kind: 'status-500', methods: ['PUT'], times: 1 }, 'big-500', 5 * CHUNK + 1234);
  // session start, chunk 1 (500), status query, chunk 1 again, chunks 2–6
  assert.deepEqual(seen.methods.slice(0, 4), ['POST', 'PUT', 'PUT', 'PUT']);
});

test('one 503 when the resumable session is opened is retried', async () => {
  await putUnder({ kind: 'status-503', methods: ['POST'], times: 1 }, 'big-503', 3 * CHUNK + 7);
});

test('a connection reset in the middle of a chunk is retried', async () => {
  await putUnder({ kind: 'reset-request', methods: ['PUT'], times: 1 }, 'big-reset', 4 * CHUNK);
});

test('a chunk the service kept only in part resumes from the offset the session reports', async () => {
  const data = randomBytes(2 * 2 * CHUNK + 99);
  const d = new GcsDriver({
    bucket: BUCKET,
    apiEndpoint: peer.url,
    authClient: bearerAuthClient(peer.adminToken),
    uploadChunkSize: 2 * CHUNK,
  });
  // The peer drops the first chunk's connection after 300 KiB and keeps the whole 256 KiB unit.
  await peer.injectFault({ kind: 'cut-chunk', afterBytes: 300 * 1024 });
  await d.put('cut', once(data));
  const chunks: Buffer[] = [];
  for await (const c of (await d.get('cut')).body) chunks.push(c as Buffer);
  assert.equal(sha(Buffer.concat(chunks)), sha(data));
});

test('a multipart part is retried after one 503', async () => {
  const parts = [randomBytes(CHUNK + 10), randomBytes(3000)];
  const mp = await driver.createMultipart('parts');
  proxy.set({ kind: 'slowdown', methods: ['POST'], times: 1 });
  await mp.putPart(1, once(parts[0]!), parts[0]!.length);
  assert.equal(proxy.seen().faulted, 1);
  await mp.putPart(2, once(parts[1]!), parts[1]!.length);
  await mp.complete();
  assert.equal(sha(await stored('parts')), sha(Buffer.concat(parts)));
});

test('503 on every attempt fails as the drive error, leaves no object, and cancels the session', async () => {
  proxy.set({ kind: 'status-503', methods: ['PUT'] });
  await assert.rejects(
    driver.put('never', once(randomBytes(3 * CHUNK))),
    (e) => isBlobError(e, 'FAILED') && /HTTP 503/.test((e as Error).message),
  );
  const seen = proxy.seen();
  proxy.set(undefined);
  assert.equal(seen.methods.at(-1), 'DELETE', `the session is cancelled (requests: ${seen.methods.join(',')})`);
  assert.equal(await driver.head('never'), null);
  assert.equal(
    (await driver.list('')).items.some((i) => i.key === 'never'),
    false,
  );
});
