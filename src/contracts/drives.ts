/**
 * What a drive is made of, as the API accepts it: a name, a kind, the kind's non-secret settings
 * and where its credentials are (inline — then stored as a vault secret — or an existing secret).
 *
 * Every string is bounded and refuses control characters; messages never quote the input.
 */
import { z } from 'zod';
import { CONTROL, workspaceId } from './common.ts';
import { VALUE_SCHEMAS, secretPathSchema } from './vault.ts';

export const DRIVE_KINDS = ['local', 's3', 'azure', 'gcs'] as const;
export type DriveKindName = (typeof DRIVE_KINDS)[number];

const plain = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters');

export const driveNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, '1–63 characters of a–z, 0–9 and -, starting with a letter or digit');

/** An object-key prefix inside the bucket: relative, `/`-separated, no `.`/`..` segments. */
const prefix = plain(512)
  .refine(
    (s) =>
      !s.startsWith('/') &&
      s
        .split('/')
        .filter((x, i, a) => !(i === a.length - 1 && x === ''))
        .every((seg) => seg !== '' && seg !== '.' && seg !== '..'),
    'a relative path without empty, "." or ".." segments',
  )
  .refine((s) => !s.includes('\\'), 'must not contain a backslash')
  .transform((s) => s.replace(/\/+$/, ''));

const endpoint = plain(2048).refine((s) => {
  try {
    const u = new URL(s);
    return (
      (u.protocol === 'https:' || u.protocol === 'http:') &&
      u.username === '' &&
      u.password === '' &&
      u.hash === '' &&
      u.search === ''
    );
  } catch {
    return false;
  }
}, 'an http(s) URL without credentials, query or fragment');

export const LOCAL_CONFIG = z.strictObject({
  /** Directory under the admin-configured local root; default = the drive's name. */
  directory: plain(512)
    .refine(
      (s) => !s.startsWith('/') && s.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..'),
      'a relative path under the local drive root',
    )
    .optional(),
});
export const S3_CONFIG = z.strictObject({
  bucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name (3–63 characters of a–z, 0–9, . and -)'),
  region: z
    .string()
    .regex(/^[a-z0-9-]{2,32}$/, 'a region such as eu-west-1')
    .default('us-east-1'),
  endpoint: endpoint.optional(),
  prefix: prefix.optional(),
  pathStyle: z.boolean().optional(),
});
export const AZURE_CONFIG = z.strictObject({
  container: z
    .string()
    .regex(
      /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/,
      'an Azure container name (3–63 characters of a–z, 0–9 and single hyphens)',
    ),
  prefix: prefix.optional(),
  /** Blob service endpoint; default https://<account>.blob.core.windows.net. */
  endpoint: endpoint.optional(),
});
export const GCS_CONFIG = z.strictObject({
  bucket: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, 'a Cloud Storage bucket name'),
  prefix: prefix.optional(),
  /** JSON API endpoint (default https://storage.googleapis.com); for HMAC keys, the XML API endpoint. */
  endpoint: endpoint.optional(),
});

export const CONFIG_SCHEMAS = { local: LOCAL_CONFIG, s3: S3_CONFIG, azure: AZURE_CONFIG, gcs: GCS_CONFIG } as const;
export type DriveConfig =
  z.infer<typeof LOCAL_CONFIG> | z.infer<typeof S3_CONFIG> | z.infer<typeof AZURE_CONFIG> | z.infer<typeof GCS_CONFIG>;

export const cloudCredential = VALUE_SCHEMAS['cloud-credential'];
export type CloudCredential = z.infer<typeof cloudCredential>;

const common = {
  name: driveNameSchema,
  description: z
    .string()
    .max(1024)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters')
    .optional(),
};
const withCredentials = {
  /** Inline credentials: stored as the vault secret `drives/<name>` and never returned. */
  credentials: cloudCredential.optional(),
  /** Or: the path of an existing cloud-credential secret in this workspace. */
  credentialSecret: secretPathSchema.optional(),
};

/** A drive definition (for test and add). */
export const driveInputSchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...common, kind: z.literal('local'), config: LOCAL_CONFIG.default({}) }),
  z.strictObject({ ...common, ...withCredentials, kind: z.literal('s3'), config: S3_CONFIG }),
  z.strictObject({ ...common, ...withCredentials, kind: z.literal('azure'), config: AZURE_CONFIG }),
  z.strictObject({ ...common, ...withCredentials, kind: z.literal('gcs'), config: GCS_CONFIG }),
]);
export type DriveInput = z.infer<typeof driveInputSchema>;

/** The provider a cloud credential must name for each cloud kind. */
export const PROVIDER_OF: Record<Exclude<DriveKindName, 'local'>, 's3' | 'azure' | 'gcs'> = {
  s3: 's3',
  azure: 'azure',
  gcs: 'gcs',
};

/** The vault path where inline credentials of drive `name` are kept. */
export const credentialPathFor = (name: string) => `drives/${name}/credentials`;

/** Answers: a drive never carries a credential (no field for one). */
export const stepOut = z.object({
  id: z.string(),
  title: z.string(),
  status: z.enum(['pass', 'fail', 'warn', 'skip']),
  reason: z.string(),
  hint: z.string().optional(),
  ms: z.number().optional(),
});
export const diagnosisOut = z.object({
  ok: z.boolean(),
  code: z.string().optional(),
  steps: z.array(stepOut),
  latencyMs: z.number().optional(),
  corsSuggestion: z.unknown().optional(),
  checkedAt: z.string(),
});
export const driveOut = z.object({
  name: z.string(),
  kind: z.enum(DRIVE_KINDS),
  description: z.string(),
  config: z.record(z.string(), z.unknown()),
  credentialSecret: z.string().nullable(),
  isDefault: z.boolean(),
  status: z.enum(['unknown', 'healthy', 'failing']),
  statusCode: z.string().nullable(),
  statusCheckedAt: z.string().nullable(),
  lastTest: diagnosisOut.nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
});
export const driveParams = z.object({ ws: workspaceId, name: driveNameSchema });

export const driveAddAnswer = z.object({ drive: driveOut, diagnosis: diagnosisOut });
export const driveUsageAnswer = z.object({ versions: z.number(), bytes: z.number(), datasets: z.array(z.string()) });
export const driveHealthAnswer = z.object({
  checks: z.array(
    z.object({
      checkedAt: z.string(),
      ok: z.boolean(),
      code: z.string().nullable(),
      failedStep: z.string().nullable(),
      latencyMs: z.number().nullable(),
    }),
  ),
});
export const driveCredentialsBody = z.strictObject({ credentials: cloudCredential });
export const driveCredentialsAnswer = z.object({ drive: driveOut, diagnosis: diagnosisOut });
export const defaultDriveBody = z.strictObject({ drive: driveNameSchema });
export const defaultDriveAnswer = z.object({ defaultDrive: z.string(), previous: z.string().nullable() });
export const driveRemoveAnswer = z.object({
  name: z.string(),
  removed: z.literal(true),
  credentialsDestroyed: z.boolean(),
});
