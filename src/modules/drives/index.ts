/** The drives module's public face (C7). Datasets get drivers with `open(ws, name)`. */
export { createDrivesService, type DrivesService, type DrivesDeps, type DriveView } from './drives.service.ts';
export {
  driveInputSchema,
  driveNameSchema,
  DRIVE_KINDS,
  credentialPathFor,
  type DriveInput,
  type DriveKindName,
} from '../../contracts/drives.ts';
export { type Diagnosis, type DiagnosisStep } from './drives.diagnose.ts';
export { driveFailure, BLOB_ERROR_CODES } from './drives.errors.ts';
export { drivesRoutes, type DrivesRoutesDeps } from './drives.routes.ts';
