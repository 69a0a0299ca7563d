/**
 * Profiles of tabular dataset versions, computed on demand through the reader's relation (the
 * governed read path of the query module), so a profile never shows more than the reader's own
 * preview or query could. Nothing is stored: a profile depends on who reads it (policies apply
 * at the relation), and a stored copy would be one more place a value could leak.
 */
import type { Actor } from '../../core/actor.ts';
import type { QueryService } from '../query/index.ts';
import { computeProfile, type Profile } from './profiling.compute.ts';

export interface ProfilingDeps {
  query: Pick<QueryService, 'withRelation'>;
  /** Statistics over fewer values than this are suppressed. */
  k: number;
}

export interface VersionProfile extends Profile {
  dataset: string;
  version: number;
  format: string;
}

export function createProfilingService(deps: ProfilingDeps) {
  return {
    /**
     * The profile of `name@v{version}` as `actor` sees it. `includeValues`: whether the caller may
     * read rows of the dataset; without it no raw value (min/max/quantiles/top values) is returned.
     */
    async profile(
      actor: Actor,
      ws: string,
      name: string,
      version: number,
      opts: { includeValues: boolean; signal?: AbortSignal },
    ): Promise<VersionProfile> {
      return deps.query.withRelation(actor, ws, name, version, { signal: opts.signal }, async (conn, rel, v) => {
        const p = await computeProfile(conn, rel, { k: deps.k, includeValues: opts.includeValues });
        return { dataset: name, version: v.version, format: v.format, ...p };
      });
    },
  };
}

export type ProfilingService = ReturnType<typeof createProfilingService>;
