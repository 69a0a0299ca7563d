import type { ColumnType } from 'kysely';

type Int8 = ColumnType<string | number, number | string, number | string>;
type Json = ColumnType<unknown, string, string>;
type Ts = ColumnType<Date, Date | string, Date | string>;

/** Tables of the backups module (migrations 0015, 0034). */
export interface BackupsTables {
  backup_targets: {
    name: string;
    workspace_id: string;
    drive: string;
    prefix: string;
    created_at: ColumnType<Date, string | undefined, never>;
    /** Copy dataset ciphertext objects here too (migration 0034). */
    copy_objects: ColumnType<boolean, boolean | undefined, boolean>;
  };
  /** Dataset versions whose ciphertext object is copied to a target (migration 0034). */
  backup_object_copies: {
    target: string;
    workspace_id: string;
    dataset: string;
    version: number;
    object_id: string;
    source_drive: string;
    source_key: string;
    source_etag: string | null;
    size: Int8;
    sha256: string;
    copy_key: string;
    copied_at: Ts;
    gone_at: Ts | null;
  };
  backups: {
    id: string;
    target: string;
    trigger: 'manual' | 'scheduled' | 'pre-migration';
    state: 'running' | 'complete' | 'failed' | 'deleted';
    created_at: Ts;
    completed_at: Ts | null;
    size: Int8 | null;
    sha256: string | null;
    manifest: Json | null;
    error: string | null;
    lease_owner: string | null;
    lease_expires_at: Ts | null;
    verified_at: Ts | null;
    verify_ok: boolean | null;
    verify_ms: number | null;
    verify_error: string | null;
    deleted_at: Ts | null;
  };
  backup_settings: {
    id: number;
    schedule_hour_utc: number;
    drill_weekday: number;
    keep_daily: number;
    keep_weekly: number;
    keep_monthly: number;
    max_age_days: number;
    objective_hours: number;
    recovery_key_sealed: Buffer | null;
    recovery_key_exported_at: Ts | null;
    ledger_key_sealed: Buffer | null;
  };
  shred_ledger: {
    workspace_id: string;
    key_version: number;
    destroyed_at: Ts;
    mac: string | null;
  };
  maintenance_jobs: {
    id: string;
    kind: string;
    run_at: Ts;
    state: 'pending' | 'running' | 'done' | 'failed';
    attempts: ColumnType<number, number | undefined, number>;
    lease_owner: string | null;
    lease_expires_at: Ts | null;
    result: Json | null;
    finished_at: Ts | null;
  };
}
