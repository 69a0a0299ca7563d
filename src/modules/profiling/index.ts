/** The profiling module's public face (C10, first slice): profiles and sensitive-data detection. */
export { profilingRoutes, type ProfilingRoutesDeps } from './profiling.routes.ts';
export { createProfilingService, type ProfilingService, type VersionProfile } from './profiling.service.ts';
export type { ColumnProfile, Profile } from './profiling.compute.ts';
export { classifyColumn, type Finding } from './detect/classify.ts';
