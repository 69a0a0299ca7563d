import type { ColumnType, Generated } from 'kysely';

/** bigint columns: `pg` returns text, PGlite a number; stores convert with `Number()`. */
type Int8 = ColumnType<string | number, number | string | undefined, number | string>;
type Json = ColumnType<unknown, string, string>;
type Ts = ColumnType<Date, string | Date, string | Date>;
type TsNull = ColumnType<Date | null, string | Date | null | undefined, string | Date | null>;

/** Tables of migration 0016: posture results (modules/posture), SIEM positions (modules/audit), task runs (modules/tasks). */
export interface PostureTables {
  posture_results: {
    id: Generated<string>;
    run_id: string;
    scope: string;
    control_id: string;
    status: 'pass' | 'warn' | 'fail';
    summary: string;
    evidence: Json;
    checked_at: Ts;
  };
  task_runs: {
    id: string;
    kind: string;
    status: 'running' | 'succeeded' | 'failed';
    started_at: Ts;
    finished_at: TsNull;
    updated_at: Ts;
    progress: ColumnType<unknown, string | undefined, string>;
    entries: ColumnType<number, number | undefined, number>;
    drive: string;
    object_key: string | null;
    object_id: string | null;
    sealed_dek: Buffer | null;
    /** The workspace the task ran for; null: the installation's (migration 0024). */
    workspace_id: ColumnType<string | null, string | null | undefined, string | null>;
  };
  audit_stream_positions: {
    sink: string;
    seq: Int8;
    delivered_at: TsNull;
    last_error: string | null;
    updated_at: ColumnType<Date, string | Date | undefined, string | Date>;
  };
}
