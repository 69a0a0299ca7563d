// Applies patches/ to test-only dependencies. A production install
// (`npm ci --omit=dev`) has neither patch-package nor the patched packages,
// so there is nothing to do and nothing to fail.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

if (existsSync('node_modules/patch-package') && existsSync('node_modules/@20minutes/s3rver')) {
  const run = spawnSync(process.execPath, ['node_modules/patch-package/index.js'], { stdio: 'inherit' });
  process.exit(run.status ?? 1);
}
