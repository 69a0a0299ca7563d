/**
 * The plain-HTTP listener: it serves nothing but a 308 to the same path on HTTPS. The target is
 * the configured public URL, or else the request's Host if it is one of the allowed host names
 * (configured, the bind address, localhost when bound to loopback or every address) with the
 * HTTPS port. Any other Host gets a plain 400, so the listener is never an open redirect. Bodies
 * are never read.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const HOSTNAME =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$/;
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARD_BINDS = new Set(['0.0.0.0', '::', '[::]']);

/** The host names a redirect may go to, lower-case, IPv6 in brackets. */
export function allowedRedirectHosts(bind: string, configured?: string): Set<string> {
  const out = new Set<string>();
  const add = (h: string) => {
    const t = h.trim().toLowerCase();
    if (t) out.add(t.includes(':') && !t.startsWith('[') ? `[${t}]` : t);
  };
  for (const h of (configured ?? '').split(',')) add(h);
  if (!WILDCARD_BINDS.has(bind)) add(bind);
  if (WILDCARD_BINDS.has(bind) || bind === '127.0.0.1' || bind === '::1' || bind === 'localhost')
    LOOPBACK_NAMES.forEach(add);
  return out;
}

export function redirectTarget(
  hostHeader: string | undefined,
  url: string | undefined,
  opts: { publicUrl?: string | undefined; httpsPort: number; allowedHosts: ReadonlySet<string> },
): string | undefined {
  const pathPart = url && url.startsWith('/') && !url.startsWith('//') ? url : '/';
  if (opts.publicUrl) return new URL(pathPart, opts.publicUrl).toString();
  if (!hostHeader) return undefined;
  const hostname = hostHeader.replace(/:\d+$/, '').toLowerCase();
  if (!HOSTNAME.test(hostname) || !opts.allowedHosts.has(hostname)) return undefined;
  const port = opts.httpsPort === 443 ? '' : `:${opts.httpsPort}`;
  return `https://${hostname}${port}${pathPart}`;
}

export interface RedirectServer {
  port: number;
  close(): Promise<void>;
}

export async function startRedirectServer(opts: {
  host: string;
  port: number;
  httpsPort: number;
  publicUrl?: string | undefined;
  hostnames?: string | undefined;
}): Promise<RedirectServer> {
  const allowedHosts = allowedRedirectHosts(opts.host, opts.hostnames);
  const server = http.createServer((req, res) => {
    const target = redirectTarget(req.headers.host, req.url, { ...opts, allowedHosts });
    if (!target) {
      res
        .writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' })
        .end(
          'Unknown host: use the address this server is configured for (STRONGROOM_PUBLIC_URL or STRONGROOM_HOSTNAMES).\n',
        );
      return;
    }
    res.writeHead(308, {
      location: target,
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'close',
    });
    res.end(`Use HTTPS: ${target}\n`);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
