/**
 * One fuzz request on its own TLS connection to 127.0.0.1 (never longer than the timeout), and
 * the checks every answer must pass: no 5xx, no hang, problem+json on every error, no internals.
 */
import https from 'node:https';
import tls from 'node:tls';

export interface FuzzRequest {
  method: string;
  /** Already encoded: path and query string as they go on the request line. */
  path: string;
  /** An array sends the header once per value (duplicated headers). */
  headers: Record<string, string | string[]>;
  body: string | Buffer;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  failure?: string;
}

export function makeSender(port: number, ca: string, timeoutMs: number) {
  const secureContext = tls.createSecureContext({ ca });
  return (r: FuzzRequest): Promise<Answer> =>
    new Promise((resolve) => {
      const done = (a: Answer) => {
        clearTimeout(timer);
        resolve(a);
      };
      const hasLength = Object.keys(r.headers).some((h) => h.toLowerCase() === 'content-length');
      const options: https.RequestOptions & Pick<tls.ConnectionOptions, 'secureContext'> = {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        secureContext,
        agent: false,
        method: r.method,
        path: r.path,
        headers: { ...(hasLength ? {} : { 'content-length': String(Buffer.byteLength(r.body)) }), ...r.headers },
      };
      let req: ReturnType<typeof https.request>;
      try {
        req = https.request(options, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (err) =>
            done({ status: 0, headers: {}, body: '', failure: `response broken: ${err.message}` }),
          );
        });
      } catch (err) {
        // The Node client itself refuses some requests (e.g. a path with control characters): not the server's doing.
        resolve({ status: -1, headers: {}, body: '', failure: `client refused: ${(err as Error).message}` });
        return;
      }
      const timer = setTimeout(() => {
        req.destroy();
        done({ status: 0, headers: {}, body: '', failure: `no answer within ${timeoutMs} ms (hang)` });
      }, timeoutMs);
      req.on('error', (err) => done({ status: 0, headers: {}, body: '', failure: `no answer: ${err.message}` }));
      req.end(r.body);
    });
}

const INTERNALS = /node_modules|\/work\/|\/tmp\/|\n\s+at |\bat [^\s]+ \(|\.ts:\d+|\.js:\d+:\d+/;

/** Problems with one answer (empty: fine). `home` is the server's data directory. */
export function checkAnswer(a: Answer, home: string, r: FuzzRequest): string[] {
  const method = r.method;
  if (a.status === -1) return [];
  if (a.failure) {
    // The server may close a connection it refused (bad framing) before the client finished sending.
    if (/ECONNRESET|EPIPE|socket hang up/.test(a.failure)) return [];
    // A content length shorter than the body makes the rest a second request on the same connection,
    // and its answer (400) follows the first one: the client's parser, expecting one answer, refuses it.
    const short =
      r.headers['content-length'] !== undefined && Number(r.headers['content-length']) < Buffer.byteLength(r.body);
    if (short && /Parse Error/.test(a.failure)) return [];
    return [a.failure];
  }
  const out: string[] = [];
  if (a.status >= 500) out.push(`${a.status} (server error)`);
  if (INTERNALS.test(a.body) || a.body.includes(home)) out.push('internals (stack frame or file path) in the body');
  // A HEAD answer has the headers of the GET answer and no body.
  if (a.status < 400 || method === 'HEAD') return out;
  if (!/^application\/problem\+json/.test(String(a.headers['content-type'])))
    return [...out, `${a.status} as ${String(a.headers['content-type'])}, not problem+json: ${a.body.slice(0, 100)}`];
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(a.body) as Record<string, unknown>;
  } catch {
    return [...out, 'problem body is not JSON'];
  }
  if (p.status !== a.status) out.push(`problem status ${String(p.status)} ≠ ${a.status}`);
  if (typeof p.title !== 'string' || p.title.length === 0) out.push('problem without a title');
  if ('stack' in p) out.push('problem carries a stack');
  return out;
}
