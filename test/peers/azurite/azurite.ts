/**
 * Azure Blob test peer: Azurite's blob service in a child process on 127.0.0.1, port 0, in-memory,
 * always with --disableTelemetry. Uses Azurite's well-known development account.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnPeer } from '../spawn-peer.ts';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
/** Azurite's published development key (not a secret). */
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const BIN = fileURLToPath(new URL('../../../node_modules/.bin/azurite-blob', import.meta.url));

export interface AzuritePeer {
  /** Blob endpoint, e.g. http://127.0.0.1:PORT/devstoreaccount1 */
  blobEndpoint: string;
  connectionString: string;
  stop(): Promise<void>;
}

export function azuriteMissing(): string | undefined {
  return existsSync(BIN) ? undefined : 'azurite is not installed (npm ci installs it as a dev dependency)';
}

export async function startAzurite(): Promise<AzuritePeer> {
  const location = await mkdtemp(path.join(tmpdir(), 'sr-azurite-'));
  const peer = await spawnPeer(
    'azurite',
    BIN,
    [
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--inMemoryPersistence',
      '--disableTelemetry',
      '--silent',
      '--skipApiVersionCheck',
    ],
    (line) => {
      const m = /listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      return m ? Number(m[1]) : undefined;
    },
    { cwd: location },
  );
  const blobEndpoint = `http://127.0.0.1:${peer.port}/${AZURITE_ACCOUNT}`;
  return {
    blobEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
    stop: async () => {
      await peer.stop();
      await rm(location, { recursive: true, force: true });
    },
  };
}
