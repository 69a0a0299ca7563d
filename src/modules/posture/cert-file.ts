/**
 * Facts about the installation's TLS certificate, read from its file (the one the listener is
 * configured with): expiry, subject, issuer, key, fingerprint. The file is also what the live
 * probe trusts (`tls-probe.ts`), so "the listener serves this file's certificate" is checked by
 * verification, not by comparing strings.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ProbeTrust } from './tls-probe.ts';

export interface CertificateFacts {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  selfSigned: boolean;
  fingerprint256: string;
  /** e.g. "EC P-256", "RSA 2048", "Ed25519". */
  key: string;
  /** Strong enough for a server key: RSA ≥ 2048 bits, EC on P-256/P-384/P-521, Ed25519/Ed448. */
  keyStrong: boolean;
  /** Certificates in the file (leaf first, then any chain). */
  chainLength: number;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** The CN of an X.509 name as Node prints it ("C=…\nCN=…"), or the whole name without one. */
function commonName(name: string): string {
  const cn = name.split('\n').find((l) => l.startsWith('CN='));
  return cn ? cn.slice(3) : name.replace(/\n/g, ', ');
}

function describeKey(cert: X509Certificate): { key: string; keyStrong: boolean } {
  const k = cert.publicKey;
  const d = k.asymmetricKeyDetails ?? {};
  switch (k.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return { key: `RSA ${d.modulusLength ?? '?'}`, keyStrong: (d.modulusLength ?? 0) >= 2048 };
    case 'ec': {
      const curve = CURVES[d.namedCurve ?? ''];
      return { key: `EC ${curve ?? d.namedCurve ?? '?'}`, keyStrong: curve !== undefined };
    }
    case 'ed25519':
      return { key: 'Ed25519', keyStrong: true };
    case 'ed448':
      return { key: 'Ed448', keyStrong: true };
    default:
      return { key: k.asymmetricKeyType ?? 'unknown', keyStrong: false };
  }
}

/** Parses a PEM file of certificates (leaf first). Throws a plain message naming no content. */
export function parseCertificatePem(pem: string): { facts: CertificateFacts; trust: ProbeTrust } {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('the file holds no PEM certificate');
  let certs: X509Certificate[];
  try {
    certs = blocks.map((b) => new X509Certificate(b));
  } catch {
    throw new Error('the file holds a certificate that cannot be parsed');
  }
  const leaf = certs[0] as X509Certificate;
  const selfSigned = leaf.subject === leaf.issuer && leaf.verify(leaf.publicKey);
  return {
    facts: {
      subject: commonName(leaf.subject),
      issuer: commonName(leaf.issuer),
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
      selfSigned,
      fingerprint256: leaf.fingerprint256,
      ...describeKey(leaf),
      chainLength: certs.length,
    },
    trust: { pem: blocks.join('\n') + '\n', fingerprint256: leaf.fingerprint256 },
  };
}

/** Reads and parses the certificate file. */
export async function readCertificateFile(file: string): Promise<{ facts: CertificateFacts; trust: ProbeTrust }> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the certificate file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseCertificatePem(pem);
}
