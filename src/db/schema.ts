/**
 * Kysely table types, one file per owner under `tables/`. SQL is snake_case; the Kysely edge uses
 * the same names (no camel-case plugin) so a query reads like the SQL it produces.
 */
import type { AccessTables } from './tables/access.ts';
import type { DrivesTables } from './tables/drives.ts';
import type { DatasetsTables } from './tables/datasets.ts';
import type { AuditTables } from './tables/audit.ts';
import type { IdentityTables } from './tables/identity.ts';
import type { KeysTables } from './tables/keys.ts';
import type { PostureTables } from './tables/posture.ts';
import type { SsoTables } from './tables/sso.ts';
import type { SystemTables } from './tables/system.ts';
import type { VaultTables } from './tables/vault.ts';
import type { BackupsTables } from './tables/backups.ts';
import type { RetentionTables } from './tables/retention.ts';
import type { PoliciesTables } from './tables/policies.ts';
import type { ProfilingTables } from './tables/profiling.ts';

export interface Database
  extends
    SystemTables,
    KeysTables,
    AuditTables,
    IdentityTables,
    AccessTables,
    VaultTables,
    DrivesTables,
    DatasetsTables,
    BackupsTables,
    PostureTables,
    SsoTables,
    RetentionTables,
    PoliciesTables,
    ProfilingTables {}
