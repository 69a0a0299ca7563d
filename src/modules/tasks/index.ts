/** The tasks module's public face: task runs and their encrypted logs on the system drive. Invariants: NOTES.md. */
export {
  createTaskLogs,
  redactEntry,
  SYSTEM_OBJECT_SCOPE,
  type TaskLogs,
  type TaskLogsDeps,
  type TaskRun,
} from './tasks.service.ts';
export { tasksRoutes, type TasksRoutesDeps } from './tasks.routes.ts';
export type { TaskRow } from './tasks.store.ts';
export { claimPeriod, finishPeriod, periodStart } from './tasks.slots.store.ts';
