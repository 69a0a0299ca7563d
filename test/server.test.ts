/**
 * The HTTPS spine over real TLS, on both database backends: protocol floor, suites, security
 * headers on every kind of response, problem+json for every kind of bad input, probes, request
 * ids, metrics off the public listener, log redaction.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { migrations } from '../src/db/migrations/index.ts';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';

const CANARY = 'CANARY-7f3a9e1b-do-not-log';

function probeRoutes(app: FastifyInstance): void {
  const z4 = app.withTypeProvider<ZodTypeProvider>();
  z4.post(
    '/test/echo',
    {
      config: { access: { public: 'test probe' } },
      schema: { body: z.object({ name: z.string().min(1).max(20), count: z.number().int() }) },
    },
    async (req) => ({ got: req.body }),
  );
  app.get('/test/boom', { config: { access: { public: 'test probe' } } }, async () => {
    throw new Error(`database exploded: password=${CANARY} at /srv/internal/path.ts:42`);
  });
  app.get('/test/log', { config: { access: { public: 'test probe' } } }, async (req) => {
    req.log.info(
      {
        user: { password: CANARY, profile: { apiKey: CANARY, name: 'ok' } },
        token: CANARY,
        headers: { authorization: `Bearer ${CANARY}` },
      },
      'logging a canary',
    );
    return { ok: true };
  });
  app.get('/test/slow', { config: { access: { public: 'test probe' } } }, async () => {
    await new Promise((r) => setTimeout(r, 400));
    return { slow: true };
  });
}

function assertSecurityHeaders(headers: Record<string, unknown>, what: string): void {
  assert.equal(headers['strict-transport-security'], 'max-age=63072000; includeSubDomains', `${what}: HSTS`);
  assert.equal(headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(headers['referrer-policy'], 'no-referrer', `${what}: referrer policy`);
  const csp = String(headers['content-security-policy']);
  assert.match(csp, /default-src 'self'/, `${what}: CSP default-src`);
  assert.match(csp, /frame-ancestors 'none'/, `${what}: CSP frame-ancestors`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, `${what}: CSP must stay strict`);
  assert.match(String(headers['x-request-id']), /.{8,}/, `${what}: request id`);
}

function tlsConnect(port: number, ca: string, opts: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ...opts }, () => {
      const p = s.getProtocol() ?? 'none';
      s.end();
      resolve(p);
    });
    s.on('error', reject);
  });
}

for (const backend of BACKENDS) {
  describe(`HTTPS spine on ${backend}`, () => {
    let app: TestApp;
    let skip = false;

    before(async (t) => {
      if (
        backend === 'postgres' &&
        !requirePeer(t as never, 'PostgreSQL', await postgresAvailable(), 'start it: pg_ctlcluster 15 main start')
      ) {
        skip = true;
        return;
      }
      app = await startTestApp(backend, { extraRoutes: probeRoutes });
    });
    after(async () => {
      if (!skip) await app.close();
    });

    test('TLS 1.3 and 1.2 (AEAD suites) are accepted', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      assert.equal(await tlsConnect(app.server.httpsPort, app.ca, {}), 'TLSv1.3');
      assert.equal(
        await tlsConnect(app.server.httpsPort, app.ca, {
          maxVersion: 'TLSv1.2',
          ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256',
        }),
        'TLSv1.2',
      );
      assert.equal(
        await tlsConnect(app.server.httpsPort, app.ca, {
          maxVersion: 'TLSv1.2',
          ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305',
        }),
        'TLSv1.2',
      );
    });

    test('TLS 1.1 and TLS 1.2 non-AEAD (CBC) suites are refused', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await assert.rejects(
        tlsConnect(app.server.httpsPort, app.ca, {
          minVersion: 'TLSv1.1',
          maxVersion: 'TLSv1.1',
          ciphers: 'DEFAULT@SECLEVEL=0',
        }),
        /protocol|version|alert|handshake/i,
      );
      for (const cipher of ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA', 'AES128-GCM-SHA256']) {
        await assert.rejects(
          tlsConnect(app.server.httpsPort, app.ca, { maxVersion: 'TLSv1.2', ciphers: cipher }),
          /handshake|cipher|alert/i,
          `${cipher} must be refused`,
        );
      }
    });

    test('health and readiness', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const h = await app.req('/healthz');
      assert.equal(h.status, 200);
      assert.deepEqual(h.json(), { status: 'ok' });
      const r = await app.req('/readyz');
      assert.equal(r.status, 200);
      assert.equal(r.json().status, 'ready');
      assert.equal(r.json().migrations, Object.keys(migrations).length);
      assertSecurityHeaders(r.headers, 'readyz');
    });

    const bad: {
      name: string;
      path: string;
      method: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
      status: number;
      code: string;
    }[] = [
      { name: 'unknown route', path: '/nope/../../etc/passwd', method: 'GET', status: 404, code: 'NOT_FOUND' },
      {
        name: 'malformed JSON',
        path: '/test/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"name": "x",',
        status: 400,
        code: 'MALFORMED_JSON',
      },
      {
        name: 'empty JSON body',
        path: '/test/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '',
        status: 400,
        code: 'MALFORMED_JSON',
      },
      {
        name: 'wrong content type',
        path: '/test/echo',
        method: 'POST',
        headers: { 'content-type': 'text/x-nonsense' },
        body: 'hello',
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: 'body over the limit',
        path: '/test/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'x'.repeat(1_100_000), count: 1 }),
        status: 413,
        code: 'BODY_TOO_LARGE',
      },
      {
        name: 'schema violation',
        path: '/test/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: '', count: 'three' }),
        status: 422,
        code: 'VALIDATION_FAILED',
      },
      {
        name: 'wrong types (array body)',
        path: '/test/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '[1,2,3]',
        status: 422,
        code: 'VALIDATION_FAILED',
      },
      {
        name: 'unicode overflow in a field',
        path: '/test/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: '🔥'.repeat(50), count: 1 }),
        status: 422,
        code: 'VALIDATION_FAILED',
      },
      {
        name: 'prototype pollution attempt',
        path: '/test/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"__proto__": {"admin": true}, "name": "a", "count": 1}',
        status: 400,
        code: 'MALFORMED_JSON',
      },
    ];
    for (const c of bad) {
      test(`bad input: ${c.name} → ${c.status} ${c.code}`, async (t) => {
        if (skip) return t.skip('no PostgreSQL');
        const res = await app.req(c.path, { method: c.method, headers: c.headers, body: c.body });
        assert.equal(res.status, c.status, res.body);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
        const p = res.json();
        assert.equal(p.code, c.code);
        assert.equal(p.status, c.status);
        assert.equal(typeof p.title, 'string');
        assert.equal(p.requestId, res.headers['x-request-id']);
        assert.doesNotMatch(res.body, /at .*\.ts:\d+|node_modules|stack/i, 'no internals');
        assertSecurityHeaders(res.headers, c.name);
      });
    }

    test('a valid request passes the same schema', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const res = await app.req('/test/echo', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'ünïcødé', count: 3 }),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), { got: { name: 'ünïcødé', count: 3 } });
    });

    test('an unexpected error is a bare 500: no internals in the body, logged with the request id', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const res = await app.req('/test/boom');
      assert.equal(res.status, 500);
      const p = res.json();
      assert.equal(p.code, 'INTERNAL');
      assert.equal(p.detail, undefined);
      assert.ok(!res.body.includes(CANARY) && !res.body.includes('exploded') && !res.body.includes('/srv/'));
      assertSecurityHeaders(res.headers, '500');
      const line = app.logs.find(
        (l) => l.includes(String(res.headers['x-request-id'])) && l.includes('request failed'),
      );
      assert.ok(line, 'the failure is logged with its request id');
      assert.ok(line.includes('exploded'), 'the log has the real error for operators');
    });

    test('request ids: generated, echoed, and a caller id accepted only when plain', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const a = await app.req('/healthz');
      const b = await app.req('/healthz');
      assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
      const mine = await app.req('/healthz', { headers: { 'x-request-id': 'trace-0123456789' } });
      assert.equal(mine.headers['x-request-id'], 'trace-0123456789');
      const evil = await app.req('/healthz', { headers: { 'x-request-id': 'x<script>alert(1)</script>' } });
      assert.match(String(evil.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    });

    test('logs redact credentials: headers, cookies, query strings and fields named like secrets', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const res = await app.req(`/test/log?token=${CANARY}`, {
        headers: { authorization: `Bearer ${CANARY}`, cookie: `sid=${CANARY}` },
      });
      assert.equal(res.status, 200);
      const mine = app.logs.filter((l) => l.includes(String(res.headers['x-request-id'])));
      assert.ok(
        mine.some((l) => l.includes('logging a canary')),
        'the canary line was logged',
      );
      assert.ok(
        mine.some((l) => l.includes('"name":"ok"')),
        'non-secret fields stay',
      );
      for (const l of app.logs) assert.ok(!l.includes(CANARY), `canary leaked into: ${l}`);
    });

    test('/metrics is not on the public listener but on the internal one', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const pub = await app.req('/metrics');
      assert.equal(pub.status, 404);
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get(`http://127.0.0.1:${app.server.metricsPort}/metrics`, (res) => {
            let b = '';
            res.on('data', (c) => (b += c));
            res.on('end', () => resolve(b));
          })
          .on('error', reject);
      });
      assert.match(body, /strongroom_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
      assert.match(body, /strongroom_process_cpu_seconds_total/);
      assert.ok(!body.includes(CANARY));
    });

    test('the HTTP listener only redirects (308) to HTTPS', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        http
          .get(
            { host: '127.0.0.1', port: app.server.httpPort, path: '/readyz?x=1', headers: { host: 'localhost:1234' } },
            resolve,
          )
          .on('error', reject);
      });
      res.resume();
      assert.equal(res.statusCode, 308);
      assert.equal(res.headers.location, `https://localhost:${app.server.httpsPort}/readyz?x=1`);
      const evil = await new Promise<http.IncomingMessage>((resolve, reject) => {
        http
          .get(
            { host: '127.0.0.1', port: app.server.httpPort, path: '/', headers: { host: 'evil.example/..@x' } },
            resolve,
          )
          .on('error', reject);
      });
      evil.resume();
      assert.equal(evil.statusCode, 400);
      // Issue 13: a well-formed but foreign Host is not redirected to (no open redirect).
      const foreign = await new Promise<http.IncomingMessage>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: app.server.httpPort, path: '/x', headers: { host: 'evil.example' } }, resolve)
          .on('error', reject);
      });
      foreign.resume();
      assert.equal(foreign.statusCode, 400);
      assert.equal(foreign.headers.location, undefined);
    });

    test('every route declares its access (Cedar action + audit event, or why it is public)', (t) => {
      if (skip) return t.skip('no PostgreSQL');
      assert.ok(app.server.app.routes.length >= 2);
      const undeclared = app.server.app.routes.filter((r) => r.access === undefined);
      assert.deepEqual(undeclared, [], 'routes without an access declaration');
      // The console's static routes (present when web/dist is built) are public: they serve no data.
      for (const r of app.server.app.routes.filter((x) => x.url === '/' || x.url.startsWith('/assets/'))) {
        assert.ok(
          r.access && 'public' in r.access && /console/.test(r.access.public),
          `${r.url} is a public console route`,
        );
      }
      for (const r of app.server.app.routes) {
        if (r.access && 'action' in r.access) {
          assert.match(r.access.action, /^[a-z]+(\.[a-z-]+){2}$/);
          assert.match(r.access.audit, /^[a-z]+(\.[a-z-]+){2}$/);
        }
      }
    });
  });
}
