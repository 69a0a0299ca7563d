/**
 * Test service-account keys for the GCS peer: the JSON Google hands out (`type`, `project_id`,
 * `private_key_id`, `private_key`, `client_email`, `token_uri`, …) with a fresh RSA-2048 key and
 * `token_uri` pointing at the peer's `POST /token`.
 *
 * ```ts
 * const key = await registerServiceAccount(peer, { buckets: { data: 'read' } });
 * new GcsDriver({ bucket: 'data', apiEndpoint: peer.url, credentials: key });
 * const stranger = serviceAccountKey(peer, { clientEmail: key.client_email }); // same email, another key
 * ```
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Access, GcsPeer } from './gcs-peer.ts';

/** A type alias, not an interface, so it fits index-signature types like `GcsServiceAccount`. */
export type ServiceAccountJson = {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
  universe_domain: string;
};

export interface TestServiceAccount {
  /** The key file's content. */
  json: ServiceAccountJson;
  /** SPKI PEM of the same key, for the peer. */
  publicKeyPem: string;
}

/** A new key (not registered anywhere). `clientEmail` defaults to a random name in the peer's project. */
export function serviceAccountKey(
  peer: Pick<GcsPeer, 'url' | 'projectId'>,
  opts: { clientEmail?: string } = {},
): TestServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const name = `sa-${randomBytes(4).toString('hex')}`;
  return {
    json: {
      type: 'service_account',
      project_id: peer.projectId,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: opts.clientEmail ?? `${name}@${peer.projectId}.iam.gserviceaccount.com`,
      client_id: String(100_000_000_000_000_000_000n + BigInt(`0x${randomBytes(6).toString('hex')}`)),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: `${peer.url}/token`,
      universe_domain: 'googleapis.com',
    },
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** A new key registered with the peer with these grants; returns the key file's content. */
export async function registerServiceAccount(
  peer: Pick<GcsPeer, 'url' | 'projectId' | 'addServiceAccount'>,
  grants: { access?: Access; buckets?: Record<string, Access>; clientEmail?: string } = {},
): Promise<ServiceAccountJson> {
  const { json, publicKeyPem } = serviceAccountKey(peer, grants.clientEmail ? { clientEmail: grants.clientEmail } : {});
  await peer.addServiceAccount({
    clientEmail: json.client_email,
    publicKeyPem,
    keyId: json.private_key_id,
    ...(grants.access ? { access: grants.access } : {}),
    ...(grants.buckets ? { buckets: grants.buckets } : {}),
  });
  return json;
}
