/**
 * The one table from a blob driver's error to the API's answer, used wherever drive bytes move
 * (dataset uploads, downloads, parts, deletions). A drive's own words go into `detail` only as
 * the driver phrased them (drivers never quote a remote body).
 */
import { PassThrough, type Readable } from 'node:stream';
import { isBlobError, type BlobErrorCode } from '../../adapters/blob/driver.ts';
import { AppError, type ErrorCode } from '../../core/errors.ts';

type DriveErrorCode = Extract<ErrorCode, `DRIVE_${string}`>;

/** Blob error code → API code. Anything not listed is a failure of the store itself. */
export const BLOB_ERROR_CODES: Record<BlobErrorCode, DriveErrorCode> = {
  AUTH_FAILED: 'DRIVE_AUTH_FAILED',
  PERMISSION_DENIED: 'DRIVE_PERMISSION_DENIED',
  BUCKET_NOT_FOUND: 'DRIVE_BUCKET_NOT_FOUND',
  // While data moves, a service that stops answering or cuts the connection is the gateway's
  // failure (502), not the caller's request (the 422 DRIVE_UNREACHABLE is the diagnosis's word).
  UNREACHABLE: 'DRIVE_ERROR',
  EGRESS_DENIED: 'DRIVE_UNREACHABLE',
  NOT_FOUND: 'DRIVE_ERROR',
  ALREADY_EXISTS: 'DRIVE_ERROR',
  PRECONDITION_FAILED: 'DRIVE_ERROR',
  INVALID_RANGE: 'DRIVE_ERROR',
  INVALID_KEY: 'DRIVE_ERROR',
  UNSUPPORTED: 'DRIVE_ERROR',
  FAILED: 'DRIVE_ERROR',
  FULL: 'DRIVE_FULL',
};

/** A drive failure as the AppError the API answers with (an AppError passes unchanged). */
export function driveFailure(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isBlobError(err))
    return new AppError(BLOB_ERROR_CODES[err.code], { detail: `The drive failed: ${err.message}.`, cause: err });
  // A local drive's write stream failing on a full disk can reach the upload's own pipeline
  // before the driver's put has turned it into FULL: the same answer either way.
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  if (errno === 'ENOSPC' || errno === 'EDQUOT')
    return new AppError('DRIVE_FULL', { detail: 'The drive failed: the drive is full.', cause: err });
  return new AppError('DRIVE_ERROR', { detail: 'The drive failed to store the data.', cause: err });
}

/**
 * A drive's download stream whose failures (a connection cut or a truncated answer, whatever the
 * driver's SDK calls it) surface as the API's drive problem, never as an internal error.
 */
export function driveReadable(body: Readable): Readable {
  const out = new PassThrough();
  body.on('error', (err) =>
    out.destroy(
      err instanceof AppError || isBlobError(err)
        ? driveFailure(err)
        : new AppError('DRIVE_ERROR', { detail: 'The drive stopped sending the data.', cause: err }),
    ),
  );
  out.on('close', () => body.destroy());
  return body.pipe(out);
}
