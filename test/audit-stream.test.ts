/**
 * Audit streaming to real receivers on loopback: Debian rsyslog over TLS (imtcp + gtls, started
 * here) and an HTTPS webhook receiver in this process that checks the HMAC signature. Events
 * arrive in seq order with their chain hashes; killing rsyslog (kill -9) or failing the webhook
 * mid-stream leaves no gap once they are back (duplicates only within at-least-once); a sink that
 * is down lags without blocking anything, and the lag shows in the posture control and the
 * metrics; a receiver with a certificate from another CA is refused; and a server killed (-9)
 * mid-stream resumes from its stored position with no gap.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { freePort, startServe } from './helpers/cli.ts';
import { readOperatorToken } from '../src/installation/operator-token.ts';
import { request } from './helpers/https.ts';
import { readFile } from 'node:fs/promises';
import { requirePeer } from './helpers/peers.ts';
import { createTestCa, type TestCa } from './helpers/test-ca.ts';
import { rsyslogAvailable, startRsyslog, type Rsyslog } from './peers/rsyslog.ts';

const SECRET = 'webhook-secret-for-tests-0123456789abcdef';

interface Receiver {
  port: number;
  seqs: number[];
  mode: 'up' | 'down';
  badSignatures: number;
  close(): Promise<void>;
}

async function startWebhook(ca: TestCa): Promise<Receiver> {
  const cert = ca.issue('webhook');
  const r: Receiver = { port: 0, seqs: [], mode: 'up', badSignatures: 0, close: async () => undefined };
  const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (r.mode === 'down') return res.writeHead(503).end();
      const body = Buffer.concat(chunks);
      const ts = String(req.headers['x-strongroom-timestamp']);
      const want = `v1=${createHmac('sha256', SECRET).update(`${ts}.`).update(body).digest('hex')}`;
      const got = String(req.headers['x-strongroom-signature']);
      if (
        got.length !== want.length ||
        !timingSafeEqual(Buffer.from(got), Buffer.from(want)) ||
        Math.abs(Date.now() / 1000 - Number(ts)) > 300
      ) {
        r.badSignatures++;
        return res.writeHead(401).end();
      }
      for (const line of body.toString('utf8').split('\n').filter(Boolean))
        r.seqs.push((JSON.parse(line) as { seq: number }).seq);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.port = (server.address() as AddressInfo).port;
  r.close = () => new Promise((resolve) => server.close(() => resolve()));
  return r;
}

const seqsOf = (lines: string[]) => lines.map((l) => (JSON.parse(l.trim()) as { seq: number }).seq);

/** Every seq 1..head present; returns how many arrived more than once. */
function assertNoGap(seqs: number[], head: number, what: string): number {
  const seen = new Set(seqs);
  for (let s = 1; s <= head; s++) assert.ok(seen.has(s), `${what}: seq ${s} of ${head} missing`);
  return seqs.length - seen.size;
}

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('audit streaming to rsyslog (TLS) and a signed webhook', () => {
  let ca: TestCa;
  let dir: string;
  let rsyslog: Rsyslog;
  let webhook: Receiver;
  let app: TestApp;
  let syslogPort: number;
  let skip = false;
  const syslogCert = () => ca.issue('syslog');

  before(async (t) => {
    if (!requirePeer(t as never, 'rsyslog with gtls', rsyslogAvailable(), 'apt-get install rsyslog rsyslog-gnutls')) {
      skip = true;
      return;
    }
    ca = createTestCa();
    dir = await mkdtemp(path.join(os.tmpdir(), 'sr-siem-'));
    syslogPort = await freePort();
    const cert = syslogCert();
    rsyslog = await startRsyslog({ dir, port: syslogPort, caFile: ca.caFile, ...cert });
    webhook = await startWebhook(ca);
    app = await startTestApp('pglite', {
      env: {
        STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32',
        STRONGROOM_AUDIT_SYSLOG_URL: `tls://localhost:${syslogPort}`,
        STRONGROOM_AUDIT_SYSLOG_CA_FILE: ca.caFile,
        STRONGROOM_AUDIT_WEBHOOK_URL: `https://localhost:${webhook.port}/siem`,
        STRONGROOM_AUDIT_WEBHOOK_SECRET: SECRET,
        STRONGROOM_AUDIT_WEBHOOK_CA_FILE: ca.caFile,
        STRONGROOM_POSTURE_CHECK_SECONDS: '0',
      },
    });
  });
  after(async () => {
    if (skip) return;
    await app.close();
    await rsyslog.kill('SIGTERM');
    await webhook.close();
    ca.remove();
    await rm(dir, { recursive: true, force: true });
  });

  const head = async () => {
    await app.server.audit.chainPending();
    return (await app.server.audit.tail(1))[0]?.seq ?? 0;
  };
  const record = async (n: number, tag: string) => {
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        app.server.audit.recordCommitted({
          actor: { id: 'stream-test', kind: 'system' },
          action: 'test.stream.event',
          outcome: i % 7 === 0 ? 'denied' : 'success',
          resource: { type: 'test', id: `${tag}-${i}` },
        }),
      ),
    );
    return head();
  };

  test('in order, with chain hashes, to both sinks; syslog lines are RFC 5424 with our MSG', async (t) => {
    if (skip) return t.skip('no rsyslog');
    const top = await record(300, 'a');
    await until('rsyslog has every event', async () => (await rsyslog.lines()).length >= top);
    await until('webhook has every event', () => webhook.seqs.length >= top);
    const lines = await rsyslog.lines();
    const seqs = seqsOf(lines);
    assert.deepEqual(
      seqs.slice(0, top),
      Array.from({ length: top }, (_, i) => i + 1),
      'syslog: in seq order',
    );
    assert.deepEqual(
      webhook.seqs.slice(0, top),
      Array.from({ length: top }, (_, i) => i + 1),
      'webhook: in seq order',
    );
    assert.equal(webhook.badSignatures, 0);
    const chained = (await app.server.audit.tail(top)).map((e) => e.hash);
    assert.deepEqual(
      lines.slice(0, top).map((l) => (JSON.parse(l) as { hash: string }).hash),
      chained,
    );
  });

  test('rsyslog killed (-9) mid-stream and restarted: no gap, duplicates only within at-least-once', async (t) => {
    if (skip) return t.skip('no rsyslog');
    const writing = record(2000, 'b');
    await until('some of the new events reached rsyslog', async () => (await rsyslog.lines()).length > 400, 30_000);
    await rsyslog.kill('SIGKILL');
    await writing;
    const top = await record(300, 'b2'); // recording never waits for the dead receiver
    await until('the syslog sink lags while its receiver is down', async () =>
      (await app.server.posture.streamer!.lag()).some(
        (l) => l.sink === 'syslog' && l.lagEvents > 0 && l.lastError !== null,
      ),
    );
    rsyslog = await startRsyslog({ dir, port: syslogPort, caFile: ca.caFile, ...syslogCert() });
    await until('rsyslog caught up', async () => new Set(seqsOf(await rsyslog.lines())).size >= top, 60_000);
    const seqs = seqsOf(await rsyslog.lines());
    const dups = assertNoGap(seqs, top, 'syslog');
    assert.ok(dups <= 500 * 9, `duplicates bounded by the unconfirmed window (${dups})`);
    t.diagnostic(`syslog duplicates after kill -9: ${dups}`);
  });

  test('webhook down: it lags (posture control, metric), nothing blocks; back up: it catches up with no gap', async (t) => {
    if (skip) return t.skip('no rsyslog');
    webhook.mode = 'down';
    const started = Date.now();
    const top = await record(500, 'c');
    assert.ok(Date.now() - started < 20_000, 'recording did not wait for the sink');
    await until('the webhook sink reports an error', async () =>
      (await app.server.posture.streamer!.lag()).some((l) => l.sink === 'webhook' && l.lastError === 'HTTP 503'),
    );
    const report = await app.server.posture.posture.run('', new Date(Date.now() + 2 * 3600_000));
    const control = report.controls.find((c) => c.id === 'audit.streaming')!;
    assert.equal(control.status, 'fail', control.summary);
    assert.equal(control.evidence['webhook.lastError'], 'HTTP 503');
    assert.ok(Number(control.evidence['webhook.lagEvents']) > 0);
    const scraped = await new Promise<string>((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${app.server.metricsPort}/metrics`, (res) => {
          let b = '';
          res.on('data', (c: Buffer) => (b += c.toString()));
          res.on('end', () => resolve(b));
        })
        .on('error', reject);
    });
    const lagMetric = /strongroom_audit_sink_lag_events\{sink="webhook"\} (\d+)/.exec(scraped);
    assert.ok(lagMetric && Number(lagMetric[1]) > 0, 'the lag is a metric');
    webhook.mode = 'up';
    await until('webhook caught up', () => new Set(webhook.seqs).size >= top, 60_000);
    assertNoGap(webhook.seqs, top, 'webhook');
    const after = await app.server.posture.posture.run();
    assert.notEqual(after.controls.find((c) => c.id === 'audit.streaming')!.status, 'fail');
  });

  test('a syslog receiver whose certificate another CA signed is refused (no event leaves)', async (t) => {
    if (skip) return t.skip('no rsyslog');
    const other = createTestCa();
    const otherDir = await mkdtemp(path.join(os.tmpdir(), 'sr-siem-other-'));
    const port = await freePort();
    const impostor = await startRsyslog({ dir: otherDir, port, caFile: other.caFile, ...other.issue('syslog') });
    const { syslogSink } = await import('../src/modules/audit/index.ts');
    const { createEgressGuardFromConfig } = await import('../src/adapters/net/egress-guard.ts');
    const sink = syslogSink({
      url: new URL(`tls://localhost:${port}`),
      ca: ca.caPem,
      guard: createEgressGuardFromConfig(app.config),
    });
    const [event] = await app.server.audit.tail(1);
    await assert.rejects(sink.deliver([event!]), (err: NodeJS.ErrnoException) =>
      /UNABLE_TO_VERIFY|SELF_SIGNED|CERT/.test(String(err.code)),
    );
    await sink.close();
    assert.deepEqual(await impostor.lines(), []);
    await impostor.kill('SIGTERM');
    other.remove();
    await rm(otherDir, { recursive: true, force: true });
  });
});

