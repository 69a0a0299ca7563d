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
import { SECRET_TYPES, type SecretType } from '../../db/tables/vault.ts';
import { MAX_VALUE_BYTES } from './vault.paths.ts';

const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters');
const pem = (max: number) => text(max).refine((s) => s.includes('-----BEGIN '), 'must be PEM text');
const name = (max: number) =>
  z.string().regex(new RegExp(`^[A-Za-z0-9._-]{1,${max}}$`), `1–${max} characters of A–Z a–z 0–9 . _ -`);

const s3 = z.strictObject({
  provider: z.literal('s3'),
  accessKeyId: z.string().regex(/^[A-Za-z0-9+/=_-]{3,128}$/, 'an access key id'),
  secretAccessKey: text(256),
  sessionToken: text(4096).optional(),
});
const azure = z.discriminatedUnion('kind', [
  z.strictObject({
    provider: z.literal('azure'),
    kind: z.literal('account-key'),
    accountName: z.string().regex(/^[a-z0-9]{3,24}$/, 'an Azure storage account name'),
    accountKey: text(256),
  }),
  z.strictObject({ provider: z.literal('azure'), kind: z.literal('connection-string'), connectionString: text(4096) }),
  z.strictObject({
    provider: z.literal('azure'),
    kind: z.literal('sas'),
    accountName: z.string().regex(/^[a-z0-9]{3,24}$/, 'an Azure storage account name'),
    sasToken: text(4096),
  }),
]);
const gcs = z.discriminatedUnion('kind', [
  z.strictObject({
    provider: z.literal('gcs'),
    kind: z.literal('service-account'),
    serviceAccount: z.looseObject({
      type: z.literal('service_account'),
      client_email: z.string().min(3).max(320),
      private_key: pem(16384),
      project_id: z.string().max(128).optional(),
      private_key_id: z.string().max(128).optional(),
    }),
  }),
  z.strictObject({
    provider: z.literal('gcs'),
    kind: z.literal('hmac'),
    accessId: z.string().regex(/^[A-Za-z0-9]{10,128}$/, 'an HMAC access id'),
    secret: text(256),
  }),
]);

/** The value schema of each type. */
export const VALUE_SCHEMAS = {
  password: z.strictObject({ password: text(4096), username: text(256).optional() }),
  'api-key': z.strictObject({ key: text(8192), keyId: text(256).optional() }),
  'cloud-credential': z.union([s3, azure, gcs]),
  certificate: z.strictObject({
    certificate: pem(32768),
    privateKey: pem(32768).optional(),
    chain: pem(32768).optional(),
  }),
  generic: z.strictObject({
    data: z
      .record(name(128), text(16384))
      .refine((d) => Object.keys(d).length >= 1 && Object.keys(d).length <= 64, '1–64 entries'),
  }),
} as const satisfies Record<SecretType, z.ZodType>;

export type SecretValue = Record<string, unknown>;

/** What may be shown about a certificate value. */
export interface CertificateInfo {
  notAfter: Date;
  notBefore: Date;
  subject: string;
  fingerprint256: string;
}

/** `{ type, value }` for each type, as one discriminated union (for request bodies). */
export function typedValueVariants<E extends z.ZodRawShape>(extra: E) {
  const v = <T extends SecretType>(type: T) =>
    z.strictObject({ type: z.literal(type), value: VALUE_SCHEMAS[type], ...extra });
  return z.discriminatedUnion('type', [
    v('password'),
    v('api-key'),
    v('cloud-credential'),
    v('certificate'),
    v('generic'),
  ]);
}

export { SECRET_TYPES, type SecretType };

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
