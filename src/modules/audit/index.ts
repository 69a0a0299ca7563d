/**
 * The audit module's public face: everything other modules, the server and the CLI may use.
 * Invariants: NOTES.md.
 */
export { createAuditModule, type AuditModule, type AuditModuleDeps } from './audit.service.ts';
export type { AuditEventInput } from '../../core/audit/event.ts';
export { auditRoutes, type AuditRoutesDeps } from './audit.routes.ts';
export { csvCell, toCsv, toJsonLines, MAX_LIMIT, type SearchPage, type SearchQuery } from './audit.search.ts';
export { formatProblem } from './audit.verify.ts';
export { exportDir } from './audit.export.ts';
export type { AuditKeys } from './audit.keys.ts';
export type { Executor } from './audit.store.ts';
export { createAuditStreamer, SinkError, type AuditSink, type AuditStreamer, type SinkLag } from './audit.stream.ts';
export { syslogSink, webhookSink, webhookSignature, syslogMessage } from './audit.sinks.ts';
export { prunablePoint, pruneExtent, pruneThrough, prunedStart, type PruneEvidence } from './audit.retention.ts';
