/**
 * A fault-injecting HTTP reverse proxy for the drive-faults suite: it sits between Strongroom and
 * a storage peer (s3rver, Azurite, the GCS peer) on 127.0.0.1 and, for the requests a fault matches (by method,
 * a number of times), adds latency, answers 500 / 503 / SlowDown itself, resets the connection in
 * the middle of the request body or of the answer, truncates the answer (a clean close before the
 * declared length) or never answers at all. Everything else is forwarded unchanged (the Host
 * header included, so request signatures still verify).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultKind =
  'latency' | 'status-500' | 'status-503' | 'slowdown' | 'reset-request' | 'reset-response' | 'truncate' | 'stall';

export interface Fault {
  kind: FaultKind;
  /** Methods the fault applies to (default: all). */
  methods?: string[];
  /** How many matching requests get it (default: all). */
  times?: number;
  latencyMs?: number;
}

export interface FaultProxy {
  url: string;
  set(fault: Fault | undefined): void;
  /** Requests seen since the last `set`, and how many got the fault. */
  seen(): { requests: number; faulted: number; methods: string[] };
  stop(): Promise<void>;
}

const errorXml = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;

/** The JSON API's error shape (GCS): `{"error":{"code":…,"message":…,"errors":[…]}}`. */
const errorJson = (status: number, reason: string, message: string) =>
  JSON.stringify({ error: { code: status, message, errors: [{ domain: 'global', reason, message }] } });

/** `json`: answer injected errors as the JSON API does (GCS) instead of as XML (S3, Azure). */
export async function startFaultProxy(upstream: string, opts: { json?: boolean } = {}): Promise<FaultProxy> {
  const target = new URL(upstream);
  let fault: Fault | undefined;
  let left = 0;
  let requests = 0;
  let faulted = 0;
  let methods: string[] = [];
  const sockets = new Set<Socket>();

  const forward = (req: http.IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const up = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      up.on('error', reject);
      up.end(body);
    });

  const server = http.createServer((req, res) => {
    requests++;
    methods.push(req.method ?? '?');
    const f = fault && left > 0 && (!fault.methods || fault.methods.includes(req.method ?? '')) ? fault : undefined;
    if (f) {
      left--;
      faulted++;
    }
    if (f?.kind === 'stall') return; // never answers; the socket is closed when the proxy stops
    if (f?.kind === 'reset-request') {
      // Some of the body arrives, then the connection is torn down.
      let got = 0;
      req.on('data', (c: Buffer) => {
        got += c.length;
        if (got > 0) req.socket.destroy();
      });
      req.on('end', () => req.socket.destroy());
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        if (f?.kind === 'status-500' || f?.kind === 'status-503' || f?.kind === 'slowdown') {
          const status = f.kind === 'status-500' ? 500 : 503;
          const code = f.kind === 'status-500' ? 'InternalError' : f.kind === 'slowdown' ? 'SlowDown' : 'ServerBusy';
          const text = opts.json
            ? errorJson(
                status,
                f.kind === 'status-500' ? 'backendError' : 'rateLimitExceeded',
                'injected by the fault proxy',
              )
            : errorXml(code, 'injected by the fault proxy');
          const type = opts.json ? 'application/json; charset=UTF-8' : 'application/xml';
          res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
          res.end(text);
          return;
        }
        if (f?.kind === 'latency') await new Promise((r) => setTimeout(r, f.latencyMs ?? 300));
        let up;
        try {
          up = await forward(req, body);
        } catch {
          req.socket.destroy();
          return;
        }
        const headers = { ...up.headers };
        if (req.method !== 'HEAD') {
          // The body is forwarded whole (or cut on purpose): its length is known.
          delete headers['transfer-encoding'];
          headers['content-length'] = String(up.body.length);
        }
        if ((f?.kind === 'reset-response' || f?.kind === 'truncate') && up.body.length > 1) {
          res.writeHead(up.status, headers);
          res.write(up.body.subarray(0, Math.floor(up.body.length / 2)));
          setTimeout(() => (f.kind === 'truncate' ? req.socket.end() : req.socket.destroy()), 20);
          return;
        }
        res.writeHead(up.status, headers);
        res.end(up.body);
      })();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${target.pathname === '/' ? '' : target.pathname}`,
    set(f) {
      fault = f;
      left = f?.times ?? Number.POSITIVE_INFINITY;
      requests = 0;
      faulted = 0;
      methods = [];
      // Idle kept-alive connections would carry requests past a fault change; drop them.
      for (const s of sockets) s.destroy();
    },
    seen: () => ({ requests, faulted, methods: [...methods] }),
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
