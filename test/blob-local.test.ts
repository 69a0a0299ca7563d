import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLocalDriver } from '../src/adapters/blob/local.ts';
import { blobContract } from './blob-contract.ts';

blobContract('local directory', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sr-blob-local-'));
  return {
    driver: createLocalDriver({ root: dir }),
    missingBucket: () => createLocalDriver({ root: path.join(dir, 'no-such-directory') }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
