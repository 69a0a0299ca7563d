/**
 * The plain-HTTP listener: it serves nothing but a 308 to the same path on HTTPS. The target host
 * is the configured public URL, or else the request's own host name (validated; a bad Host gets
 * 400) with the HTTPS port. Bodies are never read.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$/;

export function redirectTarget(
  hostHeader: string | undefined,
  url: string | undefined,
  opts: { publicUrl?: string | undefined; httpsPort: number },
): string | undefined {
  const pathPart = url && url.startsWith('/') && !url.startsWith('//') ? url : '/';
  if (opts.publicUrl) return new URL(pathPart, opts.publicUrl).toString();
  if (!hostHeader) return undefined;
  const hostname = hostHeader.replace(/:\d+$/, '');
  if (!HOSTNAME.test(hostname)) return undefined;
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
}): Promise<RedirectServer> {
  const server = http.createServer((req, res) => {
    const target = redirectTarget(req.headers.host, req.url, opts);
    if (!target) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('Bad Host header\n');
      return;
    }
    res.writeHead(308, { location: target, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
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
