/** The datasets module's public face (C8). */
export {
  createDatasetsService,
  versionView,
  type DatasetsService,
  type DatasetsDeps,
  type UploadHandle,
  type UploadResult,
  type VersionView,
} from './datasets.service.ts';
export { detectTabular, type Detected, type ColumnInfo } from './datasets.detect.ts';
export { exportDataKeys, type KeyExport, type KeyExportEntry } from './datasets.export.ts';
export {
  createUploadSessions,
  DEFAULT_PART_SIZE,
  MAX_PART_SIZE,
  MIN_PART_SIZE,
  MAX_PARTS,
  type UploadSessions,
  type UploadSessionView,
} from './datasets.uploads.ts';
export { createLeaseHolder, type LeaseHolder } from './datasets.leases.ts';
export { datasetsRoutes, type DatasetsRoutesDeps } from './datasets.routes.ts';
export { datasetUploadRoutes, type DatasetUploadRoutesDeps } from './datasets.uploads.routes.ts';
