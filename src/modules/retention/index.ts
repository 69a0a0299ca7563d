/**
 * The retention module's public face. Invariants: NOTES.md.
 */
export { createRetentionService, type RetentionService, type PurgeReport } from './retention.service.ts';
export { retentionRoutes } from './retention.routes.ts';
export { createRetentionScheduler, nextPurgeTime } from './retention.schedule.ts';
export { RETENTION_DEFAULTS, RETENTION_CLASSES, type RetentionClass } from './retention.classes.ts';
export { retentionControls, type RetentionPostureDeps } from './retention.controls.ts';
