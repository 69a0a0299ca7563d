/**
 * The vault's request and answer schemas (C6): secret paths and size limits (docs/security.md §14),
 * typed values, metadata, and the shapes of every answer. Zod only: the console bundles it.
 *
 * A path is 1–10 segments joined by `/`; a segment is 1–64 characters of `[A-Za-z0-9._-]`, never
 * `.` or `..`; at most 200 characters in all. Validation messages never contain the input.
 */
import { z } from 'zod';
import { CONTROL, tag, versionNo, workspaceId } from './common.ts';

export const SECRET_TYPES = ['password', 'api-key', 'cloud-credential', 'certificate', 'generic'] as const;
export type SecretType = (typeof SECRET_TYPES)[number];

export const MAX_PATH_LENGTH = 200;
export const MAX_PATH_DEPTH = 10;
export const MAX_SEGMENT_LENGTH = 64;
/** Largest sealed value: the JSON of a typed value, in bytes. */
export const MAX_VALUE_BYTES = 64 * 1024;
export const MAX_VERSIONS_LIMIT = 1000;
export const DEFAULT_MAX_VERSIONS = 10;
export const MAX_TAGS = 32;
export const MAX_CUSTOM_FIELDS = 32;

const SEGMENT = /^[A-Za-z0-9._-]{1,64}$/;

/** Why `path` is not a valid secret path, or undefined when it is. */
export function pathProblem(path: string): string | undefined {
  if (typeof path !== 'string' || path.length === 0) return 'a secret path is required';
  if (path.length > MAX_PATH_LENGTH) return `at most ${MAX_PATH_LENGTH} characters`;
  const segments = path.split('/');
  if (segments.length > MAX_PATH_DEPTH) return `at most ${MAX_PATH_DEPTH} segments`;
  for (const s of segments) {
    if (s.length === 0) return 'no empty segments (no leading, trailing or double slash)';
    if (s === '.' || s === '..') return 'no "." or ".." segments';
    if (!SEGMENT.test(s)) return `segments are 1–${MAX_SEGMENT_LENGTH} characters of A–Z a–z 0–9 . _ -`;
  }
  return undefined;
}

/** Zod schema of a secret path (the problem is the message; the input is never echoed). */
export const secretPathSchema = z.string().superRefine((p, ctx) => {
  const problem = pathProblem(p);
  if (problem) ctx.addIssue({ code: 'custom', message: `not a valid secret path: ${problem}` });
});

/** A listing prefix: empty, or path segments optionally ending in `/`. */
export const secretPrefixSchema = z
  .string()
  .max(MAX_PATH_LENGTH)
  .superRefine((p, ctx) => {
    if (p === '') return;
    const problem = pathProblem(p.endsWith('/') ? p.slice(0, -1) : p);
    if (problem) ctx.addIssue({ code: 'custom', message: `not a valid prefix: ${problem}` });
  });

/** Control characters but tab, CR and LF (PEM and JSON need them). */
const VALUE_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !VALUE_CONTROL.test(s), 'must not contain control characters');
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

const plain = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters');
export const fieldName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'field names are 1–64 characters of A–Z a–z 0–9 . _ -');
export const DURATION = /^([1-9][0-9]{0,4})([mhd])$/;
export const UNIT = { m: 60, h: 3600, d: 86_400 } as const;

export const metadataInputSchema = z.strictObject({
  description: plain(1024).optional(),
  tags: z.array(tag).max(MAX_TAGS).optional(),
  owner: plain(256).min(1).nullable().optional(),
  custom: z
    .record(fieldName, plain(1024))
    .refine((c) => Object.keys(c).length <= MAX_CUSTOM_FIELDS, `at most ${MAX_CUSTOM_FIELDS} custom fields`)
    .optional(),
  maxVersions: z.number().int().min(1).max(MAX_VERSIONS_LIMIT).optional(),
  casRequired: z.boolean().optional(),
  expiresAt: z.iso.datetime({ offset: true }).nullable().optional(),
  rotateEvery: z.string().regex(DURATION, 'a duration like 90d, 12h or 30m').nullable().optional(),
});
export type MetadataInput = z.infer<typeof metadataInputSchema>;

export const pathParams = z.object({ ws: workspaceId, '*': secretPathSchema });
/** A version number in a body. */
export const versionNumber = z
  .number()
  .int()
  .min(1)
  .max(2 ** 31 - 1);
export const versionQuery = z.strictObject({ version: versionNo.optional() });
export const versionList = z.array(versionNumber).min(1).max(100);
export const cas = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1);

export const certOut = z.object({ notAfter: z.string(), subject: z.string(), fingerprint256: z.string() });
export const versionOut = z.object({
  version: z.number(),
  state: z.enum(['live', 'deleted', 'destroyed']),
  createdAt: z.string(),
  createdBy: z.string(),
  deletedAt: z.string().nullable(),
  deletedBy: z.string().nullable(),
  destroyedAt: z.string().nullable(),
  destroyedBy: z.string().nullable(),
  certificate: certOut.optional(),
});
export const summaryOut = z.object({
  path: z.string(),
  type: z.enum(SECRET_TYPES),
  description: z.string(),
  tags: z.array(z.string()),
  owner: z.string().nullable(),
  currentVersion: z.number(),
  expiresAt: z.string().nullable(),
  rotateEvery: z.string().nullable(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
export const metadataOut = summaryOut.extend({
  custom: z.record(z.string(), z.string()),
  maxVersions: z.number(),
  casRequired: z.boolean(),
  createdAt: z.string(),
  createdBy: z.string(),
  versions: z.array(versionOut),
});
export const writeOut = z.object({
  path: z.string(),
  version: z.number(),
  created: z.boolean(),
  pruned: z.array(z.number()),
});
export const changedOut = z.object({ path: z.string(), versions: z.array(z.number()) });
export const revealOut = z.object({
  path: z.string(),
  version: z.number(),
  type: z.enum(SECRET_TYPES),
  value: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
});
export const dueOut = z.object({
  secrets: z.array(
    z.object({
      path: z.string(),
      type: z.string(),
      owner: z.string().nullable(),
      tags: z.array(z.string()),
      currentVersion: z.number(),
      reasons: z.array(z.string()),
      expiresAt: z.string().nullable(),
      rotationDueAt: z.string().nullable(),
      certificateNotAfter: z.string().nullable(),
    }),
  ),
});

export const secretListQuery = z.strictObject({
  prefix: secretPrefixSchema.default(''),
  after: secretPathSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export const secretListAnswer = z.object({ secrets: z.array(summaryOut), next: z.string().nullable() });
export const metadataUpdateAnswer = z.object({ path: z.string(), pruned: z.array(z.number()) });
export const destroyAllAnswer = z.object({ path: z.string(), destroyed: z.literal(true), versions: z.number() });
export const rollbackBody = z.strictObject({ version: versionNumber, cas: cas.optional() });
export const secretsDueQuery = z.strictObject({ withinDays: z.coerce.number().int().min(0).max(3650).default(0) });
