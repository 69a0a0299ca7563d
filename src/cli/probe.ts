/**
 * Probe a running Strongroom over HTTPS, verifying its certificate: for a self-signed
 * installation the data directory's own certificate is the trust anchor.
 */
import https from 'node:https';
import { rootCertificates, type TLSSocket } from 'node:tls';

export interface ProbeResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  protocol: string | null;
  cipher: string;
}

export function probeHttps(
  url: string,
  opts: { extraCa?: string; servername?: string; timeoutMs?: number } = {},
): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      {
        ca: opts.extraCa ? [...rootCertificates, opts.extraCa] : undefined,
        servername: opts.servername,
        timeout: opts.timeoutMs ?? 3000,
        agent: false,
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const protocol = socket.getProtocol();
        const cipher = socket.getCipher().name;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (body.length < 65536) body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, protocol, cipher }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}
