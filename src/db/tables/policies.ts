import type { ColumnType } from 'kysely';

/** Tables of the data policies module (migration 0019). Owned by src/modules/policies. */
export interface PoliciesTables {
  /** The version in force of each data policy (one row per workspace and name). */
  data_policies: {
    workspace_id: string;
    name: string;
    version: number;
    body: ColumnType<unknown, string, string>;
    updated_by: string;
    updated_at: ColumnType<Date, string | undefined, string | undefined>;
  };
  /** Every saved version; `body` NULL records a deletion. Append-only. */
  data_policy_versions: {
    workspace_id: string;
    name: string;
    version: number;
    body: ColumnType<unknown, string | null, never>;
    changed_by: string;
    changed_at: ColumnType<Date, string | undefined, never>;
  };
  /**
   * Per-workspace keyed-hash key, barrier-sealed (row id = workspace id). Destroyed with the
   * workspace key (migration 0032): `sealed` NULL, `destroyed_at` set; the row stays as a tombstone.
   */
  data_policy_keys: {
    workspace_id: string;
    sealed: Buffer | null;
    created_at: ColumnType<Date, string | undefined, never>;
    destroyed_at: ColumnType<Date | null, Date | string | undefined, Date | string | null>;
  };
  /** A workspace's default policy for `pii.*` columns (migration 0027); `setting` is `PiiDefault`. */
  pii_policy_defaults: {
    workspace_id: string;
    setting: ColumnType<unknown, string, string>;
    updated_by: string;
    updated_at: ColumnType<Date, string | undefined, string | undefined>;
  };
}
