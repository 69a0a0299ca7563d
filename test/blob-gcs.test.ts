/**
 * The blob contract against the GCS peer, twice: with a fixed bearer token (an `authClient`), and
 * with service-account keys — the production path: `createGcsDriver` signs a JWT, the peer's token
 * endpoint verifies it and issues a token with that account's grants.
 */
import { createGcsDriver, GcsDriver, type GcsDriverOptions } from '../src/adapters/blob/gcs.ts';
import { blobContract } from './blob-contract.ts';
import { startGcsPeer } from './peers/gcs/gcs-peer.ts';
import { bearerAuthClient } from './peers/gcs/sdk.ts';
import { registerServiceAccount, serviceAccountKey } from './peers/gcs/service-account.ts';

const BUCKET = 'contract';

blobContract('gcs (GCS peer, bearer token)', async () => {
  const peer = await startGcsPeer({ buckets: [BUCKET], tokens: [{ token: 'reader', buckets: { [BUCKET]: 'read' } }] });
  const open = (over: Partial<GcsDriverOptions> & { token?: string } = {}): GcsDriver => {
    const { token, ...rest } = over;
    return new GcsDriver({
      bucket: BUCKET,
      prefix: 'tenant-a/',
      apiEndpoint: peer.url,
      authClient: bearerAuthClient(token ?? peer.adminToken),
      ...rest,
    });
  };
  return {
    driver: open(),
    wrongCredentials: () => open({ token: 'not-a-token' }),
    missingBucket: () => open({ bucket: 'no-such-bucket' }),
    readOnly: () => open({ token: 'reader' }),
    cleanup: () => peer.stop(),
  };
});

blobContract('gcs (GCS peer, service-account key)', async () => {
  const peer = await startGcsPeer({ buckets: [BUCKET] });
  try {
    const writer = await registerServiceAccount(peer, { access: 'write' });
    const reader = await registerServiceAccount(peer, { buckets: { [BUCKET]: 'read' } });
    // The writer's email with a key the peer never saw: the token endpoint answers invalid_grant.
    const forged = serviceAccountKey(peer, { clientEmail: writer.client_email }).json;
    const base = { bucket: BUCKET, prefix: 'tenant-a/', apiEndpoint: peer.url };
    return {
      driver: createGcsDriver({ ...base, serviceAccount: writer }),
      wrongCredentials: () => createGcsDriver({ ...base, serviceAccount: forged }),
      missingBucket: () => createGcsDriver({ ...base, bucket: 'no-such-bucket', serviceAccount: writer }),
      readOnly: () => createGcsDriver({ ...base, serviceAccount: reader }),
      cleanup: () => peer.stop(),
    };
  } catch (err) {
    await peer.stop();
    throw err;
  }
});
