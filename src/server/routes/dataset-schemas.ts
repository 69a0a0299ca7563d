/** Request and response schemas shared by the dataset routes. */
import { z } from 'zod';

export const ws = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a workspace id');
export const datasetNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, '1–128 characters of A–Z a–z 0–9 . _ -, starting with a letter or digit');
export const versionNo = z.coerce.number().int().min(1).max(2 ** 31 - 1);
export const CONTROL = /[\u0000-\u001f\u007f]/;
export const tag = z.string().regex(/^[a-z0-9][a-z0-9._:-]{0,63}$/, 'tags are 1–64 characters of a–z 0–9 . _ : -');

export const filenameSchema = z.string().min(1).max(255).refine((s) => !CONTROL.test(s) && !/[/\\]/.test(s), 'a file name without path or control characters');
export const mediaTypeSchema = z.string().regex(/^[a-z0-9!#$&^_.+-]{1,64}\/[a-z0-9!#$&^_.+-]{1,64}$/i, 'a media type such as text/csv');
export const descriptionSchema = z.string().max(4096).refine((s) => !CONTROL.test(s), 'no control characters');

export const versionOut = z.object({
  version: z.number(), size: z.number(), sha256: z.string(), drive: z.string(), mediaType: z.string(), filename: z.string().nullable(),
  tabularFormat: z.string().nullable(), schema: z.unknown(), createdBy: z.string(), createdAt: z.string(), committedAt: z.string(),
});
