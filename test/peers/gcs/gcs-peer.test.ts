/**
 * The GCS peer, exercised through the official @google-cloud/storage SDK (plus a few raw HTTP
 * requests where the SDK hides the wire: error bodies, status queries, unknown parameters).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import type { Storage } from '@google-cloud/storage';
import { crc32c, crc32cBase64 } from './crc32c.ts';
import { type GcsPeer, startGcsPeer } from './gcs-peer.ts';
import { storageForPeer } from './sdk.ts';

const KiB = 1024;
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('base64');
/** HTTP status of an SDK error: teeny-request errors carry `code`, gaxios ones `response.status`. */
const status = (err: unknown): unknown => {
  const e = err as { code?: unknown; response?: { status?: unknown } };
  return typeof e.code === 'number' || typeof e.code === 'string' ? e.code : e.response?.status;
};

let peer: GcsPeer;
let gcs: Storage;
const BUCKET = 'data';

before(async () => {
  peer = await startGcsPeer({
    buckets: [BUCKET, 'other'],
    tokens: [
      { token: 'reader-token', principal: 'reader@test.invalid', buckets: { [BUCKET]: 'read' } },
      { token: 'writer-token', access: 'write', buckets: { other: 'none' } },
    ],
  });
  gcs = storageForPeer(peer, peer.adminToken);
});

after(async () => {
  await peer?.stop();
});

