/** The profiling module's public face (C10): stored profiles, column tags, detection, metadata-only publishing. */
export { profilingRoutes, type ProfilingRoutesDeps } from './profiling.routes.ts';
export { createProfilingService, type ProfilingService, type VersionProfile } from './profiling.service.ts';
export { computeProfile, type ColumnProfile, type Profile } from './profiling.compute.ts';
export { classifyColumn, type Finding } from './detect/classify.ts';
