/**
 * HTTP framing with a lying client (open findings of `npm run reliability -- fuzz`): bytes the
 * HTTP parser refuses after a request the connection already carried never produce a second
 * answer — the first request's answer goes out first and whole, then the connection closes — and
 * a HEAD request the parser refuses gets a problem's headers without a body.
 */
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { ownerSession } from './helpers/identity.ts';

/** Everything the server sends on one connection for `raw`, until it closes the connection. */
function exchange(app: TestApp, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: app.server.httpsPort, ca: app.ca, servername: 'localhost' }, () =>
      s.write(raw),
    );
    let got = '';
    s.on('data', (c: Buffer) => (got += c.toString('latin1')));
    s.on('close', () => resolve(got));
    s.on('error', () => undefined);
    s.setTimeout(20_000, () => (s.destroy(), reject(new Error(`no close; got: ${got.slice(0, 500)}`))));
  });
}
/** `first`, then — once its answer has arrived and the connection is idle — `second`, on one connection. */
function exchangeTwice(app: TestApp, first: string, second: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: app.server.httpsPort, ca: app.ca, servername: 'localhost' }, () =>
      s.write(first),
    );
    let got = '';
    let sent = false;
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (!sent && /\r\n\r\n/.test(got)) {
        sent = true;
        setTimeout(() => s.write(second), 300);
      }
    });
    s.on('close', () => resolve(got));
    s.on('error', () => undefined);
    s.setTimeout(20_000, () => (s.destroy(), reject(new Error(`no close; got: ${got.slice(0, 500)}`))));
  });
}
/**
 * `first` (a request with a large answer); once that answer starts, the client stops reading (the
 * server's writes back up) and sends `second` whole; then reads everything until the close.
 */
function exchangeWhileBackedUp(app: TestApp, first: string, second: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: app.server.httpsPort, ca: app.ca, servername: 'localhost' }, () =>
      s.write(first),
    );
    const chunks: Buffer[] = [];
    let sent = false;
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      if (sent) return;
      sent = true;
      s.pause();
      s.write(second, () => setTimeout(() => s.resume(), 500));
    });
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.on('error', () => undefined);
    s.setTimeout(60_000, () => (s.destroy(), reject(new Error('no close'))));
  });
}
const statusLines = (got: string) => got.match(/^HTTP\/1\.1 \d{3}/gm) ?? [];

