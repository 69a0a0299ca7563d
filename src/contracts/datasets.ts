/** The datasets module's request and answer schemas (C8): versions, uploads, listings. Zod only. */
import { z } from 'zod';
import { CONTROL, datasetNameSchema, pageLimit, tag, versionNo, workspaceId } from './common.ts';
import { driveNameSchema } from './drives.ts';

export const filenameSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => !CONTROL.test(s) && !/[/\\]/.test(s), 'a file name without path or control characters');
export const mediaTypeSchema = z
  .string()
  .regex(/^[a-z0-9!#$&^_.+-]{1,64}\/[a-z0-9!#$&^_.+-]{1,64}$/i, 'a media type such as text/csv');
export const descriptionSchema = z
  .string()
  .max(4096)
  .refine((s) => !CONTROL.test(s), 'no control characters');
export const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'a hex SHA-256');

export const datasetParams = z.object({ ws: workspaceId, name: datasetNameSchema });

export const versionOut = z.object({
  version: z.number(),
  size: z.number(),
  sha256: z.string(),
  drive: z.string(),
  mediaType: z.string(),
  filename: z.string().nullable(),
  tabularFormat: z.string().nullable(),
  schema: z.unknown(),
  createdBy: z.string(),
  createdAt: z.string(),
  committedAt: z.string(),
});
/** The answer to every way of creating a version (raw upload, form, completed session). */
export const createdOut = z.object({
  dataset: z.string(),
  version: versionOut,
  /** The previous version when it holds the very same bytes (same SHA-256): an identical re-upload. */
  identicalTo: z.number().optional(),
});

export const datasetOut = z.object({
  name: z.string(),
  description: z.string(),
  tags: z.array(z.string()),
  owner: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Holds profiles published without content (`strongroom profile --publish`); takes no uploads. */
  metadataOnly: z.boolean().optional(),
});
export const versionParams = datasetParams.extend({ v: versionNo });
export const deletedOut = z.object({ dataset: z.string(), deleted: z.array(z.number()) });
export const patchBody = z
  .strictObject({
    description: descriptionSchema.optional(),
    tags: z.array(tag).max(32).optional(),
    /** Names of the data policies a tag removal lifts from this dataset, acknowledged (data policies). */
    liftPolicies: z.array(z.string().max(63)).max(100).optional(),
  })
  .refine((b) => b.description !== undefined || b.tags !== undefined, 'give description, tags or both');

export const sessionId = z.string().regex(/^up_[0-9a-f]{32}$/, 'an upload id (up_…)');
export const sessionParams = datasetParams.extend({ id: sessionId });
export const sessionOut = z.object({
  id: z.string(),
  dataset: z.string(),
  version: z.number(),
  drive: z.string(),
  size: z.number(),
  partSize: z.number(),
  partCount: z.number(),
  received: z.array(z.number()),
  expiresAt: z.string(),
});
export const one = <T extends z.ZodTypeAny>(s: T) =>
  z
    .array(s)
    .max(1)
    .transform((a) => a[0]);
export const formFields = z.strictObject({
  drive: one(driveNameSchema).optional(),
  size: one(z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER)).optional(),
  sha256: one(sha256Schema).optional(),
  filename: one(filenameSchema).optional(),
  mediaType: one(mediaTypeSchema).optional(),
  description: one(descriptionSchema).optional(),
  tag: z.array(tag).max(32).optional(),
});

/** The query of a raw upload (`PUT …/versions`, the file as body). */
export const rawUploadQuery = z.strictObject({
  drive: driveNameSchema.optional(),
  size: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  sha256: sha256Schema.optional(),
  filename: filenameSchema.optional(),
  mediaType: mediaTypeSchema.optional(),
  description: descriptionSchema.optional(),
  tag: z.union([tag, z.array(tag).max(32)]).optional(),
});

/** Upload parts: a whole number of 64 KiB segments (the object format's), at most 16 MiB, at most 10 000 of them. */
export const MIN_PART_SIZE = 64 * 1024;
/** Largest part: it is held in memory while it is sealed. */
export const MAX_PART_SIZE = 16 * 1024 * 1024;
export const MAX_PARTS = 10_000;

/** The body of `POST …/datasets/:name/uploads`: a resumable upload session. */
export const uploadSessionBody = z.strictObject({
  size: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  partSize: z.number().int().min(MIN_PART_SIZE).max(MAX_PART_SIZE).multipleOf(MIN_PART_SIZE).optional(),
  sha256: sha256Schema.optional(),
  drive: driveNameSchema.optional(),
  filename: filenameSchema.optional(),
  mediaType: mediaTypeSchema.optional(),
  description: descriptionSchema.optional(),
  tags: z.array(tag).max(32).optional(),
});

/**
 * The list's `tag` filter: repeatable and/or comma-separated, at most 16 values, each a tag
 * (`pii.email`) or a prefix (`pii` = `pii` itself or any `pii.*`). Parsed into the list of values.
 */
export const tagFilter = z
  .union([z.string().max(1100), z.array(z.string().max(1100)).max(16)])
  .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()))
  .pipe(z.array(tag).min(1).max(16));

export const datasetListQuery = z.strictObject({
  search: z
    .string()
    .max(128)
    .refine((s) => !CONTROL.test(s))
    .optional(),
  tag: tagFilter.optional(),
  after: datasetNameSchema.optional(),
  limit: pageLimit,
});
export const datasetListAnswer = z.object({
  datasets: z.array(
    datasetOut.extend({
      latestVersion: z.number().nullable(),
      versions: z.number(),
      bytes: z.number(),
      /** Suggested or confirmed column tags of the columns the caller may see (no data policy hides them). */
      sensitiveTags: z.array(z.string()),
    }),
  ),
  next: z.string().nullable(),
});

export const uploadPartAnswer = z.object({ part: z.number(), size: z.number(), alreadyStored: z.boolean() });

/** `GET …/datasets/:name`: the dataset and its committed versions. */
export const datasetDetailOut = datasetOut.extend({ versions: z.array(versionOut) });
