/**
 * S3 test peer: the s3rver fork (checks SigV4, so a wrong secret really fails), in a child
 * process on 127.0.0.1, port 0, with a temp directory removed on stop.
 * Credentials: access key id `S3RVER`, secret `S3RVER`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnPeer } from '../spawn-peer.ts';

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3Peer {
  endpoint: string;
  /** Where the peer keeps its objects (scanned for plaintext by tests). */
  directory: string;
  stop(): Promise<void>;
}

export function s3rverMissing(): string | undefined {
  try {
    createRequire(import.meta.url).resolve('@20minutes/s3rver');
    return undefined;
  } catch {
    return '@20minutes/s3rver is not installed (npm ci installs it as a dev dependency)';
  }
}

export async function startS3rver(buckets: string[]): Promise<S3Peer> {
  const directory = await mkdtemp(path.join(tmpdir(), 'sr-s3rver-'));
  const main = fileURLToPath(new URL('./s3rver-main.cjs', import.meta.url));
  const peer = await spawnPeer(
    's3rver',
    process.execPath,
    ['--openssl-legacy-provider', main, JSON.stringify({ directory, buckets })],
    (line) => {
      const m = /^\{"port":(\d+)\}$/.exec(line);
      return m ? Number(m[1]) : undefined;
    },
  );
  return {
    endpoint: `http://127.0.0.1:${peer.port}`,
    directory,
    stop: async () => {
      await peer.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
