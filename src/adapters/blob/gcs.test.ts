/**
 * GCS driver against the project's GCS peer (test/peers/gcs): focused tests beside the shared
 * contract suite (test/blob-gcs.test.ts) — errors, multipart, the agent, service-account keys.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { type GcsPeer, startGcsPeer } from '../../../test/peers/gcs/gcs-peer.ts';
import { bearerAuthClient, storageForPeer } from '../../../test/peers/gcs/sdk.ts';
import { registerServiceAccount, serviceAccountKey } from '../../../test/peers/gcs/service-account.ts';
import { createEgressGuard } from '../net/egress-guard.ts';
import { type BlobErrorCode, isBlobError } from './driver.ts';
import { createGcsDriver, GcsDriver, type GcsDriverOptions, MULTIPART_DIR } from './gcs.ts';

let peer: GcsPeer;
const BUCKET = 'drive';

before(async () => {
  peer = await startGcsPeer({ buckets: [BUCKET], tokens: [{ token: 'ro', buckets: { [BUCKET]: 'read' } }] });
});
after(async () => {
  await peer?.stop();
});

function driver(over: Partial<GcsDriverOptions> & { token?: string } = {}): GcsDriver {
  const { token, ...rest } = over;
  return new GcsDriver({
    bucket: BUCKET,
    prefix: 'sr/',
    apiEndpoint: peer.url,
    authClient: bearerAuthClient(token ?? peer.adminToken),
    minPartSize: 1024,
    ...rest,
  });
}

const code = (c: BlobErrorCode) => (e: unknown) =>
  isBlobError(e, c) && !/googleapis|error"|\{/.test((e as Error).message);

describe('objects', () => {
  test('put / head / get / list / delete under the prefix', async () => {
    const d = driver();
    const info = await d.put('a/one.txt', Buffer.from('hello world'), { contentType: 'text/plain' });
    assert.equal(info.size, 11);
    assert.ok(info.etag);
    assert.equal((await d.head('a/one.txt'))?.size, 11);
    assert.equal(await d.head('a/none'), null);
    const got = await d.get('a/one.txt');
    assert.equal(await text(got.body), 'hello world');
    const part = await d.get('a/one.txt', { start: 6 });
    assert.deepEqual([await text(part.body), part.size, part.length], ['world', 11, 5]);
    await d.put('a/two.txt', Readable.from([Buffer.from('x'), Buffer.from('y')]));
    const page = await d.list('a/');
    assert.deepEqual(
      page.items.map((i) => i.key),
      ['a/one.txt', 'a/two.txt'],
    );
    const [raw] = await storageForPeer(peer, peer.adminToken).bucket(BUCKET).getFiles({ prefix: 'sr/a/' });
    assert.equal(raw.length, 2, 'keys live under the prefix');
    await d.delete('a/one.txt');
    await d.delete('a/one.txt');
    await assert.rejects(d.get('a/one.txt'), code('NOT_FOUND'));
  });

  test('list pages with a cursor', async () => {
    const d = driver();
    for (let i = 0; i < 5; i++) await d.put(`pg/${i}`, Buffer.from('x'));
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await d.list('pg/', { limit: 2, ...(cursor ? { cursor } : {}) });
      keys.push(...page.items.map((i) => i.key));
      cursor = page.cursor;
    } while (cursor);
    assert.deepEqual(keys, ['pg/0', 'pg/1', 'pg/2', 'pg/3', 'pg/4']);
  });

  test('create-if-absent → ALREADY_EXISTS; ranges → INVALID_RANGE; empty objects', async () => {
    const d = driver();
    await d.put('c/once', Buffer.from('1'), { ifNoneMatch: true });
    await assert.rejects(d.put('c/once', Buffer.from('2'), { ifNoneMatch: true }), code('ALREADY_EXISTS'));
    assert.equal(await text((await d.get('c/once')).body), '1');
    await assert.rejects(d.get('c/once', { start: 1 }), code('INVALID_RANGE'));
    await d.put('c/empty', Buffer.alloc(0));
    const empty = await d.get('c/empty');
    assert.deepEqual([await text(empty.body), empty.size, empty.length], ['', 0, 0]);
  });

  test('a failing body stream rejects and leaves the old object', async () => {
    const d = driver();
    await d.put('f/obj', Buffer.from('old'));
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1000));
        this.destroy(new Error('source broke'));
      },
    });
    await assert.rejects(d.put('f/obj', failing));
    assert.equal(await text((await d.get('f/obj')).body), 'old');
  });
});

describe('errors', () => {
  test('missing bucket → BUCKET_NOT_FOUND on every call', async () => {
    const d = driver({ bucket: 'no-such-bucket' });
    await assert.rejects(d.probe(), code('BUCKET_NOT_FOUND'));
    await assert.rejects(d.get('x'), code('BUCKET_NOT_FOUND'));
    await assert.rejects(d.head('x'), code('BUCKET_NOT_FOUND'));
    await assert.rejects(d.put('x', Buffer.from('x')), code('BUCKET_NOT_FOUND'));
    await assert.rejects(d.list(''), code('BUCKET_NOT_FOUND'));
    await assert.rejects(d.delete('x'), code('BUCKET_NOT_FOUND'));
  });

  test('bad token → AUTH_FAILED; read-only token writing → PERMISSION_DENIED', async () => {
    await assert.rejects(driver({ token: 'wrong' }).probe(), code('AUTH_FAILED'));
    await assert.rejects(driver({ token: 'wrong' }).get('x'), code('AUTH_FAILED'));
    const ro = driver({ token: 'ro' });
    await ro.probe();
    await assert.rejects(ro.put('x', Buffer.from('x')), code('PERMISSION_DENIED'));
    await assert.rejects(ro.delete('x'), code('PERMISSION_DENIED'));
  });

  test('nothing listening → UNREACHABLE', async () => {
    const srv = http.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    await assert.rejects(
      driver({ apiEndpoint: `http://127.0.0.1:${port}`, maxRetries: 0 }).probe(),
      code('UNREACHABLE'),
    );
  });

  test('invalid keys are refused before any I/O', async () => {
    const d = driver({ bucket: 'no-such-bucket' });
    await assert.rejects(d.put('../x', Buffer.from('x')), code('INVALID_KEY'));
    await assert.rejects(d.get(`${MULTIPART_DIR}x`), code('INVALID_KEY'));
  });
});

describe('multipart', () => {
  test('parts out of order, > 32 parts (compose in rounds), temporaries removed', async () => {
    const d = driver();
    const parts = Array.from({ length: 40 }, () => randomBytes(1024));
    const up = await d.createMultipart('mp/big');
    const order = [...parts.keys()].reverse();
    for (const i of order) await up.putPart(i + 1, parts[i]!, 1024);
    const info = await up.complete();
    const whole = Buffer.concat(parts);
    assert.equal(info.size, whole.length);
    const got = await d.get('mp/big');
    const chunks: Buffer[] = [];
    for await (const c of got.body) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(whole));
    const [left] = await storageForPeer(peer, peer.adminToken)
      .bucket(BUCKET)
      .getFiles({ prefix: `sr/${MULTIPART_DIR}` });
    assert.deepEqual(
      left.map((f) => f.name),
      [],
    );
  });

  test('abort removes parts, leaves the key as it was, and is safe twice', async () => {
    const d = driver();
    await d.put('mp/keep', Buffer.from('before'));
    const up = await d.createMultipart('mp/keep');
    await up.putPart(1, Buffer.alloc(2048), 2048);
    await up.putPart(2, Readable.from([Buffer.alloc(10)]), 10);
    await up.abort();
    await up.abort();
    assert.equal(await text((await d.get('mp/keep')).body), 'before');
    const [left] = await storageForPeer(peer, peer.adminToken)
      .bucket(BUCKET)
      .getFiles({ prefix: `sr/${MULTIPART_DIR}` });
    assert.deepEqual(
      left.map((f) => f.name),
      [],
    );
  });
});

describe('agent', () => {
  test('every call goes through the supplied agent', async () => {
    let connections = 0;
    class CountingAgent extends http.Agent {
      override createConnection(...args: Parameters<http.Agent['createConnection']>): Socket {
        connections++;
        return (
          http.Agent.prototype as unknown as { createConnection: (...a: unknown[]) => Socket }
        ).createConnection.apply(this, args);
      }
    }
    const d = driver({ agent: new CountingAgent({ keepAlive: false }) });
    await d.put('ag/x', Buffer.from('x'));
    const before = connections;
    assert.ok(before > 0);
    await text((await d.get('ag/x')).body);
    await d.head('ag/x');
    assert.ok(connections > before);
  });

  test('an agent that refuses connections fails every call with EGRESS_DENIED (no request bypasses it)', async () => {
    class RefusingAgent extends http.Agent {
      override createConnection(): Socket {
        throw Object.assign(new Error('egress denied'), { code: 'EGRESS_DENIED' });
      }
    }
    const d = driver({ agent: new RefusingAgent(), maxRetries: 0 });
    await assert.rejects(d.probe(), code('EGRESS_DENIED'));
    await assert.rejects(d.put('eg/x', Buffer.from('x')), code('EGRESS_DENIED'));
    await assert.rejects(d.get('eg/x'), code('EGRESS_DENIED'));
    await assert.rejects(d.head('eg/x'), code('EGRESS_DENIED'));
    await assert.rejects(d.list(''), code('EGRESS_DENIED'));
    await assert.rejects(d.delete('eg/x'), code('EGRESS_DENIED'));
    const up = await d.createMultipart('eg/mp');
    await assert.rejects(up.putPart(1, Buffer.from('x'), 1), code('EGRESS_DENIED'));
  });
});

/** An agent that records the path of every request it carries. */
class RecordingAgent extends http.Agent {
  readonly paths: string[] = [];
}
const addRequest = (http.Agent.prototype as unknown as { addRequest: (req: http.ClientRequest, o: unknown) => void })
  .addRequest;
