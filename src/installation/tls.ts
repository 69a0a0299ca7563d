/**
 * TLS for the public listener: TLS 1.2 and 1.3 only, TLS 1.2 limited to Mozilla's "intermediate"
 * ECDHE + AEAD suites (TLS 1.3 suites are all AEAD). Without a user-supplied certificate, a
 * self-signed ECDSA P-256 certificate for `localhost`/`127.0.0.1` is generated on first start
 * and kept (key 0600) in the data directory.
 */
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import 'reflect-metadata'; // required by @peculiar/x509's DI container
import * as x509 from '@peculiar/x509';

/** Mozilla "intermediate" TLS 1.2 suites, ECDHE only (no finite-field DHE). */
/** Strict-Transport-Security sent on every HTTPS answer (two years, subdomains), and checked by `doctor`. */
export const HSTS_VALUE = 'max-age=63072000; includeSubDomains';

export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const TLS13_CIPHERSUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** True when Strongroom generated and owns this certificate. */
  selfSigned: boolean;
}

export interface TlsMaterial {
  cert: string;
  key: string;
  notAfter: Date;
  subject: string;
  fingerprint256: string;
}

export function selfSignedPaths(home: string): TlsFiles {
  return { certFile: path.join(home, 'tls', 'cert.pem'), keyFile: path.join(home, 'tls', 'key.pem'), selfSigned: true };
}

/** Read a certificate and key and check that they belong together. Throws a plain message. */
export async function loadTlsMaterial(files: Pick<TlsFiles, 'certFile' | 'keyFile'>): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch {
    throw new Error(`${files.certFile} is not a PEM certificate`);
  }
  let ok = false;
  try {
    ok = parsed.checkPrivateKey(createPrivateKey(key));
  } catch {
    throw new Error(`${files.keyFile} is not a PEM private key`);
  }
  if (!ok) throw new Error(`${files.keyFile} does not match the certificate in ${files.certFile}`);
  return {
    cert,
    key,
    notAfter: new Date(parsed.validTo),
    subject: parsed.subject,
    fingerprint256: parsed.fingerprint256,
  };
}

export function secureContextOptions(m: Pick<TlsMaterial, 'cert' | 'key'>): SecureContextOptions {
  return {
    cert: m.cert,
    key: m.key,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: `${TLS12_CIPHERS}:${TLS13_CIPHERSUITES}`,
    ecdhCurve: 'X25519:prime256v1:secp384r1',
    honorCipherOrder: false,
  };
}

export function serverTlsOptions(m: Pick<TlsMaterial, 'cert' | 'key'>): TlsOptions {
  return { ...secureContextOptions(m), sessionTimeout: 300 };
}

const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/**
 * Make sure the generated certificate exists and is not about to expire; (re)generate it if
 * needed. Returns whether a new certificate was written.
 */
export async function ensureSelfSignedCert(home: string, now = new Date()): Promise<boolean> {
  const files = selfSignedPaths(home);
  if (existsSync(files.certFile) && existsSync(files.keyFile)) {
    const m = await loadTlsMaterial(files);
    if (m.notAfter.getTime() - now.getTime() > RENEW_BEFORE_MS) return false;
  }
  const { cert, key } = await generateSelfSigned(now);
  await mkdir(path.dirname(files.certFile), { recursive: true, mode: 0o700 });
  // Write then rename: a crash never leaves a half-written key next to a valid certificate.
  await writeFile(`${files.keyFile}.tmp`, key, { mode: 0o600 });
  await chmod(`${files.keyFile}.tmp`, 0o600);
  await writeFile(`${files.certFile}.tmp`, cert, { mode: 0o644 });
  await rename(`${files.keyFile}.tmp`, files.keyFile);
  await rename(`${files.certFile}.tmp`, files.certFile);
  return true;
}

export async function generateSelfSigned(now = new Date(), days = 365): Promise<{ cert: string; key: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const serial = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)));
  serial[0] = (serial[0] ?? 0) & 0x7f; // positive INTEGER
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: 'CN=Strongroom self-signed (localhost)',
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + days * 24 * 3600 * 1000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
      ]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const key = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem') + '\n', key };
}
