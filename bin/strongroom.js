#!/usr/bin/env node
// The `strongroom` command. Runs the JavaScript build (`npm run build:server`, dist/server/) when
// it is fresh; otherwise the TypeScript sources through tsx's loader (no build step needed).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshServerBuild } from './server-build.js';

const built = process.env.STRONGROOM_NO_BUILD
  ? undefined
  : freshServerBuild(path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
if (built !== undefined) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/strongroom.ts');
}
