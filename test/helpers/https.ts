/** A small HTTPS client for tests: trusts the given CA, returns status, headers and body text. */
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The body's bytes (binary downloads). */
  raw: Buffer;
  json<T = Record<string, unknown>>(): T;
  protocol: string | null;
}

export interface TestRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  ca: string;
  agent?: https.Agent;
}

export function request(url: string, opts: TestRequest): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: opts.method ?? 'GET',
        headers: opts.headers,
        ca: opts.ca,
        agent: opts.agent ?? false,
        servername: 'localhost',
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const body = raw.toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            raw,
            json: () => JSON.parse(body),
            protocol: (res.socket as TLSSocket).getProtocol?.() ?? null,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}
