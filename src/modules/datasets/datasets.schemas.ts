/** Request and answer schemas shared by the dataset routes (common ones live in contracts/common.ts). */
import { z } from 'zod';
import { CONTROL, datasetNameSchema, workspaceId } from '../../contracts/common.ts';
import type { ResourceRef } from '../../core/resource.ts';
import type { Loaded } from '../../http/route.ts';
import type { DatasetRow } from './datasets.store.ts';

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

export const NO_SUCH_DATASET = 'No such dataset in this workspace.';

export const datasetRef = (workspace: string, name: string, tags: readonly string[] = []): ResourceRef => ({
  type: 'dataset',
  id: name,
  workspace,
  tags,
});

/** The loader of every dataset route: the dataset named by the path, decided on with its tags. */
export const datasetLoader =
  (find: (workspaceId: string, name: string) => Promise<DatasetRow | undefined>) =>
  async ({ params }: { params: { ws: string; name: string } }): Promise<Loaded<DatasetRow>> => {
    const row = await find(params.ws, params.name);
    return { ref: datasetRef(params.ws, params.name, row?.tags ?? []), row };
  };
