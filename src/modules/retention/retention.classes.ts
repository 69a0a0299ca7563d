/**
 * Retention classes: how long each kind of data is kept, with the documented defaults (C12).
 * Backups have their own rotation and maximum age (`backup_settings.max_age_days`), shown here
 * as a class but set through the backups module; sessions, tokens and setup tokens expire as
 * they always did.
 */
import { z } from 'zod';

export const RETENTION_DEFAULTS = {
  /** Audit events in the database (PCI DSS asks for at least 12 months); the export keeps them. */
  audit: 365,
  /** Task logs under `<home>/logs/tasks`. */
  'task-logs': 365,
  /** Grace period of a terminated workspace before its key is destroyed. */
  'terminated-workspaces': 60,
} as const;

export type RetentionClass = keyof typeof RETENTION_DEFAULTS;
export const RETENTION_CLASSES = Object.keys(RETENTION_DEFAULTS) as RetentionClass[];

const days = z.number().int().min(1).max(36500);
export const classesUpdateSchema = z.strictObject({
  audit: days.optional(),
  'task-logs': days.optional(),
  'terminated-workspaces': days.optional(),
});
export type ClassesUpdate = z.infer<typeof classesUpdateSchema>;
