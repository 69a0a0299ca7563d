/** Governed reads: previews, SQL, results saved as versions. Zod only. */
import { z } from 'zod';
import { tag } from './common.ts';
import { descriptionSchema, versionOut } from './datasets.ts';
import { driveNameSchema } from './drives.ts';
export { versionParams } from './datasets.ts';

/** Longest SQL text accepted. */
export const MAX_SQL_LENGTH = 100_000;

export const simulateAs = z.strictObject({
  roles: z.array(z.string().min(1).max(40)).max(20),
  attributes: z
    .record(z.string().regex(/^[a-z][a-zA-Z0-9_]{0,39}$/), z.union([z.string().max(200), z.number(), z.boolean()]))
    .default({}),
  mfa: z.boolean().default(false),
});
export const saveBody = z.strictObject({
  sql: z.string().min(1).max(MAX_SQL_LENGTH),
  format: z.enum(['csv', 'jsonl', 'parquet']).default('parquet'),
  drive: driveNameSchema.optional(),
  description: descriptionSchema.optional(),
  tags: z.array(tag).max(32).optional(),
});

export const previewQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
});
/** The body of `POST …/query`; `maxRows` is the installation's row cap. */
export const queryBody = (maxRows: number) =>
  z.strictObject({
    sql: z.string().min(1).max(MAX_SQL_LENGTH),
    limit: z.number().int().min(1).max(maxRows).optional(),
    format: z.enum(['json', 'csv', 'jsonl', 'parquet']).default('json'),
    /** Simulation (data policies): run as a hypothetical reader; stewards, admins, owners; JSON only. */
    as: simulateAs.optional(),
  });
export const savedQueryAnswer = z.object({
  dataset: z.string(),
  version: versionOut,
  rows: z.number(),
  read: z.array(z.string()),
});

export const RESULT_FILE_FORMATS = ['csv', 'jsonl', 'parquet'] as const;
export const resultFileFormat = z.enum(RESULT_FILE_FORMATS);
/** A column of a governed read: its name and DuckDB type (`BIGINT`, `VARCHAR`, `DATE`, …). */
export const resultColumnOut = z.object({ name: z.string(), type: z.string(), nullable: z.boolean().optional() });
/**
 * `GET …/datasets/:name/versions/:v/preview`: the schema and the first rows. Values are JSON:
 * 64-bit integers and decimals travel as strings (exact), dates and times as ISO text.
 */
export const datasetPreviewOut = z.object({
  dataset: z.string(),
  version: z.number(),
  format: z.string(),
  columns: z.array(resultColumnOut),
  rows: z.array(z.array(z.unknown())),
  /** Rows in the version, when known without reading it whole (null for a prefix-only preview). */
  rowCount: z.number().nullable(),
  /** Plaintext bytes decrypted to answer. */
  decryptedBytes: z.number(),
});
/** `POST …/query` with `format: 'json'`: typed columns and at most `limit` rows. */
export const queryResultOut = z.object({
  columns: z.array(resultColumnOut),
  rows: z.array(z.array(z.unknown())),
  rowCount: z.number(),
  /** More rows existed than the limit. */
  truncated: z.boolean(),
});
