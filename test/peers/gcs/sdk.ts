/**
 * How to point the official `@google-cloud/storage` 7.22 SDK at the GCS peer.
 *
 * - `apiEndpoint: peer.url` makes JSON calls go to `/storage/v1/…`, uploads to
 *   `/upload/storage/v1/…` and downloads to `/storage/v1/…?alt=media`.
 * - A custom endpoint makes the SDK skip authentication unless `useAuthWithCustomEndpoint: true`.
 * - `authClient`: an `OAuth2Client` holding a fixed access token sends `Authorization: Bearer …`
 *   without ever calling Google's token endpoint.
 * - The resumable-upload code path (gaxios) ignores `useAuthWithCustomEndpoint` for a host that is
 *   not under googleapis.com and sends no Authorization header; a request interceptor (a public SDK
 *   option) adds it. Against the real service this does not arise.
 * - `projectId` is needed only for bucket create/list.
 */
import { Storage, type StorageOptions } from '@google-cloud/storage';
import { OAuth2Client } from 'google-auth-library';
import type { GcsPeer } from './gcs-peer.ts';

export function bearerAuthClient(token: string): OAuth2Client {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: token, token_type: 'Bearer' });
  return client;
}

export function storageOptionsForPeer(peer: Pick<GcsPeer, 'url' | 'projectId'>, token: string): StorageOptions {
  return {
    apiEndpoint: peer.url,
    projectId: peer.projectId,
    authClient: bearerAuthClient(token),
    useAuthWithCustomEndpoint: true,
    interceptors_: [
      {
        // The SDK's typing of interceptors is narrower than what it passes; the shape is { headers, … }.
        request: (opts: any) => {
          opts.headers = { ...opts.headers, Authorization: `Bearer ${token}` };
          return opts;
        },
      },
    ],
  };
}

export function storageForPeer(
  peer: Pick<GcsPeer, 'url' | 'projectId'>,
  token: string,
  extra: StorageOptions = {},
): Storage {
  return new Storage({ ...storageOptionsForPeer(peer, token), ...extra });
}
