/**
 * The system drive — where Strongroom keeps its own objects (encrypted task logs) — and the task
 * logs on it. `local`: a local blob driver on the data directory (objects under
 * `<home>/logs/tasks/`); `<workspace>/<drive>`: that mounted drive (S3, Azure, GCS), opened through
 * the drives module (credentials from the vault, endpoint through the egress guard).
 */
import type { Config } from '../core/config.ts';
import type { Barrier } from '../core/crypto/barrier.ts';
import type { DatabaseHandle } from '../db/database.ts';
import { createLocalDriver } from '../adapters/blob/local.ts';
import type { AuditModule } from '../modules/audit/index.ts';
import type { DrivesService } from '../modules/drives/index.ts';
import { createTaskLogs, type TaskLogs } from '../modules/tasks/index.ts';

export function buildTaskLogs(
  config: Readonly<Config>,
  d: { database: DatabaseHandle; barrier: Barrier; drives: DrivesService; audit: AuditModule; now?: () => Date },
): TaskLogs {
  const setting = config.STRONGROOM_SYSTEM_DRIVE;
  const systemDrive =
    setting === 'local'
      ? { label: 'local', open: async () => createLocalDriver({ root: config.STRONGROOM_HOME }) }
      : {
          label: setting,
          open: () => {
            const [workspaceId, name] = setting.split('/') as [string, string];
            return d.drives.open(workspaceId, name);
          },
        };
  return createTaskLogs({
    db: d.database.db,
    barrier: d.barrier,
    systemDrive,
    recordEvent: (input) => d.audit.recordCommitted(input),
    ...(d.now ? { clock: d.now } : {}),
  });
}
