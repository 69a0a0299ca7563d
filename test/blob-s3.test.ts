import { test } from 'node:test';
import { createS3Driver, type S3DriverOptions } from '../src/adapters/blob/s3.ts';
import { blobContract } from './blob-contract.ts';
import { requirePeer } from './helpers/peers.ts';
import { S3RVER_CREDENTIALS, s3rverMissing, startS3rver } from './peers/s3/s3rver.ts';

const missing = s3rverMissing();
if (missing) {
  test('blob contract: s3 (s3rver)', (t) => {
    requirePeer(t, 's3rver', false, missing);
  });
} else {
  blobContract('s3 (s3rver)', async () => {
    const peer = await startS3rver(['contract']);
    const base = (over: Partial<S3DriverOptions> = {}): S3DriverOptions => ({
      bucket: 'contract',
      region: 'us-east-1',
      endpoint: peer.endpoint,
      forcePathStyle: true,
      prefix: 'tenant-a',
      credentials: { ...S3RVER_CREDENTIALS },
      ...over,
    });
    return {
      driver: createS3Driver(base()),
      wrongCredentials: () =>
        createS3Driver(base({ credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'not-the-secret' } })),
      missingBucket: () => createS3Driver(base({ bucket: 'no-such-bucket' })),
      cleanup: () => peer.stop(),
    };
  });
}
