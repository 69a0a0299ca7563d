/**
 * Request and answer schemas used by more than one module, defined once. Shared by the routes,
 * the typed client (types inferred from these schemas), the CLI and the console: zod only, so it
 * runs in the browser too.
 */
import { z } from 'zod';

export const WORKSPACE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const workspaceId = z.string().regex(WORKSPACE_ID, 'a workspace id');
/** Path parameters of every workspace route. */
export const workspaceParams = z.object({ ws: workspaceId });

export const CONTROL = /[\u0000-\u001f\u007f]/;
export const datasetNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    '1–128 characters of A–Z a–z 0–9 . _ -, starting with a letter or digit',
  );
/** A version number in a path or query (`3`). */
export const versionNo = z.coerce
  .number()
  .int()
  .min(1)
  .max(2 ** 31 - 1);
export const tag = z.string().regex(/^[a-z0-9][a-z0-9._:-]{0,63}$/, 'tags are 1–64 characters of a–z 0–9 . _ : -');
/** Page size of a list (`?limit=`). */
export const pageLimit = z.coerce.number().int().min(1).max(1000).default(100);
export const userId = z.string().regex(/^[0-9a-f-]{36}$/i, 'an id');
