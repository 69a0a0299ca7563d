import type { ColumnType } from 'kysely';

/** Tables of the keys module (migration 0002). Sealed values are barrier ciphertexts. */
export interface KeysTables {
  /** One row: the keyring, sealed under the root key (never stored here). */
  keyring: {
    id: number;
    blob: Buffer;
    root_key_id: string;
    active_term: number;
    updated_at: ColumnType<Date, string | undefined, string>;
  };
  /** Per-workspace keys, barrier-sealed (row id = workspace id). Destroyed = sealed is null. */
  workspace_keys: {
    workspace_id: string;
    key_version: number;
    sealed: Buffer | null;
    created_at: ColumnType<Date, string | undefined, never>;
    destroy_requested_at: Date | null;
    destroy_token_hash: string | null;
    destroyed_at: Date | null;
    /** When the current version replaced the previous one (migration 0024); null: never rotated. */
    rotated_at: ColumnType<Date | null, string | Date | null | undefined, string | Date | null>;
  };
  /** Superseded workspace key versions, barrier-sealed (row id = `id`, "<workspace>:<version>"; migration 0024). */
  workspace_key_versions: {
    id: string;
    workspace_id: string;
    key_version: number;
    sealed: Buffer;
    superseded_at: ColumnType<Date, string | Date | undefined, never>;
  };
}
