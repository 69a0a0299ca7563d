/**
 * Drive failures while data moves (found by `npm run reliability -- drive-faults`): a storage
 * service that cannot be reached or cuts the connection is a 502 problem, and an error raised by a
 * driver's download stream (Azure's SDK raises a bare AbortError on a truncated answer) surfaces
 * as that problem, never as a 500.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { BlobError } from '../src/adapters/blob/driver.ts';
import { AppError } from '../src/core/errors.ts';
import { driveFailure, driveReadable } from '../src/modules/drives/index.ts';

test('an unreachable service during a data operation is DRIVE_ERROR (502), not a 422', () => {
  const e = driveFailure(new BlobError('UNREACHABLE', 'the storage service could not be reached'));
  assert.equal(e.code, 'DRIVE_ERROR');
  assert.equal(e.status, 502);
  assert.equal(e.detail, 'The drive failed: the storage service could not be reached.');
});

test('a download stream cut by the SDK surfaces as DRIVE_ERROR', async () => {
  const source = new Readable({ read() {} });
  source.push(Buffer.from('half of '));
  setImmediate(() => source.destroy(Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' })));
  const err = await pipeline(driveReadable(source), new Writable({ write: (_c, _e, cb) => cb() })).then(
    () => undefined,
    (x: unknown) => x,
  );
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, 'DRIVE_ERROR');
  assert.equal(err.detail, 'The drive stopped sending the data.');
});

test('a driver error in the stream keeps its own code', async () => {
  const source = new Readable({ read() {} });
  setImmediate(() => source.destroy(new BlobError('AUTH_FAILED', 'the service rejected the key')));
  const err = await pipeline(driveReadable(source), new Writable({ write: (_c, _e, cb) => cb() })).then(
    () => undefined,
    (x: unknown) => x,
  );
  assert.ok(err instanceof AppError);
  assert.equal(err.code, 'DRIVE_AUTH_FAILED');
});

test('a full drive is DRIVE_FULL (507)', () => {
  const e = driveFailure(new BlobError('FULL', 'the drive is full'));
  assert.equal(e.code, 'DRIVE_FULL');
  assert.equal(e.status, 507);
});

test('a raw ENOSPC that reaches an upload before the driver named it is DRIVE_FULL too (reliability disk-full, seed 23)', () => {
  const e = driveFailure(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
  assert.equal(e.code, 'DRIVE_FULL');
  assert.equal(e.status, 507);
  assert.equal(driveFailure(Object.assign(new Error('EIO'), { code: 'EIO' })).code, 'DRIVE_ERROR');
});