/** Raw request to the peer (127.0.0.1 only). */
async function raw(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Response> {
  return fetch(`${peer.url}${path}`, {
    method,
    headers: init.headers ?? {},
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
}

const auth = (): Record<string, string> => ({ authorization: `Bearer ${peer.adminToken}` });

test('crc32c: known answers of the peer’s own implementation', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
  assert.equal(crc32cBase64(Buffer.from('123456789')), Buffer.from('e3069283', 'hex').toString('base64'));
});

test('peer runs as a child process on 127.0.0.1', () => {
  assert.match(peer.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(peer.pid, process.pid);
});

describe('buckets', () => {
  test('metadata of an existing bucket; 404 with a Google error body for a missing one', async () => {
    const [meta] = await gcs.bucket(BUCKET).getMetadata();
    assert.equal(meta.name, BUCKET);
    await assert.rejects(gcs.bucket('missing-bucket').getMetadata(), (e) => status(e) === 404);
    const res = await raw('GET', '/storage/v1/b/missing-bucket', { headers: auth() });
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { code: number; errors: { domain: string; reason: string }[] } };
    assert.equal(body.error.code, 404);
    assert.deepEqual(
      body.error.errors.map((e) => [e.domain, e.reason]),
      [['global', 'notFound']],
    );
  });

  test('create (admin only), conflict on a second create, list', async () => {
    await gcs.createBucket('made-by-sdk');
    await assert.rejects(gcs.createBucket('made-by-sdk'), (e) => status(e) === 409);
    await assert.rejects(storageForPeer(peer, 'writer-token').createBucket('not-allowed'), (e) => status(e) === 403);
    const [buckets] = await gcs.getBuckets();
    assert.ok(buckets.some((b) => b.name === 'made-by-sdk'));
  });
});

describe('auth', () => {
  test('no Authorization header → 401 required', async () => {
    const res = await raw('GET', `/storage/v1/b/${BUCKET}/o`);
    assert.equal(res.status, 401);
    const body = (await res.json()) as { error: { errors: { reason: string }[] } };
    assert.equal(body.error.errors[0]!.reason, 'required');
  });

  test('unknown token → 401 through the SDK, on reads and writes', async () => {
    const bad = storageForPeer(peer, 'not-a-token');
    await assert.rejects(bad.bucket(BUCKET).getMetadata(), (e) => status(e) === 401);
    await assert.rejects(bad.bucket(BUCKET).file('x').save('x', { resumable: false }), (e) => status(e) === 401);
  });

  test('read-only token: reads work, writes and deletes → 403; a bucket it has no grant on → 403 even if missing', async () => {
    await gcs.bucket(BUCKET).file('ro/readable').save('hello', { resumable: false });
    const ro = storageForPeer(peer, 'reader-token').bucket(BUCKET);
    assert.equal((await ro.file('ro/readable').download())[0].toString(), 'hello');
    await assert.rejects(ro.file('ro/new').save('x', { resumable: false }), (e) => status(e) === 403);
    await assert.rejects(ro.file('ro/new').save(Buffer.alloc(10), { resumable: true }), (e) => status(e) === 403);
    await assert.rejects(ro.file('ro/readable').delete(), (e) => status(e) === 403);
    await assert.rejects(
      storageForPeer(peer, 'reader-token').bucket('no-such').getMetadata(),
      (e) => status(e) === 403,
    );
    await assert.rejects(storageForPeer(peer, 'writer-token').bucket('other').getMetadata(), (e) => status(e) === 403);
  });
});

describe('uploads', () => {
  test('simple (multipart) upload: fields, hashes, generation', async () => {
    const body = randomBytes(1000);
    const file = gcs.bucket(BUCKET).file('up/simple.bin');
    await file.save(body, { resumable: false, contentType: 'application/x-test', metadata: { metadata: { k: 'v' } } });
    const [meta] = await file.getMetadata();
    assert.equal(meta.size, '1000');
    assert.equal(meta.md5Hash, md5(body));
    assert.equal(meta.crc32c, crc32cBase64(body));
    assert.equal(meta.contentType, 'application/x-test');
    assert.deepEqual(meta.metadata, { k: 'v' });
    assert.equal(meta.metageneration, '1');
    assert.match(String(meta.generation), /^\d+$/);
    assert.ok(meta.etag && meta.updated && meta.timeCreated);
    await file.save(body, { resumable: false });
    const [again] = await file.getMetadata();
    assert.ok(BigInt(again.generation!) > BigInt(meta.generation!), 'a rewrite gets a higher generation');
  });

  test('object names with slashes, spaces, ? and unicode round-trip (%2F in paths)', async () => {
    const name = 'dir/sub dir/ä?#%2F.txt';
    await gcs.bucket(BUCKET).file(name).save('n', { resumable: false });
    const [files] = await gcs.bucket(BUCKET).getFiles({ prefix: 'dir/' });
    assert.deepEqual(
      files.map((f) => f.name),
      [name],
    );
    assert.equal((await gcs.bucket(BUCKET).file(name).download())[0].toString(), 'n');
  });

  test('a client-sent md5 or crc32c that does not match → 400, nothing stored', async () => {
    const file = gcs.bucket(BUCKET).file('up/badhash');
    await assert.rejects(
      file.save('abc', { resumable: false, metadata: { md5Hash: md5(Buffer.from('abd')) } }),
      (e) => status(e) === 400,
    );
    const res = await raw('POST', `/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=up%2Fbadhash`, {
      headers: { ...auth(), 'x-goog-hash': `crc32c=${crc32cBase64(Buffer.from('abd'))}` },
      body: 'abc',
    });
    assert.equal(res.status, 400);
    assert.equal((await file.exists())[0], false);
    const ok = await raw('POST', `/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=up%2Fgoodhash`, {
      headers: {
        ...auth(),
        'x-goog-hash': `crc32c=${crc32cBase64(Buffer.from('abc'))},md5=${md5(Buffer.from('abc'))}`,
      },
      body: 'abc',
    });
    assert.equal(ok.status, 200);
  });

  test('resumable upload in several 256 KiB chunks', async () => {
    const body = randomBytes(1100 * KiB);
    const file = gcs.bucket(BUCKET).file('up/resumable.bin');
    let uri: string | undefined;
    const ws = file.createWriteStream({ resumable: true, chunkSize: 256 * KiB });
    ws.on('uri', (u: string) => (uri = u));
    await pipeline(Readable.from([body.subarray(0, 300 * KiB), body.subarray(300 * KiB)]), ws);
    assert.match(uri!, /upload_id=/);
    const [meta] = await file.getMetadata();
    assert.equal(meta.md5Hash, md5(body));
    assert.ok((await file.download())[0].equals(body));
  });

  test('the SDK resumes by itself after the peer drops a chunk midway', async () => {
    const body = randomBytes(700 * KiB);
    await peer.injectFault({ kind: 'cut-chunk', afterBytes: 100 * KiB });
    // A fresh Storage: SDK 7.22's save() without ifGenerationMatch leaves retryOptions.autoRetry
    // false on the shared Storage object, which would silently disable the retry under test.
    const file = storageForPeer(peer, peer.adminToken).bucket(BUCKET).file('up/dropped.bin');
    await file.save(body, { resumable: true, chunkSize: 256 * KiB, preconditionOpts: { ifGenerationMatch: 0 } });
    assert.ok((await file.download())[0].equals(body));
  });

  test('an interrupted resumable upload: status query reports what persisted; a new stream resumes with the URI', async () => {
    const body = randomBytes(600 * KiB);
    const file = gcs.bucket(BUCKET).file('up/interrupted.bin');
    const [uri] = await file.createResumableUpload();
    await peer.injectFault({ kind: 'cut-chunk', afterBytes: 300 * KiB });
    const noRetry = storageForPeer(peer, peer.adminToken, { retryOptions: { autoRetry: false } });
    await assert.rejects(
      pipeline(Readable.from([body]), noRetry.bucket(BUCKET).file('up/interrupted.bin').createWriteStream({ uri })),
    );
    assert.equal((await file.exists())[0], false, 'an interrupted upload leaves no object');

    const q = await raw('PUT', new URL(uri).pathname + new URL(uri).search, {
      headers: { 'content-range': 'bytes */*' },
    });
    assert.equal(q.status, 308);
    assert.equal(
      q.headers.get('range'),
      `bytes=0-${256 * KiB - 1}`,
      'only whole 256 KiB units of the cut chunk persist',
    );

    await pipeline(Readable.from([body]), file.createWriteStream({ uri }));
    const [meta] = await file.getMetadata();
    assert.equal(meta.crc32c, crc32cBase64(body));
    assert.ok((await file.download())[0].equals(body));
  });

  test('an interrupted simple upload leaves no object', async () => {
    const boundary = 'b0undary';
    const head = `--${boundary}\r\nContent-Type: application/json\r\n\r\n{}\r\n--${boundary}\r\nContent-Type: application/octet-stream\r\n\r\n`;
    await new Promise<void>((resolve) => {
      const req = http.request(`${peer.url}/upload/storage/v1/b/${BUCKET}/o?uploadType=multipart&name=up%2Fcut`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': `multipart/related; boundary=${boundary}` },
      });
      req.on('error', () => resolve());
      req.write(head + 'x'.repeat(5000));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
    assert.equal((await gcs.bucket(BUCKET).file('up/cut').exists())[0], false);
  });
});

describe('downloads', () => {
  const body = Buffer.from('0123456789abcdefghij');
  before(async () => {
    await gcs.bucket(BUCKET).file('dl/obj').save(body, { resumable: false });
  });

  test('byte ranges through download() and createReadStream()', async () => {
    const file = gcs.bucket(BUCKET).file('dl/obj');
    assert.equal((await file.download({ start: 2, end: 5 }))[0].toString(), '2345');
    const chunks: Buffer[] = [];
    for await (const c of file.createReadStream({ start: 15 })) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'fghij');
    assert.equal((await file.download({ start: 18, end: 100 }))[0].toString(), 'ij');
  });

  test('a range past the end → 416; raw Range headers give 206 with Content-Range', async () => {
    await assert.rejects(gcs.bucket(BUCKET).file('dl/obj').download({ start: 20 }), (e) => status(e) === 416);
    const res = await raw('GET', `/storage/v1/b/${BUCKET}/o/dl%2Fobj?alt=media`, {
      headers: { ...auth(), range: 'bytes=-3' },
    });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('content-range'), 'bytes 17-19/20');
    assert.equal(await res.text(), 'hij');
    const dl = await raw('GET', `/download/storage/v1/b/${BUCKET}/o/dl%2Fobj?alt=media`, { headers: auth() });
    assert.equal(await dl.text(), body.toString());
  });

  test('SDK hash validation: passes on good bytes, fails on bytes corrupted in transit', async () => {
    const file = gcs.bucket(BUCKET).file('dl/obj');
    assert.ok((await file.download({ validation: true }))[0].equals(body));
    await peer.injectFault({ kind: 'corrupt-media' });
    await assert.rejects(file.download({ validation: true }), (e) => status(e) === 'CONTENT_DOWNLOAD_MISMATCH');
  });

  test('missing object → 404', async () => {
    await assert.rejects(gcs.bucket(BUCKET).file('dl/none').download(), (e) => status(e) === 404);
    await assert.rejects(gcs.bucket(BUCKET).file('dl/none').getMetadata(), (e) => status(e) === 404);
  });
});

describe('preconditions', () => {
  test('ifGenerationMatch: 0 creates once; the second create → 412', async () => {
    const file = gcs.bucket(BUCKET).file('pre/once');
    await file.save('first', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    await assert.rejects(
      file.save('second', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }),
      (e) => status(e) === 412,
    );
    await assert.rejects(
      file.save(Buffer.alloc(10), { resumable: true, preconditionOpts: { ifGenerationMatch: 0 } }),
      (e) => status(e) === 412,
    );
    assert.equal((await file.download())[0].toString(), 'first');
  });

  test('generation and metageneration conditions on write, read and delete', async () => {
    const file = gcs.bucket(BUCKET).file('pre/gen');
    await file.save('v1', { resumable: false });
    const gen = Number((await file.getMetadata())[0].generation);
    await assert.rejects(
      file.save('v2', { resumable: false, preconditionOpts: { ifGenerationMatch: gen + 1 } }),
      (e) => status(e) === 412,
    );
    await assert.rejects(
      file.save('v2', { resumable: false, preconditionOpts: { ifGenerationNotMatch: gen } }),
      (e) => status(e) === 412,
    );
    await assert.rejects(file.getMetadata({ ifGenerationMatch: gen + 1 }), (e) => status(e) === 412);
    await file.setMetadata({ metadata: { a: '1' } }, { ifMetagenerationMatch: 1 });
    await assert.rejects(
      file.setMetadata({ metadata: { a: '2' } }, { ifMetagenerationMatch: 1 }),
      (e) => status(e) === 412,
    );
    await assert.rejects(file.delete({ ifGenerationMatch: gen + 1 }), (e) => status(e) === 412);
    await file.delete({ ifGenerationMatch: gen });
    assert.equal((await file.exists())[0], false);
  });
});

describe('list, delete, compose', () => {
  test('prefix, delimiter and pagination', async () => {
    const names = ['ls/a', 'ls/b', 'ls/c/1', 'ls/c/2', 'ls/d', 'ls/e/1', 'ls/f', 'lsx'];
    for (const n of names) await gcs.bucket(BUCKET).file(n).save('x', { resumable: false });
    const seenItems: string[] = [];
    const seenPrefixes: string[] = [];
    let query: { pageToken?: string } | null = {};
    let pages = 0;
    while (query) {
      const [files, next, resp] = (await gcs
        .bucket(BUCKET)
        .getFiles({ prefix: 'ls/', delimiter: '/', maxResults: 2, autoPaginate: false, ...query })) as unknown as [
        { name: string }[],
        { pageToken?: string } | null,
        { prefixes?: string[] },
      ];
      seenItems.push(...files.map((f) => f.name));
      seenPrefixes.push(...(resp.prefixes ?? []));
      assert.ok(files.length + (resp.prefixes?.length ?? 0) <= 2);
      query = next?.pageToken ? { pageToken: next.pageToken } : null;
      pages++;
    }
    assert.deepEqual(seenItems, ['ls/a', 'ls/b', 'ls/d', 'ls/f']);
    assert.deepEqual(seenPrefixes, ['ls/c/', 'ls/e/']);
    assert.equal(pages, 3);
    const [all] = await gcs.bucket(BUCKET).getFiles({ prefix: 'ls/' });
    assert.deepEqual(
      all.map((f) => f.name),
      names.slice(0, 7),
    );
  });

  test('delete; deleting a missing object → 404', async () => {
    const file = gcs.bucket(BUCKET).file('del/x');
    await file.save('x', { resumable: false });
    await file.delete();
    assert.equal((await file.exists())[0], false);
    await assert.rejects(file.delete(), (e) => status(e) === 404);
  });

  test('compose: parts in order, composite has crc32c and no md5; > 32 sources → 400', async () => {
    const parts = [randomBytes(300), randomBytes(5), randomBytes(1000)];
    const b = gcs.bucket(BUCKET);
    for (const [i, p] of parts.entries()) await b.file(`cmp/part-${i}`).save(p, { resumable: false });
    await b.combine(
      parts.map((_, i) => b.file(`cmp/part-${i}`)),
      b.file('cmp/whole'),
    );
    const whole = Buffer.concat(parts);
    const [meta] = await b.file('cmp/whole').getMetadata();
    assert.equal(meta.crc32c, crc32cBase64(whole));
    assert.equal(meta.md5Hash, undefined);
    assert.equal(meta.componentCount, 3);
    assert.ok((await b.file('cmp/whole').download())[0].equals(whole));
    const many = Array.from({ length: 33 }, () => b.file('cmp/part-1'));
    await assert.rejects(b.combine(many, b.file('cmp/too-many')), (e) => status(e) === 400);
    await assert.rejects(b.combine([b.file('cmp/none')], b.file('cmp/x')), (e) => status(e) === 404);
  });
});

describe('strictness', () => {
  test('unknown routes → 404, unknown parameters → 400, bad methods → 405', async () => {
    assert.equal((await raw('GET', '/storage/v2/b', { headers: auth() })).status, 404);
    assert.equal((await raw('GET', `/storage/v1/b/${BUCKET}/o/a/rewriteTo/x`, { headers: auth() })).status, 404);
    assert.equal((await raw('GET', `/storage/v1/b/${BUCKET}/o?matchGlob=**`, { headers: auth() })).status, 400);
    assert.equal((await raw('GET', `/storage/v1/b/${BUCKET}/o?versions=true`, { headers: auth() })).status, 400);
    assert.equal((await raw('GET', `/storage/v1/b/${BUCKET}/o?prefix=a&prefix=b`, { headers: auth() })).status, 400);
    assert.equal((await raw('PUT', `/storage/v1/b/${BUCKET}/o`, { headers: auth() })).status, 405);
    const badType = await raw('POST', `/upload/storage/v1/b/${BUCKET}/o?uploadType=chunked&name=x`, {
      headers: auth(),
      body: 'x',
    });
    assert.equal(badType.status, 400);
  });

  test('unknown upload session → 404; a chunk that skips bytes → 400', async () => {
    const none = await raw('PUT', `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&upload_id=nope`, {
      headers: { 'content-range': 'bytes */*' },
    });
    assert.equal(none.status, 404);
    const [uri] = await gcs.bucket(BUCKET).file('strict/gap').createResumableUpload();
    const u = new URL(uri);
    const gap = await raw('PUT', u.pathname + u.search, {
      headers: { 'content-range': 'bytes 10-19/20' },
      body: Buffer.alloc(10),
    });
    assert.equal(gap.status, 400);
  });
});