describe('HTTP framing with a lying client', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('pglite');
  });
  after(async () => {
    await app?.close();
  });

  test("a content length shorter than the body: one answer, the first request's, then the connection closes", async () => {
    const body = JSON.stringify({ email: 'nobody@corp.test', password: 'not the password' });
    const got = await exchange(
      app,
      'POST /api/v1/auth/login HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}\u0001\u0002 not a request\r\n\r\n`,
    );
    assert.deepEqual(statusLines(got), ['HTTP/1.1 401'], got.slice(0, 800));
    assert.match(got, /"code":"UNAUTHENTICATED"/);
  });

  test('HEAD with a body: its answer has no body and nothing follows it', async () => {
    const got = await exchange(
      app,
      'HEAD /api/v1/auth/me HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-length: 4\r\n\r\n\u0001garbage\u0002',
    );
    assert.equal(statusLines(got).length, 1, got.slice(0, 800));
    assert.equal(got.slice(got.indexOf('\r\n\r\n') + 4), '', 'bytes after the HEAD answer');
  });

  test("a HEAD request the parser refuses: the problem's headers, no body", async () => {
    const got = await exchange(
      app,
      'HEAD / HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\ntransfer-encoding: identity\r\n\r\n',
    );
    assert.deepEqual(statusLines(got), ['HTTP/1.1 400'], got.slice(0, 800));
    assert.match(got, /content-type: application\/problem\+json/);
    assert.equal(got.slice(got.indexOf('\r\n\r\n') + 4), '');
  });

  test('a request the parser refuses on an idle kept-alive connection gets its problem after the first answer', async () => {
    const got = await exchangeTwice(
      app,
      'GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n',
      `GET / HTTP/1.1\r\nhost: localhost\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    // The second status line follows the first answer's body directly (no line break before it).
    assert.deepEqual(got.match(/HTTP\/1\.1 \d{3}/g), ['HTTP/1.1 200', 'HTTP/1.1 431'], got.slice(0, 800));
    assert.match(got, /"code":"HEADERS_TOO_LARGE"/);
  });

  test('a GET the parser refuses on a fresh connection still gets its problem', async () => {
    const got = await exchange(app, `GET / HTTP/1.1\r\nhost: localhost\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.deepEqual(statusLines(got), ['HTTP/1.1 431'], got.slice(0, 800));
    assert.match(got, /"code":"HEADERS_TOO_LARGE"/);
  });

  test('HEAD with headers too large on a fresh connection: a 431 without a body', async () => {
    const got = await exchange(app, `HEAD / HTTP/1.1\r\nhost: localhost\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.deepEqual(statusLines(got), ['HTTP/1.1 431'], got.slice(0, 800));
    assert.match(got, /content-type: application\/problem\+json/);
    assert.equal(got.slice(got.indexOf('\r\n\r\n') + 4), '', 'bytes after the HEAD answer');
  });

  test('HEAD with headers too large after a kept-alive request: its 431 has no body', async () => {
    const got = await exchangeTwice(
      app,
      'GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n',
      `HEAD / HTTP/1.1\r\nhost: localhost\r\ncookie: ${'c'.repeat(20_000)}\r\n\r\n`,
    );
    assert.deepEqual(got.match(/HTTP\/1\.1 \d{3}/g), ['HTTP/1.1 200', 'HTTP/1.1 431'], got.slice(0, 800));
    const second = got.slice(got.indexOf('HTTP/1.1 431'));
    assert.match(second, /content-type: application\/problem\+json/);
    assert.equal(second.slice(second.indexOf('\r\n\r\n') + 4), '', 'bytes after the HEAD answer');
  });

  test('HEAD with headers too large that starts mid-chunk, right after a pipelined body: its 431 has no body', async () => {
    // The HEAD's first bytes travel in the same chunk as the login's body; the rest of its head
    // (too large) comes after the login's answer, so the 431 is written and its method is unknown.
    const body = JSON.stringify({ email: 'nobody@corp.test', password: 'not the password' });
    const got = await exchangeTwice(
      app,
      'POST /api/v1/auth/login HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}HEAD / HTTP/1.1\r\nhost: localhost\r\ncookie: c`,
      `${'c'.repeat(20_000)}\r\n\r\n`,
    );
    assert.deepEqual(got.match(/HTTP\/1\.1 \d{3}/g), ['HTTP/1.1 401', 'HTTP/1.1 431'], got.slice(0, 800));
    const second = got.slice(got.indexOf('HTTP/1.1 431'));
    assert.match(second, /\r\ncontent-length: 0\r\n/);
    assert.equal(second.slice(second.indexOf('\r\n\r\n') + 4), '', 'bytes after the HEAD answer');
  });

  test('a request with a body sent while the previous answer is still backed up is answered, not reset', async () => {
    // A download larger than the loopback buffers, so the server cannot flush it while the client
    // does not read: the server then holds the connection paused as the next request arrives, and
    // that request's 200 KB body comes in many TLS records meanwhile.
    const owner = (await ownerSession(app)).session;
    const big = Buffer.alloc(24 * 1024 * 1024, 'a,b\n1,2\n');
    const up = await owner.req('/api/v1/workspaces/default/datasets/backedup/versions?filename=b.csv', {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: big,
    });
    assert.equal(up.status, 201, up.body);
    const body = `{"email":"nobody@corp.test","password":"not the password"}${' '.repeat(200_000)}`;
    const got = await exchangeWhileBackedUp(
      app,
      'GET /api/v1/workspaces/default/datasets/backedup/versions/1/content HTTP/1.1\r\nhost: localhost\r\n' +
        `cookie: ${owner.cookie}\r\n\r\n`,
      'POST /api/v1/auth/login HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n' +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    assert.deepEqual(got.match(/HTTP\/1\.1 \d{3}/g), ['HTTP/1.1 200', 'HTTP/1.1 401'], got.slice(-800));
    assert.match(got, /"code":"UNAUTHENTICATED"/);
  });
});
