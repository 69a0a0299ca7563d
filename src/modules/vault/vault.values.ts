/**
 * Typed secret values: one zod schema per type, and what is derived from a value that may be
 * shown (a certificate's expiry, subject and fingerprint — never key material).
 *
 * Strings in values refuse control characters except tab, CR and LF (PEM and JSON need them);
 * the JSON of a whole value is at most MAX_VALUE_BYTES. Validation messages never contain the
 * input.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import { MAX_VALUE_BYTES, VALUE_SCHEMAS, type SecretType } from '../../contracts/vault.ts';

export type SecretValue = Record<string, unknown>;

/** What may be shown about a certificate value. */
export interface CertificateInfo {
  notAfter: Date;
  notBefore: Date;
  subject: string;
  fingerprint256: string;
}

/**
 * Checks what zod cannot (size of the whole value, PEM that parses, a private key matching its
 * certificate) and returns the JSON to seal plus certificate facts. Throws VALIDATION_FAILED with
 * a message that never quotes the value.
 */
export function prepareValue(type: SecretType, value: SecretValue): { json: Buffer; certificate?: CertificateInfo } {
  const parsed = VALUE_SCHEMAS[type].safeParse(value);
  if (!parsed.success) throw invalid('the value does not match its type');
  const json = Buffer.from(JSON.stringify(parsed.data), 'utf8');
  if (json.length > MAX_VALUE_BYTES) {
    json.fill(0);
    throw invalid(`the value is larger than ${MAX_VALUE_BYTES} bytes`);
  }
  if (type !== 'certificate') return { json };
  const v = parsed.data as z.infer<(typeof VALUE_SCHEMAS)['certificate']>;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(v.certificate);
  } catch {
    throw invalid('certificate: not a PEM X.509 certificate');
  }
  if (v.privateKey !== undefined) {
    let matches = false;
    try {
      matches = cert.checkPrivateKey(createPrivateKey(v.privateKey));
    } catch {
      throw invalid('privateKey: not a PEM private key');
    }
    if (!matches) throw invalid('privateKey: does not belong to the certificate');
  }
  return {
    json,
    certificate: {
      notAfter: new Date(cert.validTo),
      notBefore: new Date(cert.validFrom),
      subject: cert.subject.replace(/\n/g, ', '),
      fingerprint256: cert.fingerprint256,
    },
  };
}

function invalid(detail: string): AppError {
  return new AppError('VALIDATION_FAILED', { detail });
}
