/**
 * Kysely table types. SQL is snake_case; the Kysely edge uses the same names (no camel-case
 * plugin) so a query reads like the SQL it produces.
 */
import type { ColumnType, Generated } from 'kysely';

export interface SystemInfoTable {
  id: Generated<number>;
  instance_id: string;
  created_at: ColumnType<Date, string | undefined, never>;
}

export interface Database {
  system_info: SystemInfoTable;
}