(RecordingAgent.prototype as unknown as { addRequest: (req: http.ClientRequest, o: unknown) => void }).addRequest =
  function (this: RecordingAgent, req, o) {
    this.paths.push(req.path.split('?')[0]!);
    addRequest.call(this, req, o);
  };

describe('service-account key', () => {
  test('the token comes from token_uri through the agent, once; API calls carry it', async () => {
    const key = await registerServiceAccount(peer, { access: 'write' });
    const agent = new RecordingAgent({ keepAlive: true });
    const d = createGcsDriver({ bucket: BUCKET, prefix: 'sa/', apiEndpoint: peer.url, serviceAccount: key, agent });
    await d.probe();
    await d.put('x', Buffer.from('signed'));
    assert.equal(await text((await d.get('x')).body), 'signed');
    await d.delete('x');
    assert.equal(agent.paths[0], '/token', 'the first request is the token request');
    assert.equal(agent.paths.filter((p) => p === '/token').length, 1, 'the token is reused');
    assert.ok(
      agent.paths.filter((p) => p.includes(`/b/${BUCKET}`)).length >= 4,
      'API calls went through the same agent',
    );
    agent.destroy();
  });

  test('a key the peer does not know (wrong private key, unknown account) → AUTH_FAILED, no remote text', async () => {
    const key = await registerServiceAccount(peer, { access: 'write' });
    const wrong = serviceAccountKey(peer, { clientEmail: key.client_email }).json;
    const stranger = serviceAccountKey(peer).json;
    for (const sa of [wrong, stranger]) {
      const d = createGcsDriver({ bucket: BUCKET, apiEndpoint: peer.url, serviceAccount: sa });
      await assert.rejects(
        d.probe(),
        (e) => code('AUTH_FAILED')(e) && !/JWT|account not found|Signature/i.test((e as Error).message),
      );
      await assert.rejects(d.get('x'), code('AUTH_FAILED'));
      await assert.rejects(d.put('x', Buffer.from('x')), code('AUTH_FAILED'));
    }
  });

  test('a read-only account → probe and reads work, put is PERMISSION_DENIED', async () => {
    const key = await registerServiceAccount(peer, { buckets: { [BUCKET]: 'read' } });
    const d = createGcsDriver({ bucket: BUCKET, apiEndpoint: peer.url, serviceAccount: key });
    await d.probe();
    assert.deepEqual((await d.list('nothing-here/')).items, []);
    await assert.rejects(d.put('ro', Buffer.from('x')), code('PERMISSION_DENIED'));
  });

  test('token_uri goes through the egress guard: a refused address is EGRESS_DENIED before any connection', async () => {
    const key = await registerServiceAccount(peer, { access: 'write' });
    const guard = createEgressGuard({ allowlist: '127.0.0.1/32', connectTimeoutMs: 2000, readTimeoutMs: 5000 });
    await createGcsDriver({
      bucket: BUCKET,
      apiEndpoint: peer.url,
      serviceAccount: key,
      agent: guard.httpAgent(),
    }).probe();
    for (const tokenUri of ['http://169.254.169.254/token', 'http://127.0.0.2:9/token', 'http://[::1]:9/token']) {
      const d = createGcsDriver({
        bucket: BUCKET,
        apiEndpoint: peer.url,
        serviceAccount: { ...key, token_uri: tokenUri },
        agent: guard.httpAgent(),
      });
      await assert.rejects(d.probe(), code('EGRESS_DENIED'), tokenUri);
      await assert.rejects(d.get('x'), code('EGRESS_DENIED'), tokenUri);
    }
  });

  test('unusable keys are refused when the driver is built, without echoing the key', () => {
    const { json } = serviceAccountKey(peer);
    const cases: [string, Record<string, unknown>][] = [
      ['https token_uri for an http endpoint', { token_uri: 'https://oauth2.googleapis.com/token' }],
      ['no token_uri (Google’s, https) for an http endpoint', { token_uri: undefined }],
      ['user:password@ in token_uri', { token_uri: `http://u:p@127.0.0.1:${peer.port}/token` }],
      ['a token_uri that is no URL', { token_uri: 'not a url' }],
      [
        'a private_key that is no key',
        { private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' },
      ],
      ['no client_email', { client_email: undefined }],
    ];
    for (const [name, over] of cases) {
      assert.throws(
        () =>
          createGcsDriver({
            bucket: BUCKET,
            apiEndpoint: peer.url,
            serviceAccount: { ...json, ...over } as typeof json,
          }),
        (e) => code('FAILED')(e) && !(e as Error).message.includes('PRIVATE KEY'),
        name,
      );
    }
  });
});
