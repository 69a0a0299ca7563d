/**
 * The blob-driver contract: one suite every driver must pass against its real peer.
 *
 * `blobContract(name, open)` registers a describe block. `open()` gives a driver on a fresh,
 * empty prefix; drivers for the error cases (bad credentials, missing bucket) come from the same
 * fixture so every driver proves the same normalisation.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { BlobDriver, BlobErrorCode } from '../src/adapters/blob/driver.ts';
import { isBlobError } from '../src/adapters/blob/driver.ts';

export interface ContractFixture {
  driver: BlobDriver;
  /** A driver for the same store whose credentials are wrong (undefined: the peer cannot check). */
  wrongCredentials?: () => BlobDriver;
  /** A driver pointing at a bucket/container that does not exist. */
  missingBucket: () => BlobDriver;
  /** A driver whose credentials may read but not write (undefined: the peer cannot check). */
  readOnly?: () => BlobDriver;
  cleanup(): Promise<void>;
}

export async function rejectsWith(p: Promise<unknown>, code: BlobErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isBlobError(err), `expected a BlobError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A stream of `size` bytes in uneven chunks, with no declared length. */
function chunked(data: Buffer, chunk = 100_003): Readable {
  let off = 0;
  return new Readable({
    read() {
      if (off >= data.length) return this.push(null);
      this.push(data.subarray(off, off + chunk));
      off += chunk;
    },
  });
}

export function blobContract(name: string, open: () => Promise<ContractFixture>): void {
  describe(`blob contract: ${name}`, () => {
    let fx: ContractFixture;
    let d: BlobDriver;
    before(async () => {
      fx = await open();
      d = fx.driver;
    });
    after(async () => {
      await d?.close();
      await fx?.cleanup();
    });

    test('put a buffer, get it back, head reports its size', async () => {
      const body = Buffer.from('hello, strongroom\n');
      const info = await d.put('a/hello.txt', body, { contentLength: body.length });
      assert.equal(info.key, 'a/hello.txt');
      assert.equal(info.size, body.length);
      const got = await d.get('a/hello.txt');
      assert.equal(got.size, body.length);
      assert.equal(got.length, body.length);
      assert.deepEqual(await buffer(got.body), body);
      const head = await d.head('a/hello.txt');
      assert.equal(head?.size, body.length);
      assert.ok(head?.etag, 'head gives a version tag');
    });

    test('put a stream of unknown length (several MiB, uneven chunks) round-trips byte for byte', async () => {
      const data = randomBytes(6 * 1024 * 1024 + 12_345);
      await d.put('big/stream.bin', chunked(data));
      const got = await d.get('big/stream.bin');
      assert.equal(got.size, data.length);
      assert.equal(sha(await buffer(got.body)), sha(data));
    });

    test('zero-byte object', async () => {
      await d.put('empty', Buffer.alloc(0), { contentLength: 0 });
      const got = await d.get('empty');
      assert.equal(got.size, 0);
      assert.equal((await buffer(got.body)).length, 0);
      assert.equal((await d.head('empty'))?.size, 0);
    });

    test('unicode and space in keys round-trip', async () => {
      const key = 'données/été 2026/naïve façade ✓.csv';
      await d.put(key, Buffer.from('x,y\n1,2\n'));
      assert.equal((await buffer((await d.get(key)).body)).toString(), 'x,y\n1,2\n');
      const page = await d.list('données/');
      assert.deepEqual(
        page.items.map((i) => i.key),
        [key],
      );
    });

    test('a put overwrites', async () => {
      await d.put('ow', Buffer.from('first'));
      await d.put('ow', Buffer.from('second!'));
      assert.equal((await buffer((await d.get('ow')).body)).toString(), 'second!');
      assert.equal((await d.head('ow'))?.size, 7);
    });

    test('byte ranges: closed, open-ended, last byte, clipped end; beyond the end is INVALID_RANGE', async () => {
      const data = randomBytes(300_000);
      await d.put('r/data', data, { contentLength: data.length });
      const cases: [number, number | undefined][] = [
        [0, 0],
        [10, 99],
        [65_536, 131_071],
        [299_999, 299_999],
        [123_456, undefined],
        [299_000, 999_999],
      ];
      for (const [start, end] of cases) {
        const got = await d.get('r/data', end === undefined ? { start } : { start, end });
        const want = data.subarray(start, end === undefined ? undefined : Math.min(end, data.length - 1) + 1);
        assert.equal(got.size, data.length, `size for ${start}-${end}`);
        assert.equal(got.length, want.length, `length for ${start}-${end}`);
        assert.deepEqual(await buffer(got.body), want, `bytes ${start}-${end}`);
      }
      await rejectsWith(d.get('r/data', { start: 300_000 }), 'INVALID_RANGE');
      await rejectsWith(d.get('r/data', { start: 5_000_000, end: 5_000_010 }), 'INVALID_RANGE');
    });

    test('missing object: get is NOT_FOUND, head is null, delete is fine', async () => {
      await rejectsWith(d.get('nope/never'), 'NOT_FOUND');
      await rejectsWith(d.get('nope/never', { start: 0, end: 10 }), 'NOT_FOUND');
      assert.equal(await d.head('nope/never'), null);
      await d.delete('nope/never');
    });

    test('delete removes the object', async () => {
      await d.put('del/x', Buffer.from('x'));
      await d.delete('del/x');
      assert.equal(await d.head('del/x'), null);
      await rejectsWith(d.get('del/x'), 'NOT_FOUND');
    });

    test('list: prefix isolation, sorted keys, pagination with a cursor', async () => {
      const keys = Array.from({ length: 7 }, (_, i) => `l/item-${String(i).padStart(2, '0')}`);
      for (const k of keys) await d.put(k, Buffer.from(k));
      await d.put('l-other/x', Buffer.from('x'));
      await d.put('lx', Buffer.from('x'));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await d.list('l/', { limit: 3, ...(cursor ? { cursor } : {}) });
        assert.ok(page.items.length <= 3, 'a page holds at most limit items');
        for (const item of page.items) {
          assert.equal(item.size, Buffer.byteLength(item.key));
          seen.push(item.key);
        }
        cursor = page.cursor;
        pages += 1;
        assert.ok(pages < 10, 'pagination ends');
      } while (cursor);
      assert.deepEqual(seen, keys);
      assert.ok(pages >= 3, `7 items at 3 a page take ≥3 pages (took ${pages})`);
      const all = await d.list('');
      assert.ok(all.items.some((i) => i.key === 'lx'));
      assert.equal((await d.list('no-such-prefix/')).items.length, 0);
    });

    test('conditional create: the second create-if-absent fails ALREADY_EXISTS (or UNSUPPORTED)', async () => {
      if (!d.capabilities.conditionalCreate) {
        await rejectsWith(d.put('cc/x', Buffer.from('1'), { ifNoneMatch: true }), 'UNSUPPORTED');
        return;
      }
      await d.put('cc/x', Buffer.from('1'), { ifNoneMatch: true });
      await rejectsWith(d.put('cc/x', Buffer.from('2'), { ifNoneMatch: true }), 'ALREADY_EXISTS');
      assert.equal((await buffer((await d.get('cc/x')).body)).toString(), '1');
    });

    test('conditional create under a race: exactly one of several writers wins', async (t) => {
      if (!d.capabilities.conditionalCreate) return t.skip('driver has no conditional create');
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) => d.put('cc/race', Buffer.from(`writer-${i}`), { ifNoneMatch: true })),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1, 'one writer wins');
      for (const r of results) if (r.status === 'rejected') assert.ok(isBlobError(r.reason, 'ALREADY_EXISTS'));
    });

    test('multipart: parts written out of order and in parallel complete in part order', async () => {
      const size = d.capabilities.minPartSize;
      const parts = [randomBytes(size), randomBytes(size), randomBytes(1234)];
      const up = await d.createMultipart('mp/object.bin');
      await Promise.all([
        up.putPart(3, parts[2]!, parts[2]!.length),
        up.putPart(1, chunked(parts[0]!), parts[0]!.length),
        up.putPart(2, parts[1]!, parts[1]!.length),
      ]);
      assert.equal(await d.head('mp/object.bin'), null, 'nothing visible before complete');
      const info = await up.complete();
      const whole = Buffer.concat(parts);
      assert.equal(info.size, whole.length);
      const got = await d.get('mp/object.bin');
      assert.equal(sha(await buffer(got.body)), sha(whole));
      const listed = await d.list('mp/');
      assert.deepEqual(
        listed.items.map((i) => i.key),
        ['mp/object.bin'],
        'no part leftovers are listed',
      );
    });

    test('multipart: a retried part replaces the earlier attempt', async () => {
      const size = d.capabilities.minPartSize;
      const up = await d.createMultipart('mp/retried');
      await up.putPart(1, randomBytes(size), size);
      const second = randomBytes(size);
      await up.putPart(1, second, size);
      await up.putPart(2, Buffer.from('tail'), 4);
      await up.complete();
      assert.equal(
        sha(await buffer((await d.get('mp/retried')).body)),
        sha(Buffer.concat([second, Buffer.from('tail')])),
      );
    });

    test('multipart: abort leaves nothing behind', async () => {
      const up = await d.createMultipart('mp/aborted');
      await up.putPart(1, randomBytes(1000), 1000);
      await up.abort();
      await up.abort();
      assert.equal(await d.head('mp/aborted'), null);
      assert.deepEqual(
        (await d.list('mp/aborted')).items.map((i) => i.key),
        [],
      );
    });

    test('an interrupted put leaves no object (atomic)', async () => {
      let sent = 0;
      const failing = new Readable({
        read() {
          if (sent >= 3) return this.destroy(new Error('client went away'));
          sent += 1;
          this.push(randomBytes(1024 * 1024));
        },
      });
      await assert.rejects(d.put('atomic/x', failing));
      assert.equal(await d.head('atomic/x'), null);
      assert.deepEqual(
        (await d.list('atomic/')).items.map((i) => i.key),
        [],
      );
    });

    test('unsafe keys are refused before any I/O', async () => {
      for (const key of [
        '',
        '../escape',
        'a/../../b',
        'a//b',
        '/abs',
        'a/./b',
        'ctl\u0000x',
        'tab\tx',
        'back\\slash',
        'x'.repeat(1025),
      ]) {
        await rejectsWith(d.put(key, Buffer.from('x')), 'INVALID_KEY');
        await rejectsWith(d.get(key), 'INVALID_KEY');
        await rejectsWith(d.delete(key), 'INVALID_KEY');
      }
    });

    test('probe passes on the real bucket', async () => {
      await d.probe();
    });

    test('a missing bucket is BUCKET_NOT_FOUND on probe, put and get', async () => {
      const m = fx.missingBucket();
      try {
        await rejectsWith(m.probe(), 'BUCKET_NOT_FOUND');
        await rejectsWith(m.put('x', Buffer.from('x')), 'BUCKET_NOT_FOUND');
        await rejectsWith(m.get('x'), 'BUCKET_NOT_FOUND');
      } finally {
        await m.close();
      }
    });

    test('wrong credentials are AUTH_FAILED', async (t) => {
      if (!fx.wrongCredentials) return t.skip(`${name}: the store has no credentials to get wrong`);
      const w = fx.wrongCredentials();
      try {
        await rejectsWith(w.probe(), 'AUTH_FAILED');
        await rejectsWith(w.put('x', Buffer.from('x')), 'AUTH_FAILED');
        await rejectsWith(w.get('a/hello.txt'), 'AUTH_FAILED');
      } finally {
        await w.close();
      }
    });

    test('read-only credentials: reads work, writes are PERMISSION_DENIED', async (t) => {
      if (!fx.readOnly) return t.skip(`${name}: the peer cannot express read-only credentials`);
      const r = fx.readOnly();
      try {
        assert.equal((await buffer((await r.get('a/hello.txt')).body)).toString(), 'hello, strongroom\n');
        await rejectsWith(r.put('ro/x', Buffer.from('x')), 'PERMISSION_DENIED');
      } finally {
        await r.close();
      }
    });
  });
}
