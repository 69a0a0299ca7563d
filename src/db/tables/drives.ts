import type { ColumnType } from 'kysely';

type Created = ColumnType<Date, string | Date | undefined, never>;
type Ts = ColumnType<Date, string | Date | undefined, string | Date>;
type TsNull = ColumnType<Date | null, string | Date | null | undefined, string | Date | null>;

import type { DriveKindName } from '../../contracts/drives.ts';
export { DRIVE_KINDS, type DriveKindName } from '../../contracts/drives.ts';
export type DriveStatus = 'unknown' | 'healthy' | 'failing';

/** Tables of the drives module (migrations 0007, 0012). No credential is stored here. */
export interface DrivesTables {
  drives: {
    workspace_id: string;
    name: string;
    kind: DriveKindName;
    description: ColumnType<string, string | undefined, string>;
    config: ColumnType<Record<string, unknown>, string, string>;
    credential_path: string | null;
    is_default: ColumnType<boolean, boolean | undefined, boolean>;
    status: ColumnType<DriveStatus, DriveStatus | undefined, DriveStatus>;
    status_code: string | null;
    status_checked_at: TsNull;
    last_test: ColumnType<unknown, string | null | undefined, string | null>;
    created_by: string;
    created_at: Created;
    updated_at: Ts;
  };
  drive_checks: {
    id: ColumnType<string, never, never>;
    workspace_id: string;
    drive: string;
    checked_at: Created;
    ok: boolean;
    code: string | null;
    failed_step: string | null;
    latency_ms: number | null;
  };
}
