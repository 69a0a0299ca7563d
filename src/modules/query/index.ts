/** The query module's public face (C9 part 1): governed preview, SQL query and export. */
import { isAppError } from '../../core/errors.ts';
import type { DatasetsService } from '../datasets/index.ts';
import { createCopies } from './query.copies.ts';
import { openParser, openScratch, type EngineLimits } from './query.engine.ts';
import { createQueryService, type QueryService } from './query.service.ts';
import type { PolicyLookup } from './query.relation.ts';

export { queryRoutes, type QueryRoutesDeps } from './query.routes.ts';
export {
  readerRelation,
  type PolicyLookup,
  type ReaderRelation,
  type ReadWhy,
  type RelationPlan,
  type RelationSource,
  type Scan,
} from './query.relation.ts';
export { openParser } from './query.engine.ts';
export type { QueryService, ResultFormat } from './query.service.ts';

export interface QueryModuleOptions {
  datasets: Pick<DatasetsService, 'find' | 'versions' | 'open'>;
  scratchDir: string;
  limits: EngineLimits;
  timeoutMs: number;
  maxConcurrent: number;
  cacheBytes: number;
  policies?: PolicyLookup;
}

/**
 * Builds the query service over a private tmpfs scratch. When the scratch is not on a memory file
 * system, the service refuses every read (NOT_READY) instead of putting plaintext on disk.
 */
export async function createQueryModule(
  opts: QueryModuleOptions,
): Promise<{ service: QueryService; close: () => Promise<void> }> {
  const parser = await openParser();
  let scratch;
  try {
    scratch = await openScratch(opts.scratchDir);
  } catch (err) {
    if (!isAppError(err)) throw err;
    const refuse = async (): Promise<never> => {
      throw err;
    };
    const off = {
      queryJson: refuse,
      queryFile: refuse,
      preview: refuse,
      withRelation: refuse,
    } as unknown as QueryService;
    return { service: off, close: async () => parser.close() };
  }
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const next = chain.then(f, f);
    chain = next.catch(() => undefined);
    return next;
  };
  const copies = createCopies({
    scratch,
    limits: opts.limits,
    budgetBytes: opts.cacheBytes,
    openPlaintext: (workspaceId, name, v) => opts.datasets.open(workspaceId, name, v),
  });
  const service = createQueryService({
    datasets: opts.datasets,
    scratch,
    copies,
    parser: {
      serialize: (sql) => serial(() => parser.serialize(sql)),
      deserialize: (json) => serial(() => parser.deserialize(json)),
    },
    limits: opts.limits,
    timeoutMs: opts.timeoutMs,
    maxConcurrent: opts.maxConcurrent,
    ...(opts.policies ? { policies: opts.policies } : {}),
  });
  return {
    service,
    close: async () => {
      parser.close();
      await scratch.close();
    },
  };
}
