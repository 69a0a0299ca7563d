import { GcsDriver, type GcsDriverOptions } from '../src/adapters/blob/gcs.ts';
import { blobContract } from './blob-contract.ts';
import { startGcsPeer } from './peers/gcs/gcs-peer.ts';
import { bearerAuthClient } from './peers/gcs/sdk.ts';

blobContract('gcs (project GCS peer)', async () => {
  const peer = await startGcsPeer({ buckets: ['contract'], tokens: [{ token: 'read-only', buckets: { contract: 'read' } }] });
  const make = (over: Partial<GcsDriverOptions> & { token?: string } = {}) => {
    const { token, ...rest } = over;
    return new GcsDriver({
      bucket: 'contract',
      prefix: 'tenant-a/',
      apiEndpoint: peer.url,
      authClient: bearerAuthClient(token ?? peer.adminToken),
      minPartSize: 256 * 1024,
      maxRetries: 0,
      ...rest,
    });
  };
  return {
    driver: make(),
    wrongCredentials: () => make({ token: 'not-a-token' }),
    missingBucket: () => make({ bucket: 'no-such-bucket' }),
    readOnly: () => make({ token: 'read-only' }),
    cleanup: () => peer.stop(),
  };
});
