/**
 * Probes of a live TLS listener, by connecting to it: which protocol versions and TLS 1.2 suites it
 * accepts, whether it presents the installation's own certificate, its HSTS header, and whether
 * its plain-HTTP side only redirects. Only ever pointed at Strongroom's own listeners (the posture
 * controls; tests point them at servers of their own).
 *
 * Certificates are always verified. The probe trusts exactly the installation's certificate file
 * (`ca` = the certificates in that file, the leaf accepted as a trust anchor), checks the name the
 * clients use (`servername`), and additionally pins the leaf: a handshake verifies only when the
 * listener presents the very certificate of the file, unexpired. Facts about the certificate
 * (expiry, subject, key) are read from the file (`cert-file.ts`), not from the wire.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';

export interface TlsTarget {
  host: string;
  port: number;
  servername: string;
}

/** What a probe trusts: the installation's certificate file (PEM, leaf first) and its leaf's SHA-256 fingerprint. */
export interface ProbeTrust {
  pem: string;
  fingerprint256: string;
}

export interface Handshake {
  /** Negotiated and verified against the installation's certificate. */
  ok: boolean;
  protocol?: string;
  cipher?: string;
  /** The server negotiated, but its certificate failed verification: the verification code. */
  verifyError?: string;
  /** SHA-256 fingerprint of the leaf the listener presented, when it presented one. */
  presented?: string;
  /** The local TLS library cannot even offer this (it is not a finding about the server). */
  untestable?: boolean;
  error?: string;
}

const TIMEOUT_MS = 3000;

/** Our own code for a chain that verifies but whose leaf is not the file's (same CA, other leaf). */
export const LEAF_MISMATCH = 'LEAF_NOT_INSTALLATION_CERTIFICATE';

/**
 * Verification codes Node reports once a handshake completed and the certificate was refused
 * (OpenSSL's X509_V_ERR_* names, and Node's host-name check).
 */
const VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  LEAF_MISMATCH,
]);

/** True when `code` means "the handshake completed, the certificate was refused". */
export function isVerifyError(code: string | undefined): boolean {
  return code !== undefined && VERIFY_CODES.has(code);
}

/** What a verification code says about the listener's certificate. */
export type CertificateVerdict = 'verified' | 'expired' | 'not-yet-valid' | 'name-mismatch' | 'mismatch';

export function certificateVerdict(code: string | undefined): CertificateVerdict {
  if (code === undefined) return 'verified';
  if (code === 'CERT_HAS_EXPIRED') return 'expired';
  if (code === 'CERT_NOT_YET_VALID') return 'not-yet-valid';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') return 'name-mismatch';
  // Any other refusal: the chain does not lead to the installation's certificate.
  return 'mismatch';
}

/** TLS options that verify the listener against the installation's certificate and name. */
function verifying(target: TlsTarget, trust: ProbeTrust): tls.ConnectionOptions {
  return {
    host: target.host,
    port: target.port,
    servername: target.servername,
    ca: trust.pem,
    // The file's leaf (or an intermediate in it) is the trust anchor: the chain need not reach a root.
    allowPartialTrustChain: true,
    rejectUnauthorized: true,
    checkServerIdentity(host, cert) {
      const err = tls.checkServerIdentity(host, cert);
      if (err) return err;
      if (cert.fingerprint256 !== trust.fingerprint256)
        return Object.assign(new Error('the listener presents a certificate other than the installation’s'), {
          code: LEAF_MISMATCH,
        });
      return undefined;
    },
  };
}

/** One verified handshake with the given limits; resolves, never rejects. */
export function handshake(
  target: TlsTarget,
  trust: ProbeTrust,
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
      socket = tls.connect({ ...verifying(target, trust), ...opts });
    } catch (err) {
      // The local TLS library refuses the options themselves (a suite it does not have).
      resolve({ ok: false, untestable: true, error: (err as NodeJS.ErrnoException).code ?? 'unsupported' });
      return;
    }
    // Once the handshake is done (verified or not), what the server negotiated and presented.
    const negotiated = () => {
      const cipher = socket.getCipher() as tls.CipherNameAndProtocol | undefined;
      const presented = socket.getPeerCertificate()?.fingerprint256;
      return {
        ...(socket.getProtocol() ? { protocol: socket.getProtocol() ?? undefined } : {}),
        ...(cipher ? { cipher: cipher.standardName ?? cipher.name } : {}),
        ...(presented ? { presented } : {}),
      };
    };
    socket.setTimeout(TIMEOUT_MS, () => done({ ok: false, error: 'timed out' }));
    socket.once('secureConnect', () => done({ ok: true, ...negotiated() }));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'handshake failed';
      if (isVerifyError(code)) {
        done({ ok: false, verifyError: code, error: code, ...negotiated() });
        return;
      }
      const untestable = [
        'ERR_SSL_NO_PROTOCOLS_AVAILABLE',
        'ERR_SSL_NO_CIPHERS_AVAILABLE',
        'ERR_SSL_NO_CIPHER_MATCH',
      ].includes(code);
      done({ ok: false, ...(untestable ? { untestable } : {}), error: code });
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
  /** Verification codes met while scanning (the listener's certificate is not the installation's). */
  certificateErrors: string[];
}

/**
 * Which versions (TLS 1.0–1.3) and which TLS 1.2 suites the listener accepts. A handshake the
 * server completed but whose certificate did not verify still counts as accepted — the server
 * negotiated that version or suite; the connection itself is dropped without sending anything.
 */
export async function scanProtocols(target: TlsTarget, trust: ProbeTrust): Promise<ProtocolScan> {
  const scan: ProtocolScan = { accepted: [], refused: [], untestable: [], tls12Suites: [], certificateErrors: [] };
  const negotiated = (h: Handshake) => {
    if (h.verifyError && !scan.certificateErrors.includes(h.verifyError)) scan.certificateErrors.push(h.verifyError);
    return h.ok || h.verifyError !== undefined;
  };
  const versions: tls.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
  for (const v of versions) {
    const legacy = v === 'TLSv1' || v === 'TLSv1.1';
    const h = await handshake(target, trust, {
      minVersion: v,
      maxVersion: v,
      ...(legacy ? { ciphers: 'DEFAULT:@SECLEVEL=0' } : {}),
    });
    (negotiated(h) ? scan.accepted : h.untestable ? scan.untestable : scan.refused).push(v);
  }
  for (const suite of TLS12_PROBE_SUITES) {
    const h = await handshake(target, trust, {
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
      ciphers: `${suite}:@SECLEVEL=0`,
    });
    if (negotiated(h)) scan.tls12Suites.push(suite);
  }
  return scan;
}

export type HttpsAnswer =
  | { status: number; hsts: string | undefined; verifyError?: undefined }
  | { status?: undefined; hsts?: undefined; verifyError: string };

/**
 * GET `path` over verified HTTPS. A listener whose certificate does not verify is not asked
 * anything: the answer carries the verification code instead.
 */
export function getOverHttps(target: TlsTarget, trust: ProbeTrust, path: string): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        ...verifying(target, trust),
        path,
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
    req.on('error', (err: NodeJS.ErrnoException) =>
      isVerifyError(err.code) ? resolve({ verifyError: err.code as string }) : reject(err),
    );
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