describe('audit streaming across a server kill -9', () => {
  test('the delivered position survives: no gap after the restart', async () => {
    const ca = createTestCa();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-siem-restart-'));
    const webhook = await startWebhook(ca);
    const env = {
      STRONGROOM_HOME: path.join(dir, 'data'),
      STRONGROOM_HTTPS_PORT: String(await freePort()),
      STRONGROOM_HTTP_PORT: 'off',
      STRONGROOM_METRICS_PORT: 'off',
      STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32',
      STRONGROOM_AUDIT_WEBHOOK_URL: `https://localhost:${webhook.port}/siem`,
      STRONGROOM_AUDIT_WEBHOOK_SECRET: SECRET,
      STRONGROOM_AUDIT_WEBHOOK_CA_FILE: ca.caFile,
    };
    const base = `https://localhost:${env.STRONGROOM_HTTPS_PORT}`;
    const burst = async (n: number) => {
      const cert = await readFile(path.join(env.STRONGROOM_HOME, 'tls', 'cert.pem'), 'utf8');
      for (let i = 0; i < n; i++) await request(`${base}/api/v1/keys/status`, { ca: cert }); // each one a denied event
    };
    let serve = await startServe(env);
    try {
      await burst(150);
      await until('some events delivered', () => webhook.seqs.length > 20);
      serve.child.kill('SIGKILL');
      await serve.exited;
      serve = await startServe(env);
      await burst(50);
      const cert = await readFile(path.join(env.STRONGROOM_HOME, 'tls', 'cert.pem'), 'utf8');
      const token = await readOperatorToken(env.STRONGROOM_HOME);
      const verify = await request(`${base}/api/v1/audit/verify`, {
        ca: cert,
        headers: { authorization: `Bearer ${token}` },
      });
      const head = verify.json<{ headSeq: number }>().headSeq;
      await until('the webhook has everything up to the head', () => new Set(webhook.seqs).size >= head, 60_000);
      assertNoGap(webhook.seqs, head, 'webhook across kill -9');
      assert.equal(webhook.badSignatures, 0);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
      await webhook.close();
      ca.remove();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
