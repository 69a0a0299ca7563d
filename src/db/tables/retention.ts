import type { ColumnType } from 'kysely';

type Int8 = ColumnType<string | number, number | string, number | string>;
type Json = ColumnType<unknown, string, string>;
type Ts = ColumnType<Date, Date | string, Date | string>;

/** Tables of the retention module (migration 0020). */
export interface RetentionTables {
  retention_classes: {
    class: string;
    days: number;
    updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  };
  legal_holds: {
    id: string;
    scope: 'workspace' | 'dataset' | 'user';
    workspace_id: string | null;
    target: string;
    reason: string;
    created_by: string;
    created_at: Ts;
    released_at: Ts | null;
    released_by: string | null;
  };
  workspace_terminations: {
    workspace_id: string;
    requested_by: string;
    requested_at: Ts;
    purge_after: Ts;
    state: 'pending' | 'cancelled' | 'purged';
    finished_at: Ts | null;
    evidence: Json | null;
  };
  audit_retention: { id: number; pruned_through: Int8; pruned_at: Ts };
}
