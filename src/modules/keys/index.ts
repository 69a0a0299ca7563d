/** The keys module's public face. Invariants: NOTES.md. */
export {
  createKeysService,
  type KeysService,
  type KeysState,
  type KeysStatus,
  type RewrapProgress,
  type InTransaction,
  type KeyChangeTx,
} from './keys.service.ts';
export {
  createWorkspaceKeys,
  RETIRE_GRACE_MS,
  type WorkspaceKeys,
  type WorkspaceKeyStatus,
  type WorkspaceRewrapProgress,
} from './workspace-keys.ts';
export { SEALED_COLUMNS, type SealedColumn } from './sealed-columns.ts';
export {
  openTaskLog,
  runRewrapTask,
  runWorkspaceRewrapTask,
  rotateFileRootKey,
  recoverRootKeyRotation,
  type TaskLog,
  type OpenTaskLog,
} from './keys.tasks.ts';
export {
  keysRoutes,
  unsealRoutes,
  UNSEAL_RATE_LIMIT,
  type KeysRoutesDeps,
  type UnsealRoutesDeps,
} from './keys.routes.ts';
export {
  wrapBackupKey,
  unwrapBackupKey,
  manifestMac,
  macEquals,
  createBackupSecret,
  resealKeyringBlob,
  ledgerMac,
  type BackupKeyWrap,
} from './backup-keys.ts';
export {
  rotateIfDue,
  rotateWorkspaceKeysIfDue,
  type ScheduleDeps,
  type ScheduleOutcome,
  type RotationEvent,
  type WorkspaceScheduleDeps,
  type WorkspaceScheduleOutcome,
} from './keys.schedule.ts';
