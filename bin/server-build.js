// Where the JavaScript build of the `strongroom` command lives and whether it may be run: only
// when its stamp is newer than every file under src/ and than package-lock.json (an edit or a
// dependency change since the build falls back to the TypeScript sources).
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export const SERVER_BUILD_DIR = 'dist/server';

function newest(dir) {
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return max;
}

/** The build's entry point if the build is fresh, else undefined. Never throws. */
export function freshServerBuild(root) {
  try {
    const out = path.join(root, SERVER_BUILD_DIR);
    const built = statSync(path.join(out, 'built.json')).mtimeMs;
    const sources = Math.max(newest(path.join(root, 'src')), statSync(path.join(root, 'package-lock.json')).mtimeMs);
    return built > sources ? path.join(out, 'strongroom.mjs') : undefined;
  } catch {
    return undefined;
  }
}

export const serverBuildIsFresh = (root) => freshServerBuild(root) !== undefined;
