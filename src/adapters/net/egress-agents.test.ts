/**
 * End to end, on 127.0.0.1 only: real servers, real sockets, the guard's agents. No traffic ever
 * leaves the loopback interface, and names are answered by an injected resolver.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { generateSelfSigned } from '../../installation/tls.ts';
import { EgressDeniedError } from '../../core/net/egress-error.ts';
import { EgressTimeoutError } from './egress-agents.ts';
import { createEgressGuard } from './egress-guard.ts';
import type { EgressGuardOptions } from './egress-guard.ts';

interface Peer {
  port: number;
  connections: number;
  close(): Promise<void>;
}

function listen(server: net.Server): Promise<Peer> {
  const peer = { port: 0, connections: 0, close: () => new Promise<void>((r) => server.close(() => r())) };
  server.on('connection', () => peer.connections++);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        ...peer,
        get connections() {
          return peer.connections;
        },
        port: (server.address() as net.AddressInfo).port,
      }),
    ),
  );
}

const sockets = new Set<net.Socket>();
function track(server: net.Server): net.Server {
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return server;
}

let plain: Peer;
let secure: Peer;
let redirecting: Peer;
let silent: Peer;
let mute: Peer;
let ca: string;

before(async () => {
  const tlsMaterial = await generateSelfSigned();
  ca = tlsMaterial.cert;
  const hello: http.RequestListener = (_req, res) => res.end('hello from 127.0.0.1');
  plain = await listen(track(http.createServer(hello)));
  secure = await listen(track(https.createServer(tlsMaterial, hello)));
  redirecting = await listen(
    track(
      http.createServer((_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${plain.port}/next` }).end()),
    ),
  );
  silent = await listen(track(http.createServer(() => {}))); // reads the request, never answers
  mute = await listen(track(net.createServer(() => {}))); // accepts TCP, never speaks TLS
});

after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all([plain, secure, redirecting, silent, mute].map((p) => p.close()));
});

const resolve: EgressGuardOptions['resolve'] = async (name) => {
  if (name === 'store.test' || name === 'localhost') return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
};

function guardWith(allowlist: string, timeouts = { connectTimeoutMs: 2000, readTimeoutMs: 2000 }) {
  return createEgressGuard({ allowlist, resolve, ...timeouts });
}

function get(
  options: https.RequestOptions,
  secureRequest = false,
): Promise<{ status: number; body: string; remote: string | undefined }> {
  return new Promise((done, fail) => {
    const req = (secureRequest ? https : http).request({ method: 'GET', path: '/', ...options }, (res) => {
      const chunks: Buffer[] = [];
      const remote = res.socket.remoteAddress;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), remote }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end();
  });
}

test('without the allowlist, loopback is refused before any connection (literal, spelling, name)', async () => {
  const guard = guardWith('');
  const agent = guard.httpAgent();
  for (const host of ['127.0.0.1', '127.1', '0x7f.1', '2130706433', 'store.test', 'localhost', '::ffff:127.0.0.1']) {
    await assert.rejects(
      get({ host, port: plain.port, agent }),
      (err) => err instanceof EgressDeniedError && err.code === 'EGRESS_DENIED',
      host,
    );
  }
  await assert.rejects(get({ socketPath: '/tmp/x.sock', agent }), { reason: 'UNIX_SOCKET' });
  const tlsAgent = guard.httpsAgent({ ca });
  await assert.rejects(get({ host: '127.0.0.1', port: secure.port, agent: tlsAgent }, true), { reason: 'LOOPBACK' });
  await assert.rejects(get({ host: 'store.test', port: secure.port, agent: tlsAgent }, true), {
    detail: 'store.test resolves to a loopback address 127.0.0.1',
  });
  assert.equal(plain.connections, 0);
  assert.equal(secure.connections, 0);
  agent.destroy();
  tlsAgent.destroy();
});

test('with 127.0.0.1/32 allowlisted, the same requests go through to the checked address', async () => {
  const guard = guardWith('127.0.0.1/32');
  const agent = guard.httpAgent();
  for (const host of ['127.0.0.1', '127.1', 'store.test']) {
    const r = await get({ host, port: plain.port, agent });
    assert.deepEqual(r, { status: 200, body: 'hello from 127.0.0.1', remote: '127.0.0.1' }, host);
  }
  const tlsAgent = guard.httpsAgent({ ca });
  const r = await get({ host: 'store.test', port: secure.port, agent: tlsAgent, servername: 'localhost' }, true);
  assert.equal(r.body, 'hello from 127.0.0.1');
  assert.equal((await get({ host: '127.0.0.1', port: secure.port, agent: tlsAgent }, true)).status, 200);
  assert.ok(plain.connections >= 1 && secure.connections >= 1);
  agent.destroy();
  tlsAgent.destroy();
});

test('a redirect is handed back, never followed', async () => {
  const guard = guardWith('127.0.0.1/32');
  const agent = guard.httpAgent();
  const before = plain.connections;
  const r = await get({ host: '127.0.0.1', port: redirecting.port, agent });
  assert.equal(r.status, 302);
  assert.equal(plain.connections, before);
  agent.destroy();
});

test('a server that accepts and never answers hits the read timeout', async () => {
  const guard = guardWith('127.0.0.1/32', { connectTimeoutMs: 2000, readTimeoutMs: 300 });
  const agent = guard.httpAgent();
  const t0 = Date.now();
  await assert.rejects(
    get({ host: '127.0.0.1', port: silent.port, agent }),
    (err) => err instanceof EgressTimeoutError && err.phase === 'read',
  );
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 250 && elapsed < 3000, `${elapsed} ms`);
  agent.destroy();
});

test('a TLS handshake that never completes hits the connect timeout', async () => {
  const guard = guardWith('127.0.0.1/32', { connectTimeoutMs: 300, readTimeoutMs: 10_000 });
  const agent = guard.httpsAgent({ ca });
  const t0 = Date.now();
  await assert.rejects(
    get({ host: '127.0.0.1', port: mute.port, agent }, true),
    (err) => err instanceof EgressTimeoutError && err.phase === 'connect',
  );
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 250 && elapsed < 3000, `${elapsed} ms`);
  agent.destroy();
});

test('a resolver that never answers hits the connect timeout, and nothing is dialled', async () => {
  const guard = createEgressGuard({
    allowlist: '127.0.0.1/32',
    resolve: () => new Promise<never>(() => {}),
    connectTimeoutMs: 200,
    readTimeoutMs: 5000,
  });
  const agent = guard.httpAgent();
  const before = plain.connections;
  await assert.rejects(get({ host: 'hang.test', port: plain.port, agent }), (err) => err instanceof EgressTimeoutError);
  assert.equal(plain.connections, before);
  agent.destroy();
});
