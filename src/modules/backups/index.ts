/** The backups module's public face (C11). Invariants: NOTES.md. */
export { createBackupsService, LEDGER_FOLDER, type BackupsService, type BackupsDeps } from './backups.service.ts';
export { backupsRoutes } from './backups.routes.ts';
export { planRotation, DEFAULT_ROTATION, type RotationPolicy, type RotationItem } from './backups.rotation.ts';
export { restoreInstallation, type RestoreInput, type RestoreReport } from './backups.restore.ts';
export { manifestSchema, type Manifest } from './backups.manifest.ts';
export { createBackupScheduler, plannedTimes, type SchedulerDeps } from './backups.schedule.ts';
export { backupsControls, DRILL_MAX_AGE_HOURS, type BackupsStatus } from './backups.controls.ts';
export { backupPhases, restorePhases, PhaseLog } from './backups.phases.ts';
