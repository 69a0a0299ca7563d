import { test } from 'node:test';
import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { createAzureDriver } from '../src/adapters/blob/azure.ts';
import { blobContract } from './blob-contract.ts';
import { requirePeer } from './helpers/peers.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, azuriteMissing, startAzurite } from './peers/azurite/azurite.ts';

const missing = azuriteMissing();
if (missing) {
  test('blob contract: azure (azurite)', (t) => {
    requirePeer(t, 'azurite', false, missing);
  });
} else {
  blobContract('azure (azurite)', async () => {
    const peer = await startAzurite();
    try {
      await BlobServiceClient.fromConnectionString(peer.connectionString).getContainerClient('contract').create();
      const sas = generateBlobSASQueryParameters(
        {
          containerName: 'contract',
          permissions: ContainerSASPermissions.parse('rl'),
          expiresOn: new Date(Date.now() + 3_600_000),
        },
        new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
      ).toString();
      return {
        driver: createAzureDriver({
          container: 'contract',
          prefix: 'tenant-a',
          auth: { kind: 'connection-string', connectionString: peer.connectionString },
        }),
        wrongCredentials: () =>
          createAzureDriver({
            container: 'contract',
            prefix: 'tenant-a',
            auth: {
              kind: 'account-key',
              accountName: AZURITE_ACCOUNT,
              accountKey: Buffer.alloc(64, 7).toString('base64'),
              endpoint: peer.blobEndpoint,
            },
          }),
        missingBucket: () =>
          createAzureDriver({
            container: 'no-such-container',
            auth: {
              kind: 'account-key',
              accountName: AZURITE_ACCOUNT,
              accountKey: AZURITE_KEY,
              endpoint: peer.blobEndpoint,
            },
          }),
        readOnly: () =>
          createAzureDriver({
            container: 'contract',
            prefix: 'tenant-a',
            auth: { kind: 'sas-url', url: `${peer.blobEndpoint}/contract?${sas}` },
          }),
        cleanup: () => peer.stop(),
      };
    } catch (err) {
      await peer.stop();
      throw err;
    }
  });
}
