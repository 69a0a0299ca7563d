import type { ColumnType } from 'kysely';

/** Tables of the profiling module (migration 0021). Owned by src/modules/profiling. */
export interface ProfilingTables {
  /** One row per tabular version: the job's state and the stored (unrestricted, value-free) profile. */
  dataset_profiles: {
    workspace_id: string;
    dataset: string;
    version: number;
    state: 'pending' | 'running' | 'done' | 'failed';
    sha256: string | null;
    progress: ColumnType<unknown, string | undefined, string>;
    task_id: string | null;
    profile: ColumnType<unknown, string | null | undefined, string | null>;
    error: string | null;
    requested_at: ColumnType<Date, Date, Date>;
    updated_at: ColumnType<Date, Date, Date>;
    /** The server running the job (`instance:pid:boot`) and until when (migration 0036). */
    lease_owner: ColumnType<string | null, string | null | undefined, string | null>;
    lease_expires_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  };
  /** Classification tags on columns, remembered across versions. */
  column_tags: {
    workspace_id: string;
    dataset: string;
    column_name: string;
    tag: string;
    status: 'suggested' | 'confirmed' | 'rejected';
    source: 'detected' | 'steward';
    confidence: number | null;
    updated_by: string;
    updated_at: ColumnType<Date, Date, Date>;
  };
  /** Profiles published without content (metadata-only datasets), numbered per dataset. */
  published_profiles: {
    workspace_id: string;
    dataset: string;
    version: number;
    profile: ColumnType<unknown, string, never>;
    published_by: string;
    published_at: ColumnType<Date, Date, never>;
  };
}
