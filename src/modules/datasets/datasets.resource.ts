/** The resource every dataset route decides on (its schemas are in src/contracts/datasets.ts). */
import type { ResourceRef } from '../../core/resource.ts';
import type { Loaded } from '../../http/route.ts';
import type { DatasetRow } from './datasets.store.ts';

export const NO_SUCH_DATASET = 'No such dataset in this workspace.';

export const datasetRef = (workspaceId: string, name: string, tags: readonly string[] = []): ResourceRef => ({
  type: 'dataset',
  id: name,
  workspace: workspaceId,
  tags,
});

/** The loader of every dataset route: the dataset named by the path, decided on with its tags. */
export const datasetLoader =
  (find: (workspaceId: string, name: string) => Promise<DatasetRow | undefined>) =>
  async ({ params }: { params: { ws: string; name: string } }): Promise<Loaded<DatasetRow>> => {
    const row = await find(params.ws, params.name);
    return { ref: datasetRef(params.ws, params.name, row?.tags ?? []), row };
  };
