import type { ColumnType } from 'kysely';

type Created = ColumnType<Date, string | Date | undefined, never>;
type Ts = ColumnType<Date, string | Date | undefined, string | Date>;
type TsNull = ColumnType<Date | null, string | Date | null | undefined, string | Date | null>;
/** bigint columns come back as strings from pg and numbers from PGlite; writes take numbers. */
type Big = ColumnType<string | number | null, number | null | undefined, number | null>;

export type VersionState = 'uploading' | 'committed' | 'deleting';
export type TabularFormat = 'csv' | 'jsonl' | 'parquet';

/** Tables of the datasets module (migration 0008). Data keys exist only wrapped. */
export interface DatasetsTables {
  datasets: {
    workspace_id: string;
    name: string;
    description: ColumnType<string, string | undefined, string>;
    tags: ColumnType<string[], string | undefined, string>;
    owner: string | null;
    created_by: string;
    created_at: Created;
    updated_at: Ts;
    /** Holds published profiles only (migration 0027): uploads are refused. */
    metadata_only: ColumnType<boolean, boolean | undefined, boolean>;
  };
  dataset_versions: {
    workspace_id: string;
    dataset: string;
    version: number;
    state: VersionState;
    drive: string;
    object_key: string;
    object_id: string;
    key_term: number;
    wrapped_dek: Buffer;
    header: Buffer | null;
    plain_size: Big;
    stored_size: Big;
    sha256: string | null;
    media_type: ColumnType<string, string | undefined, string>;
    filename: string | null;
    tabular_format: TabularFormat | null;
    schema: ColumnType<unknown, string | null | undefined, string | null>;
    created_by: string;
    created_at: Created;
    committed_at: TsNull;
    /** Streamed uploads: the owning process (`instance:pid:boot`) and until when it holds the row (migration 0010). */
    lease_owner: ColumnType<string | null, string | null | undefined, string | null>;
    lease_expires_at: TsNull;
  };
  dataset_uploads: {
    id: string;
    workspace_id: string;
    dataset: string;
    version: number;
    size: Big;
    part_size: number;
    expected_sha256: string | null;
    created_by: string;
    created_at: Created;
    expires_at: Ts;
  };
  dataset_upload_parts: {
    upload_id: string;
    part: number;
    plain_sha256: Buffer;
    stored_size: Big;
    stored_at: TsNull;
  };
}
