/**
 * Probes of a live TLS listener, by connecting to it: which protocol versions and TLS 1.2 suites it
 * accepts, its certificate, its HSTS header, and whether its plain-HTTP side only redirects. Only
 * ever pointed at Strongroom's own listeners (the posture controls; tests point them at a weak
 * server of their own). Certificates are not verified here: the probe asks what the server
 * offers, and reports the certificate it presented.
 */
import http from 'node:http';
import https from 'node:https';
import tls, { type PeerCertificate } from 'node:tls';

export interface TlsTarget {
  host: string;
  port: number;
  servername: string;
}

export interface Handshake {
  ok: boolean;
  protocol?: string;
  cipher?: string;
  cert?: { subject: string; issuer: string; validTo: Date; selfSigned: boolean; fingerprint256: string };
  /** The local TLS library cannot even offer this (it is not a finding about the server). */
  untestable?: boolean;
  error?: string;
}

const TIMEOUT_MS = 3000;

/** One handshake with the given limits; resolves, never rejects. */
export function handshake(
  target: TlsTarget,
  opts: { minVersion?: tls.SecureVersion; maxVersion?: tls.SecureVersion; ciphers?: string } = {},
): Promise<Handshake> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (h: Handshake) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(h);
    };
    let socket: tls.TLSSocket;
    try {
      socket = tls.connect({
        host: target.host,
        port: target.port,
        servername: target.servername,
        // A scanner of our own listener: it must complete handshakes with expired or self-signed
        // certificates to report them. It sends nothing but a handshake and reads no secret.
        // eslint-disable-next-line no-restricted-syntax
        rejectUnauthorized: false,
        ...opts,
      });
    } catch (err) {
      // The local TLS library refuses the options themselves (a suite it does not have).
      resolve({ ok: false, untestable: true, error: (err as NodeJS.ErrnoException).code ?? 'unsupported' });
      return;
    }
    socket.setTimeout(TIMEOUT_MS, () => done({ ok: false, error: 'timed out' }));
    socket.once('secureConnect', () => {
      const peer: PeerCertificate = socket.getPeerCertificate();
      const cn = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(', ') : (v ?? ''));
      done({
        ok: true,
        protocol: socket.getProtocol() ?? undefined,
        cipher: socket.getCipher().standardName ?? socket.getCipher().name,
        ...(peer.valid_to
          ? {
              cert: {
                subject: cn(peer.subject?.CN),
                issuer: cn(peer.issuer?.CN),
                validTo: new Date(peer.valid_to),
                // Same subject and issuer name: self-issued (Strongroom's generated certificate is).
                selfSigned: JSON.stringify(peer.subject) === JSON.stringify(peer.issuer),
                fingerprint256: peer.fingerprint256,
              },
            }
          : {}),
      });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const untestable = [
        'ERR_SSL_NO_PROTOCOLS_AVAILABLE',
        'ERR_SSL_NO_CIPHERS_AVAILABLE',
        'ERR_SSL_NO_CIPHER_MATCH',
      ].includes(err.code ?? '');
      done({ ok: false, ...(untestable ? { untestable } : {}), error: err.code ?? 'handshake failed' });
    });
  });
}

/** TLS 1.2 suites asked one at a time: the intermediate AEAD ones and weaker ones a server must refuse. */
export const TLS12_PROBE_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-RSA-AES128-SHA256',
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-RSA-AES128-SHA',
  'AES128-GCM-SHA256',
  'AES128-SHA256',
  'AES128-SHA',
  'AES256-SHA',
  'DES-CBC3-SHA',
] as const;

/** A TLS 1.2 suite is acceptable when it has forward secrecy (ECDHE) and an AEAD cipher. */
export function isStrongTls12Suite(name: string): boolean {
  return name.startsWith('ECDHE-') && (name.includes('-GCM-') || name.includes('CHACHA20-POLY1305'));
}

export interface ProtocolScan {
  accepted: string[];
  refused: string[];
  untestable: string[];
  tls12Suites: string[];
}

/** Which versions (TLS 1.0–1.3) and which TLS 1.2 suites the listener accepts. */
export async function scanProtocols(target: TlsTarget): Promise<ProtocolScan> {
  const scan: ProtocolScan = { accepted: [], refused: [], untestable: [], tls12Suites: [] };
  const versions: tls.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
  for (const v of versions) {
    const legacy = v === 'TLSv1' || v === 'TLSv1.1';
    const h = await handshake(target, {
      minVersion: v,
      maxVersion: v,
      ...(legacy ? { ciphers: 'DEFAULT:@SECLEVEL=0' } : {}),
    });
    (h.ok ? scan.accepted : h.untestable ? scan.untestable : scan.refused).push(v);
  }
  for (const suite of TLS12_PROBE_SUITES) {
    const h = await handshake(target, {
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
      ciphers: `${suite}:@SECLEVEL=0`,
    });
    if (h.ok) scan.tls12Suites.push(suite);
  }
  return scan;
}

export interface HttpsAnswer {
  status: number;
  hsts: string | undefined;
}

/** GET `path` over HTTPS (certificate not verified: the listener is our own). */
export function getOverHttps(target: TlsTarget, path: string): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: target.host,
        port: target.port,
        servername: target.servername,
        path,
        // As above: reads one status and one header from our own listener, sends no credential.
        // eslint-disable-next-line no-restricted-syntax
        rejectUnauthorized: false,
        agent: false,
        timeout: TIMEOUT_MS,
        headers: { host: `${target.servername}:${target.port}` },
      },
      (res) => {
        res.resume();
        const h = res.headers['strict-transport-security'];
        resolve({ status: res.statusCode ?? 0, hsts: Array.isArray(h) ? h.join(', ') : h });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** GET / over plain HTTP: the status and the Location header. */
export function getOverHttp(
  host: string,
  port: number,
  hostHeader: string,
): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host, port, path: '/', agent: false, timeout: TIMEOUT_MS, headers: { host: hostHeader } },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, location: res.headers.location });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** `max-age` of an HSTS header in seconds, or undefined. */
export function hstsMaxAge(value: string | undefined): number | undefined {
  const m = /max-age\s*=\s*"?(\d+)"?/i.exec(value ?? '');
  return m ? Number(m[1]) : undefined;
}
