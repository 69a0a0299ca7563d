import type { ColumnType } from 'kysely';

/** Tables of the access module (migration 0005). Owned by src/modules/access. */
export interface AccessTables {
  /**
   * Custom Cedar policies of one workspace, written by its owners/admins. Validated against the
   * schema before insert; applied only inside `workspace_id` (see modules/access).
   */
  workspace_policies: {
    id: string;
    workspace_id: string;
    text: string;
    created_by: string;
    created_at: ColumnType<Date, string | undefined, never>;
  };
  /** The CIDR blocks a workspace's routes may be called from (migration 0024); absent = no narrowing. */
  workspace_network_allowlists: {
    workspace_id: string;
    cidrs: ColumnType<unknown, string, string>;
    updated_by: string;
    updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  };
}
