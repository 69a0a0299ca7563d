/**
 * SIEM sinks for audit streaming.
 *
 * - `syslogSink`: RFC 5424 messages, octet-counted (RFC 6587) over TLS (RFC 5425), the server
 *   certificate verified against the configured CA and the URL's host name. Facility 13 (log
 *   audit); severity 6, or 4 for denied/failed outcomes; MSGID = the action; MSG = the event's
 *   export line (the same JSON the audit export and `audit verify` use, hash included).
 *   Syslog has no acknowledgement: bytes the kernel accepted can still die with the receiver.
 *   So batches written on a connection stay "unconfirmed" until the connection has outlived them
 *   by `confirmMs`; when a connection breaks, the next one first sends every unconfirmed batch
 *   again (at least once). At most `maxUnconfirmed` batches are held: the sink waits rather than
 *   grow.
 * - `webhookSink`: HTTPS POST of JSON lines; `x-strongroom-timestamp` (Unix seconds) and
 *   `x-strongroom-signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`; any 2xx
 *   acknowledges the batch. The remote body is never read into anything we keep or show.
 *
 * Both dial through the egress guard (checked addresses only; loopback needs the allowlist).
 */
import { createHmac } from 'node:crypto';
import https from 'node:https';
import { isIP } from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import type { EgressGuard } from '../../adapters/net/egress-guard.ts';
import { eventLineBytes, type AuditEvent } from '../../core/audit/event.ts';
import { SinkError, type AuditSink } from './audit.stream.ts';

const APP = 'strongroom';
const printable = (s: string, max: number) => s.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-';
const HOST = printable(os.hostname(), 255);

/** One RFC 5424 message for an event (without framing). */
export function syslogMessage(e: AuditEvent): Buffer {
  const severity = e.outcome === 'success' ? 6 : 4;
  const header = `<${13 * 8 + severity}>1 ${e.time} ${HOST} ${APP} ${process.pid} ${printable(e.action, 32)} - `;
  return Buffer.concat([Buffer.from(header, 'ascii'), eventLineBytes(e)]);
}

/** Octet-counted frame: `<length> <message>`. */
export function syslogFrame(e: AuditEvent): Buffer {
  const msg = syslogMessage(e);
  return Buffer.concat([Buffer.from(`${msg.length} `, 'ascii'), msg]);
}

export interface SyslogSinkOptions {
  url: URL; // tls://host:port
  ca?: string | undefined;
  guard: EgressGuard;
  confirmMs?: number;
  maxUnconfirmed?: number;
}

export function syslogSink(o: SyslogSinkOptions): AuditSink {
  const hostname = o.url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(o.url.port || 6514);
  const confirmMs = o.confirmMs ?? 1000;
  const maxUnconfirmed = o.maxUnconfirmed ?? 8;
  let socket: tls.TLSSocket | undefined;
  let broken = true;
  let unconfirmed: { frames: Buffer; sentAt: number }[] = [];

  async function connect(): Promise<tls.TLSSocket> {
    const [addr] = await o.guard.resolveHost(hostname);
    if (!addr) throw new SinkError('the syslog host has no address');
    return new Promise((resolve, reject) => {
      const s = tls.connect({
        host: addr.address,
        port,
        ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
        ca: o.ca,
        minVersion: 'TLSv1.2',
        rejectUnauthorized: true,
        checkServerIdentity: (_h, cert) => tls.checkServerIdentity(hostname, cert),
        timeout: o.guard.connectTimeoutMs,
      });
      s.once('secureConnect', () => {
        s.setTimeout(0);
        s.on('error', () => (broken = true));
        s.on('close', () => (broken = true));
        s.resume(); // a receiver sends nothing; discard whatever arrives
        resolve(s);
      });
      s.once('timeout', () => s.destroy(new SinkError('syslog connect timed out')));
      s.once('error', reject);
    });
  }

  const write = (s: tls.TLSSocket, buf: Buffer) =>
    new Promise<void>((resolve, reject) => s.write(buf, (err) => (err ? reject(err) : resolve())));

  return {
    name: 'syslog',
    async deliver(events) {
      const now = () => Date.now();
      if (!broken) unconfirmed = unconfirmed.filter((b) => now() - b.sentAt < confirmMs);
      while (!broken && unconfirmed.length >= maxUnconfirmed) {
        await new Promise((r) => setTimeout(r, Math.max(10, confirmMs - (now() - unconfirmed[0]!.sentAt))));
        if (!broken) unconfirmed = unconfirmed.filter((b) => now() - b.sentAt < confirmMs);
      }
      if (broken || !socket) {
        socket?.destroy();
        socket = await connect();
        broken = false;
        // The previous connection may have died holding these: send them again first.
        for (const b of unconfirmed) await write(socket, b.frames);
        unconfirmed = unconfirmed.map((b) => ({ ...b, sentAt: now() }));
      }
      const frames = Buffer.concat(events.map(syslogFrame));
      try {
        await write(socket, frames);
      } catch (err) {
        broken = true;
        throw err;
      }
      if (broken) throw new SinkError('the syslog connection closed');
      unconfirmed.push({ frames, sentAt: now() });
    },
    async close() {
      socket?.end();
      socket?.destroy();
      socket = undefined;
      broken = true;
    },
  };
}

export interface WebhookSinkOptions {
  url: URL;
  secret: string;
  ca?: string | undefined;
  guard: EgressGuard;
  now?: () => Date;
}

/** The signature header value for a body sent at `timestamp` (Unix seconds). */
export function webhookSignature(secret: string, timestamp: string, body: Buffer): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

export function webhookSink(o: WebhookSinkOptions): AuditSink {
  const agent = o.guard.httpsAgent({ keepAlive: true, ...(o.ca ? { ca: o.ca } : {}) });
  return {
    name: 'webhook',
    deliver(events) {
      // eventLineBytes reuses one buffer: copy each line out before the next is made.
      const body = Buffer.concat(events.flatMap((e) => [Buffer.from(eventLineBytes(e)), Buffer.from('\n')]));
      const timestamp = String(Math.floor((o.now?.() ?? new Date()).getTime() / 1000));
      return new Promise<void>((resolve, reject) => {
        const req = https.request(
          o.url,
          {
            method: 'POST',
            agent,
            timeout: o.guard.readTimeoutMs,
            headers: {
              'content-type': 'application/x-ndjson',
              'content-length': body.length,
              'x-strongroom-timestamp': timestamp,
              'x-strongroom-signature': webhookSignature(o.secret, timestamp, body),
              'x-strongroom-first-seq': String(events[0]?.seq ?? 0),
            },
          },
          (res) => {
            res.resume();
            const status = res.statusCode ?? 0;
            res.on('end', () => (status >= 200 && status < 300 ? resolve() : reject(new SinkError(`HTTP ${status}`))));
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new SinkError('the webhook did not answer in time')));
        req.on('error', reject);
        req.end(body);
      });
    },
    async close() {
      agent.destroy();
    },
  };
}
