import type { ColumnType, Generated } from 'kysely';

export interface SystemTables {
  system_info: {
    id: Generated<number>;
    instance_id: string;
    created_at: ColumnType<Date, string | undefined, never>;
  };
}
